//! Split execution, as ONNX Runtime's execution providers and TFLite's delegates do it on devices: the nodes the
//! first backend's support table accepts run on it, the rest on the second, in partitions (sub-models) passed host
//! tensors in between. `wonnx+tract` is the GPU with a CPU fallback.
//!
//! Loading: tract infers the type and shape of every value for the feed; the model gets them as `value_info` (what
//! wonnx needs); the first backend's check marks the nodes it cannot run; a greedy topological schedule groups the
//! nodes into as few partitions as it can (it stays on a backend while any node for it is ready); each partition is
//! saved as its own model (only the opset imports its nodes use) and loaded on its backend. A partition for the first
//! backend must load there and agree with the second backend on one seeded trial feed; one that does not (wonnx
//! panics on some, computes others wrong) falls back to the second, and the part's note says why. Integer outputs
//! a backend returns in another width (wonnx: int64 as int32) are converted to the model's type between partitions.

use edgebench_backend_api::{
    Availability, Backend, BackendError, HostTensor, InputSpec, NodeTime, OpProfile, Part, Session,
};
use edgebench_compat::SupportTable;
use edgebench_graph::stats::ShapeMap;
use edgebench_graph::{AttrValue, DataType, Dim, Graph, Model, ValueInfo, ValueType};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

type Facts = HashMap<String, (DataType, Vec<u64>)>;

/// A backend made of two: `first` where its table allows, `second` for the rest.
pub struct Split {
    name: &'static str,
    first: Arc<dyn Backend>,
    second: Arc<dyn Backend>,
    /// Infers types and shapes (tract).
    oracle: Box<dyn Backend>,
    table: Arc<SupportTable>,
}

impl Split {
    /// `name` is the registry name, e.g. `wonnx+tract`; `table` is `first`'s support table.
    pub fn new(
        name: &'static str,
        first: Box<dyn Backend>,
        second: Box<dyn Backend>,
        oracle: Box<dyn Backend>,
        table: SupportTable,
    ) -> Split {
        Split {
            name,
            first: Arc::from(first),
            second: Arc::from(second),
            oracle,
            table: Arc::new(table),
        }
    }
}

fn load_err(backend: &str, message: impl Into<String>) -> BackendError {
    BackendError::Load {
        backend: backend.into(),
        message: message.into(),
    }
}

impl Backend for Split {
    fn name(&self) -> &'static str {
        self.name
    }
    /// The second backend's: every node the first cannot take, and every boundary copy, runs there.
    fn device(&self) -> edgebench_backend_api::Device {
        self.second.device()
    }

    fn availability(&self) -> Availability {
        match (self.first.availability(), self.second.availability()) {
            (
                Availability::Available { version: a, .. },
                Availability::Available { version: b, .. },
            ) => Availability::Available {
                version: format!("{} {a} + {} {b}", self.first.name(), self.second.name()),
                details: vec![(
                    "split".into(),
                    format!(
                        "nodes {}'s support table accepts run on it, the rest on {}",
                        self.first.name(),
                        self.second.name()
                    ),
                )],
            },
            (Availability::Unavailable { reason }, _) => Availability::Unavailable {
                reason: format!("{} is not available: {reason}", self.first.name()),
            },
            (_, Availability::Unavailable { reason }) => Availability::Unavailable {
                reason: format!("{} is not available: {reason}", self.second.name()),
            },
        }
    }

    /// Time per backend's partitions and, as a row of its own, the boundaries between them (the host copies and
    /// conversions): the parts' own per-node times are their backends' profiles.
    fn profile(
        &self,
        path: &Path,
        inputs: &[InputSpec],
        feed: &[(String, HostTensor)],
        warmup: usize,
        runs: usize,
    ) -> Result<OpProfile, BackendError> {
        let mut s = self.load(path, inputs)?;
        for _ in 0..warmup.max(1) {
            s.run(feed)?;
        }
        let mut last = s.parts();
        let mut rows: Vec<NodeTime> = last
            .iter()
            .map(|p| NodeTime {
                name: format!(
                    "{} partition(s) on {} ({} nodes)",
                    p.partitions, p.backend, p.nodes
                ),
                op: "partition".into(),
                onnx: vec![],
                us: vec![],
                provider: None,
            })
            .collect();
        let mut boundary = vec![];
        let mut run_us = vec![];
        for _ in 0..runs {
            let t = std::time::Instant::now();
            s.run(feed)?;
            let total = t.elapsed().as_secs_f64() * 1e6;
            let now = s.parts();
            let mut inside = 0.0;
            for (k, (a, b)) in now.iter().zip(&last).enumerate() {
                let d = (a.seconds - b.seconds) * 1e6;
                inside += d;
                if let Some(r) = rows.get_mut(k) {
                    r.us.push(d);
                }
            }
            boundary.push((total - inside).max(0.0));
            run_us.push(total);
            last = now;
        }
        rows.push(NodeTime {
            name: "boundaries (copies and conversions between the backends)".into(),
            op: "boundary".into(),
            onnx: vec![],
            us: boundary,
            provider: None,
        });
        Ok(OpProfile {
            run_us,
            nodes: rows,
            notes: vec![format!(
                "{}: time per backend's partitions and at their boundaries; the nodes inside each part are in \
                 that backend's own profile",
                self.name
            )],
            ..Default::default()
        })
    }

    fn load(&self, path: &Path, inputs: &[InputSpec]) -> Result<Box<dyn Session>, BackendError> {
        let err = |m: String| load_err(self.name, m);
        let model = edgebench_graph::load(path).map_err(|e| err(e.to_string()))?;
        let plan = Planner {
            name: self.name,
            first: self.first.clone(),
            second: self.second.clone(),
            table: self.table.clone(),
        };
        match self.oracle.infer_facts(path, inputs) {
            Some(Ok(facts)) => Ok(Box::new(plan.prepare(&model, facts, inputs)?)),
            // The oracle cannot analyse it (tract on silero's If): the first run observes every value's type and
            // shape on the second backend with the real feed, then partitions (part of the cold start).
            other => Ok(Box::new(Lazy {
                plan,
                model,
                inputs: inputs.to_vec(),
                oracle_error: match other {
                    Some(Err(e)) => format!("{}: {e}", self.oracle.name()),
                    _ => format!("{} cannot infer shapes", self.oracle.name()),
                },
                ready: None,
            })),
        }
    }
}

/// What partitioning needs, shareable with a session that partitions on its first run.
struct Planner {
    name: &'static str,
    first: Arc<dyn Backend>,
    second: Arc<dyn Backend>,
    table: Arc<SupportTable>,
}

/// A split session that partitions on its first run (when the oracle could not infer the model's shapes).
struct Lazy {
    plan: Planner,
    model: Model,
    inputs: Vec<InputSpec>,
    oracle_error: String,
    ready: Option<SplitSession>,
}

impl Session for Lazy {
    fn run(
        &mut self,
        feed: &[(String, HostTensor)],
    ) -> Result<Vec<(String, HostTensor)>, BackendError> {
        if self.ready.is_none() {
            let facts = observed_facts(&self.model, self.plan.second.as_ref(), &self.inputs, feed)
                .map_err(|e| {
                    load_err(
                        self.plan.name,
                        format!(
                            "split execution needs the type and shape of every value: {}; {e}",
                            self.oracle_error
                        ),
                    )
                })?;
            self.ready = Some(self.plan.prepare(&self.model, facts, &self.inputs)?);
        }
        match &mut self.ready {
            Some(s) => s.run(feed),
            None => unreachable!("prepared above"),
        }
    }
    fn parts(&self) -> Vec<Part> {
        self.ready.as_ref().map(|s| s.parts()).unwrap_or_default()
    }
}

impl Planner {
    /// Partitions `model` with the types and shapes in `facts` and loads every partition.
    fn prepare(
        &self,
        model: &Model,
        facts: Facts,
        inputs: &[InputSpec],
    ) -> Result<SplitSession, BackendError> {
        let err = |m: String| load_err(self.name, m);
        let mut facts = facts;
        for s in inputs {
            facts.insert(
                s.name.clone(),
                (s.dtype, s.shape.iter().map(|d| *d as u64).collect()),
            );
        }
        let simplified = edgebench_rewrite::simplify(&model, Some(&facts));
        let model = annotate(&simplified, &facts);
        let on_first = accepted(&model, &self.table);
        let segments = schedule(&model.graph, &on_first);
        let dir = tempfile::tempdir().map_err(|e| err(e.to_string()))?;
        let mut parts = vec![];
        let mut notes: Vec<String> = vec![];
        let bounds = boundaries(&model.graph, &segments);
        for (k, (seg, (ins, outs))) in segments.iter().zip(&bounds).enumerate() {
            let mut sub = sub_model(&model, &seg.nodes, ins, outs, &facts);
            if !seg.first {
                // The second backend gets the model's own value_info: pinning every shape can make a backend's
                // inference walk an If branch not taken with shapes that do not fit it (ONNX Runtime on silero).
                let produced: HashSet<&str> = sub
                    .graph
                    .nodes
                    .iter()
                    .flat_map(|n| n.outputs.iter().map(|o| o.as_str()))
                    .collect();
                let keep: Vec<ValueInfo> = simplified
                    .graph
                    .value_info
                    .iter()
                    .filter(|v| produced.contains(v.name.as_str()) && !outs.contains(&v.name))
                    .cloned()
                    .collect();
                sub.graph.value_info = keep;
                for v in &mut sub.graph.inputs {
                    if let Some(orig) = simplified.graph.inputs.iter().find(|o| o.name == v.name) {
                        *v = orig.clone();
                    }
                }
            }
            let file = dir.path().join(format!("part{k}.onnx"));
            edgebench_graph::save(&sub, &file).map_err(|e| err(e.to_string()))?;
            // A debugging aid: keep the partitions (`EDGEBENCH_SPLIT_DUMP=DIR`).
            if let Some(d) = std::env::var_os("EDGEBENCH_SPLIT_DUMP") {
                let _ = std::fs::create_dir_all(&d);
                let _ = std::fs::copy(&file, Path::new(&d).join(format!("part{k}.onnx")));
            }
            let specs: Vec<InputSpec> = ins
                .iter()
                .map(|v| {
                    let (dtype, shape) = facts.get(v).cloned().ok_or_else(|| {
                        err(format!(
                            "no type and shape for `{v}`, which crosses partitions"
                        ))
                    })?;
                    Ok(InputSpec {
                        name: v.clone(),
                        dtype,
                        shape: shape.iter().map(|d| *d as usize).collect(),
                    })
                })
                .collect::<Result<_, BackendError>>()?;
            let (mut which, mut session) = (seg.first, None);
            if seg.first {
                // A partition must load on the first backend and agree with the second on one seeded feed, or it
                // falls back (wonnx panics on some partitions and computes others wrong).
                match self
                    .first
                    .load(&file, &specs)
                    .map_err(|e| e.to_string())
                    .and_then(|mut s| {
                        let feed = trial_feed(&specs, k as u64);
                        let got = s.run(&feed).map_err(|e| e.to_string())?;
                        let mut r = self.second.load(&file, &specs).map_err(|e| e.to_string())?;
                        let want = r.run(&feed).map_err(|e| e.to_string())?;
                        agrees(&got, &want, &facts)?;
                        Ok(s)
                    }) {
                    Ok(s) => session = Some(s),
                    Err(e) => {
                        notes.push(format!(
                            "partition {k} ({} nodes) fell back: {}: {e}",
                            seg.nodes.len(),
                            self.first.name()
                        ));
                        which = false;
                    }
                }
            }
            let session = match session {
                Some(s) => s,
                None => self
                    .second
                    .load(&file, &specs)
                    .map_err(|e| err(format!("partition {k} on {}: {e}", self.second.name())))?,
            };
            tracing::debug!(
                "partition {k} on {}: {} nodes ({}), inputs {:?}, outputs {:?}",
                if which {
                    self.first.name()
                } else {
                    self.second.name()
                },
                seg.nodes.len(),
                seg.nodes
                    .iter()
                    .map(|i| model.graph.nodes[*i].op_type.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                ins,
                outs
            );
            parts.push(Partition {
                first: which,
                nodes: seg.nodes.len(),
                session,
                inputs: ins.clone(),
                outputs: outs.clone(),
                dtypes: outs.iter().map(|o| facts.get(o).map(|f| f.0)).collect(),
            });
        }
        Ok(SplitSession {
            names: [self.first.name(), self.second.name()],
            outputs: model.graph.outputs.iter().map(|o| o.name.clone()).collect(),
            parts,
            seconds: [0.0, 0.0],
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        })
    }
}

/// A seeded trial feed: floats uniform in [-1, 1), integers in 0..=3 (small enough to be valid indices, varied
/// enough to expose integer arithmetic a backend gets wrong).
fn trial_feed(specs: &[InputSpec], seed: u64) -> Vec<(String, HostTensor)> {
    use edgebench_backend_api::Data;
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    zeros(specs)
        .into_iter()
        .map(|(n, mut t)| {
            match &mut t.data {
                Data::F32(v) => v.iter_mut().for_each(|x| *x = next() as f32),
                Data::F64(v) => v.iter_mut().for_each(|x| *x = next()),
                Data::F16(v) => v.iter_mut().for_each(|x| *x = half::f16::from_f64(next())),
                Data::I64(v) => v
                    .iter_mut()
                    .for_each(|x| *x = ((next() + 1.0) * 2.0) as i64),
                Data::I32(v) => v
                    .iter_mut()
                    .for_each(|x| *x = ((next() + 1.0) * 2.0) as i32),
                _ => {}
            }
            (n, t)
        })
        .collect()
}

/// Outputs of a first-backend partition against the second's, after dtype coercion: the agreement tolerance.
fn agrees(
    got: &[(String, HostTensor)],
    want: &[(String, HostTensor)],
    facts: &Facts,
) -> Result<(), String> {
    for (name, w) in want {
        let g = got
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| coerce(t.clone(), facts.get(name).map(|f| f.0)))
            .ok_or_else(|| format!("no output `{name}`"))?;
        let a =
            edgebench_backend_api::compare(&g, w).map_err(|e| format!("output `{name}`: {e}"))?;
        let ok = edgebench_backend_api::Tolerance::VERIFIED.holds(&a);
        if !ok {
            return Err(format!(
                "output `{name}` differs from {} on a trial feed (max abs {:.2e}, cosine {:.6})",
                "the second backend", a.max_abs_error, a.cosine_similarity
            ));
        }
    }
    Ok(())
}

/// A tensor in the type the model says the value has, when a backend handed back another integer width (wonnx
/// returns int64 values as int32).
fn coerce(t: HostTensor, want: Option<DataType>) -> HostTensor {
    use edgebench_backend_api::Data;
    match (t.data, want) {
        (Data::I32(v), Some(DataType::Int64)) => HostTensor {
            shape: t.shape,
            data: Data::I64(v.into_iter().map(i64::from).collect()),
        },
        (Data::I64(v), Some(DataType::Int32)) => HostTensor {
            shape: t.shape,
            data: Data::I32(v.into_iter().map(|x| x as i32).collect()),
        },
        (data, _) => HostTensor {
            shape: t.shape,
            data,
        },
    }
}

/// Zero-filled tensors for specs.
fn zeros(specs: &[InputSpec]) -> Vec<(String, HostTensor)> {
    use edgebench_backend_api::Data;
    specs
        .iter()
        .map(|s| {
            let n: usize = s.shape.iter().product();
            let data = match s.dtype {
                DataType::Double => Data::F64(vec![0.0; n]),
                DataType::Float16 => Data::F16(vec![half::f16::ZERO; n]),
                DataType::Int64 => Data::I64(vec![0; n]),
                DataType::Int32 => Data::I32(vec![0; n]),
                DataType::Int16 => Data::I16(vec![0; n]),
                DataType::Int8 => Data::I8(vec![0; n]),
                DataType::Uint8 => Data::U8(vec![0; n]),
                DataType::Bool => Data::Bool(vec![false; n]),
                _ => Data::F32(vec![0.0; n]),
            };
            (
                s.name.clone(),
                HostTensor {
                    shape: s.shape.clone(),
                    data,
                },
            )
        })
        .collect()
}

/// Types and shapes of every main-graph value, read off one run of `feed` on `backend` with all of them as outputs.
fn observed_facts(
    model: &Model,
    backend: &dyn Backend,
    inputs: &[InputSpec],
    feed: &[(String, HostTensor)],
) -> Result<Facts, String> {
    let mut m = model.clone();
    let have: HashSet<String> = m.graph.outputs.iter().map(|o| o.name.clone()).collect();
    let extra: Vec<String> = m
        .graph
        .nodes
        .iter()
        .flat_map(|n| n.outputs.iter())
        .filter(|o| !o.is_empty() && !have.contains(*o))
        .cloned()
        .collect();
    m.graph.outputs.extend(extra.iter().map(|v| ValueInfo {
        name: v.clone(),
        ty: None,
        doc_string: String::new(),
        metadata: vec![],
    }));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("observe.onnx");
    edgebench_graph::save(&m, &file).map_err(|e| e.to_string())?;
    let mut s = backend.load(&file, inputs).map_err(|e| e.to_string())?;
    let outs = s.run(feed).map_err(|e| e.to_string())?;
    let mut facts: Facts = outs
        .into_iter()
        .map(|(n, t)| (n, (t.dtype(), t.shape.iter().map(|d| *d as u64).collect())))
        .collect();
    for t in &model.graph.initializers {
        facts.insert(
            t.name().to_string(),
            (t.dtype(), t.dims().iter().map(|d| *d as u64).collect()),
        );
    }
    Ok(facts)
}

/// The model with every value's inferred type and shape written as `value_info`, inputs and outputs pinned.
fn annotate(model: &Model, facts: &Facts) -> Model {
    let vi = |name: &str, old: Option<&ValueInfo>| -> Option<ValueInfo> {
        let (dt, shape) = facts.get(name)?;
        Some(ValueInfo {
            name: name.to_string(),
            ty: Some(ValueType::Tensor {
                dtype: *dt,
                shape: Some(shape.iter().map(|d| Dim::Value(*d as i64)).collect()),
            }),
            doc_string: old.map(|o| o.doc_string.clone()).unwrap_or_default(),
            metadata: vec![],
        })
    };
    let mut m = model.clone();
    let g = &mut m.graph;
    for v in g.inputs.iter_mut().chain(g.outputs.iter_mut()) {
        if let Some(x) = vi(&v.name, Some(v)) {
            *v = x;
        }
    }
    let declared: HashSet<String> = g
        .inputs
        .iter()
        .chain(&g.outputs)
        .map(|v| v.name.clone())
        .chain(g.initializers.iter().map(|t| t.name().to_string()))
        .collect();
    let used: HashSet<&str> = g
        .nodes
        .iter()
        .flat_map(|n| n.inputs.iter().map(|s| s.as_str()))
        .collect();
    g.value_info = g
        .nodes
        .iter()
        .flat_map(|n| n.outputs.iter())
        .filter(|o| !o.is_empty() && !declared.contains(*o) && used.contains(o.as_str()))
        .filter_map(|o| vi(o, None))
        .collect();
    m
}

/// Which main-graph nodes the first backend's table accepts (a node holding a subgraph with a blocked node is
/// blocked; model-level findings such as unknown opset imports are left to the partitions, which import only what
/// their nodes use).
fn accepted(model: &Model, table: &SupportTable) -> Vec<bool> {
    let shapes = ShapeMap::from_model(model, &HashMap::new());
    let c = edgebench_compat::check(model, table, &shapes);
    let mut blocked: HashSet<String> = HashSet::new();
    for b in c.not_supported() {
        if b.graph == "main" {
            blocked.insert(b.node.clone());
        } else if let Some(top) = b.graph.split('.').next() {
            blocked.insert(top.to_string());
        }
    }
    model
        .graph
        .nodes
        .iter()
        .map(|n| !blocked.contains(&n.name) && !(n.name.is_empty() && blocked.contains("")))
        .collect()
}

/// One partition of the schedule.
#[derive(Debug, PartialEq)]
struct Segment {
    first: bool,
    nodes: Vec<usize>,
}

/// Names a node reads, including outer-scope values its subgraphs read.
fn reads(n: &edgebench_graph::Node) -> Vec<String> {
    let mut out: Vec<String> = n.inputs.iter().filter(|s| !s.is_empty()).cloned().collect();
    for (_, g) in n.subgraphs() {
        outer_reads(g, &mut out);
    }
    out
}

fn outer_reads(g: &Graph, out: &mut Vec<String>) {
    let mut defined: HashSet<String> = g.inputs.iter().map(|v| v.name.clone()).collect();
    defined.extend(g.initializers.iter().map(|t| t.name().to_string()));
    for n in &g.nodes {
        let mut r = vec![];
        r.extend(n.inputs.iter().filter(|s| !s.is_empty()).cloned());
        for (_, sub) in n.subgraphs() {
            outer_reads(sub, &mut r);
        }
        out.extend(r.into_iter().filter(|v| !defined.contains(v)));
        defined.extend(n.outputs.iter().cloned());
    }
}

/// Groups nodes into partitions: a topological order that stays on the current backend while any node for it is
/// ready, switching only when none is.
fn schedule(g: &Graph, on_first: &[bool]) -> Vec<Segment> {
    let producer = g.producers();
    let deps: Vec<HashSet<usize>> = g
        .nodes
        .iter()
        .map(|n| {
            reads(n)
                .iter()
                .filter_map(|v| producer.get(v.as_str()).copied())
                .collect()
        })
        .collect();
    let mut done = vec![false; g.nodes.len()];
    let mut segments: Vec<Segment> = vec![];
    let mut current = on_first.first().copied().unwrap_or(true);
    let mut left = g.nodes.len();
    while left > 0 {
        let ready: Vec<usize> = (0..g.nodes.len())
            .filter(|i| !done[*i] && deps[*i].iter().all(|d| done[*d]))
            .collect();
        let pick: Vec<usize> = ready
            .iter()
            .copied()
            .filter(|i| on_first[*i] == current)
            .collect();
        if pick.is_empty() {
            if ready.is_empty() {
                break; // a cycle: the model's own validation reports it
            }
            current = !current;
            continue;
        }
        match segments.last_mut() {
            Some(s) if s.first == current => s.nodes.extend(&pick),
            _ => segments.push(Segment {
                first: current,
                nodes: pick.clone(),
            }),
        }
        for i in pick {
            done[i] = true;
            left -= 1;
        }
    }
    segments
}

/// Each partition's inputs (values it reads that earlier partitions or the graph provide) and outputs (values it
/// produces that later partitions or the graph's outputs read).
fn boundaries(g: &Graph, segments: &[Segment]) -> Vec<(Vec<String>, Vec<String>)> {
    let inits: HashSet<&str> = g.initializers.iter().map(|t| t.name()).collect();
    let graph_outputs: HashSet<&str> = g.outputs.iter().map(|o| o.name.as_str()).collect();
    let produced: Vec<HashSet<String>> = segments
        .iter()
        .map(|s| {
            s.nodes
                .iter()
                .flat_map(|i| {
                    g.nodes[*i]
                        .outputs
                        .iter()
                        .filter(|o| !o.is_empty())
                        .cloned()
                })
                .collect()
        })
        .collect();
    let read: Vec<Vec<String>> = segments
        .iter()
        .map(|s| {
            let mut seen = HashSet::new();
            s.nodes
                .iter()
                .flat_map(|i| reads(&g.nodes[*i]))
                .filter(|v| seen.insert(v.clone()))
                .collect()
        })
        .collect();
    (0..segments.len())
        .map(|k| {
            let ins: Vec<String> = read[k]
                .iter()
                .filter(|v| !produced[k].contains(*v) && !inits.contains(v.as_str()))
                .cloned()
                .collect();
            let mut outs: Vec<String> = segments[k]
                .nodes
                .iter()
                .flat_map(|i| g.nodes[*i].outputs.iter())
                .filter(|o| {
                    !o.is_empty()
                        && (graph_outputs.contains(o.as_str())
                            || read[k + 1..].iter().any(|r| r.contains(o)))
                })
                .cloned()
                .collect();
            outs.dedup();
            (ins, outs)
        })
        .collect()
}

/// A partition as a model of its own: its nodes, the initializers they read, typed inputs and outputs, and the
/// opset imports its nodes use.
fn sub_model(m: &Model, nodes: &[usize], ins: &[String], outs: &[String], facts: &Facts) -> Model {
    let typed = |v: &String| -> ValueInfo {
        let ty = facts.get(v).map(|(dt, shape)| ValueType::Tensor {
            dtype: *dt,
            shape: Some(shape.iter().map(|d| Dim::Value(*d as i64)).collect()),
        });
        ValueInfo {
            name: v.clone(),
            ty,
            doc_string: String::new(),
            metadata: vec![],
        }
    };
    let mut s = m.clone();
    let g = &mut s.graph;
    g.nodes = nodes.iter().map(|i| m.graph.nodes[*i].clone()).collect();
    let used: HashSet<String> = g.nodes.iter().flat_map(reads).collect();
    g.initializers.retain(|t| used.contains(t.name()));
    let init_names: HashSet<String> = g
        .initializers
        .iter()
        .map(|t| t.name().to_string())
        .collect();
    g.inputs = ins.iter().map(typed).collect();
    // Initializers listed as graph inputs (older IR versions) stay listed.
    g.inputs.extend(
        m.graph
            .inputs
            .iter()
            .filter(|v| init_names.contains(&v.name))
            .cloned(),
    );
    g.outputs = outs.iter().map(typed).collect();
    let produced: HashSet<&str> = g
        .nodes
        .iter()
        .flat_map(|n| n.outputs.iter().map(|o| o.as_str()))
        .collect();
    g.value_info
        .retain(|v| produced.contains(v.name.as_str()) && !outs.contains(&v.name));
    let mut domains: HashSet<String> = HashSet::from([String::new()]);
    fn collect(g: &Graph, d: &mut HashSet<String>) {
        for n in &g.nodes {
            d.insert(if n.domain == "ai.onnx" {
                String::new()
            } else {
                n.domain.clone()
            });
            for a in &n.attributes {
                match &a.value {
                    AttrValue::Graph(sub) => collect(sub, d),
                    AttrValue::Graphs(subs) => subs.iter().for_each(|x| collect(x, d)),
                    _ => {}
                }
            }
        }
    }
    collect(g, &mut domains);
    s.opset_imports.retain(|d, _| domains.contains(d));
    s
}

/// One loaded partition.
struct Partition {
    first: bool,
    nodes: usize,
    session: Box<dyn Session>,
    inputs: Vec<String>,
    outputs: Vec<String>,
    /// The model's type of each output (a backend's own may differ: [`coerce`]).
    dtypes: Vec<Option<DataType>>,
}

struct SplitSession {
    names: [&'static str; 2],
    outputs: Vec<String>,
    parts: Vec<Partition>,
    seconds: [f64; 2],
    note: Option<String>,
}

impl Session for SplitSession {
    fn run(
        &mut self,
        feed: &[(String, HostTensor)],
    ) -> Result<Vec<(String, HostTensor)>, BackendError> {
        let mut values: HashMap<String, HostTensor> = feed.iter().cloned().collect();
        for p in &mut self.parts {
            let ins: Vec<(String, HostTensor)> = p
                .inputs
                .iter()
                .map(|v| {
                    values
                        .get(v)
                        .map(|t| (v.clone(), t.clone()))
                        .ok_or_else(|| BackendError::Run {
                            backend: format!("{}+{}", self.names[0], self.names[1]),
                            message: format!("value `{v}` is missing between partitions"),
                        })
                })
                .collect::<Result<_, _>>()?;
            let t = Instant::now();
            let outs = p.session.run(&ins)?;
            self.seconds[usize::from(!p.first)] += t.elapsed().as_secs_f64();
            for (n, t) in outs {
                if let Some(i) = p.outputs.iter().position(|o| *o == n) {
                    let t = coerce(t, p.dtypes[i]);
                    values.insert(n, t);
                }
            }
        }
        self.outputs
            .iter()
            .map(|o| {
                values
                    .remove(o)
                    .map(|t| (o.clone(), t))
                    .ok_or_else(|| BackendError::Run {
                        backend: format!("{}+{}", self.names[0], self.names[1]),
                        message: format!("no partition produced output `{o}`"),
                    })
            })
            .collect()
    }

    fn parts(&self) -> Vec<Part> {
        (0..2)
            .map(|b| {
                let mine: Vec<&Partition> =
                    self.parts.iter().filter(|p| p.first == (b == 0)).collect();
                Part {
                    backend: self.names[b].to_string(),
                    partitions: mine.len(),
                    nodes: mine.iter().map(|p| p.nodes).sum(),
                    seconds: self.seconds[b],
                    note: if b == 1 { self.note.clone() } else { None },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_graph::Node;

    fn n(name: &str, ins: &[&str], outs: &[&str]) -> Node {
        Node {
            name: name.into(),
            op_type: "Relu".into(),
            inputs: ins.iter().map(|s| s.to_string()).collect(),
            outputs: outs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_schedule_stays_on_a_backend_while_it_can() {
        // a(first) -> b(second) -> d(first); c(first) reads a only: it joins a's partition, not a third one.
        let g = Graph {
            nodes: vec![
                n("a", &["x"], &["va"]),
                n("b", &["va"], &["vb"]),
                n("c", &["va"], &["vc"]),
                n("d", &["vb", "vc"], &["y"]),
            ],
            outputs: vec![ValueInfo {
                name: "y".into(),
                ty: None,
                doc_string: String::new(),
                metadata: vec![],
            }],
            ..Default::default()
        };
        let s = schedule(&g, &[true, false, true, true]);
        assert_eq!(
            s,
            vec![
                Segment {
                    first: true,
                    nodes: vec![0, 2]
                },
                Segment {
                    first: false,
                    nodes: vec![1]
                },
                Segment {
                    first: true,
                    nodes: vec![3]
                },
            ]
        );
        let b = boundaries(&g, &s);
        assert_eq!(
            b[0],
            (
                vec!["x".to_string()],
                vec!["va".to_string(), "vc".to_string()]
            )
        );
        assert_eq!(b[1], (vec!["va".to_string()], vec!["vb".to_string()]));
        assert_eq!(
            b[2],
            (
                vec!["vb".to_string(), "vc".to_string()],
                vec!["y".to_string()]
            )
        );
    }
}
