//! Per-op profiles: a backend's raw profile ([`edgebench_backend_api::OpProfile`]) mapped onto the ONNX graph and
//! joined with each node's FLOPs, bytes, the machine's roofs and the backend's support verdict.
//!
//! Mapping: a backend row that carries an ONNX node's name (tract: the plan nodes it lowered the node into) is that
//! node's *measured* time. A row that stands for several (an ORT fused kernel, found through the tensors of the
//! optimised graph it ran; or a tract plan node that absorbed its neighbours) is split among them in proportion to
//! an unfused pass (*attributed*). Nodes that only compute constants, or that ORT's optimiser removed, cost nothing
//! per run (*folded*). Rows that stand for no ONNX node are kept apart (`extra`): nothing is dropped or invented.

use edgebench_backend_api::{NodeTime, OpProfile, median};
use edgebench_compat::ModelCheck;
use edgebench_graph::stats::{ShapeMap, node_flops};
use edgebench_graph::{DataType, Model};
use edgebench_report::Roofs;
use edgebench_report::profile::{ExtraRow, NodeTiming, OpTotal, Profile, ProfileNode};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Element type and shape of every value for the profiled feed (the shape oracle's facts).
pub type Facts = HashMap<String, (DataType, Vec<u64>)>;

/// What the analysis joins with the raw profile.
pub struct Context<'a> {
    pub backend: &'a str,
    pub model: &'a Model,
    pub facts: Option<&'a Facts>,
    /// Whole-run p50 without the profiler (microseconds).
    pub unprofiled_p50_us: Option<f64>,
    pub roofs: Option<&'a Roofs>,
    pub check: Option<&'a ModelCheck>,
}

fn percentile(xs: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = (q * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Nodes whose every input is a constant (initializers, Constant nodes and what only they feed): folded at load.
fn constant_nodes(model: &Model) -> HashSet<usize> {
    let g = &model.graph;
    let mut konst: HashSet<&str> = g.initializers.iter().map(|t| t.name()).collect();
    let inputs: HashSet<&str> = g.inputs.iter().map(|v| v.name.as_str()).collect();
    let mut out = HashSet::new();
    loop {
        let before = out.len();
        for (i, n) in g.nodes.iter().enumerate() {
            if out.contains(&i) || n.subgraphs().next().is_some() {
                continue;
            }
            let all = n
                .inputs
                .iter()
                .filter(|s| !s.is_empty())
                .all(|s| konst.contains(s.as_str()) && !inputs.contains(s.as_str()));
            if all {
                out.insert(i);
                konst.extend(n.outputs.iter().map(String::as_str));
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// Bytes read and written by a node: every input (weights included) and output, from the facts.
fn node_bytes(n: &edgebench_graph::Node, facts: &Facts) -> Option<u64> {
    let mut total = 0u64;
    for v in n.inputs.iter().chain(&n.outputs).filter(|s| !s.is_empty()) {
        let (dt, shape) = facts.get(v)?;
        let elems = shape.iter().try_fold(1u64, |a, d| a.checked_mul(*d))?;
        total = total.checked_add(dt.bytes_for(elems))?;
    }
    Some(total)
}

/// The ONNX nodes a kernel of the optimised graph stands for: walking back from the producers of its outputs
/// to its inputs.
fn region(model: &Model, inputs: &[String], outputs: &[String]) -> Vec<usize> {
    let producer: HashMap<&str, usize> = model
        .graph
        .nodes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.outputs.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let stop: HashSet<&str> = inputs.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let mut stack: Vec<&str> = outputs.iter().map(String::as_str).collect();
    while let Some(t) = stack.pop() {
        if stop.contains(t) {
            continue;
        }
        let Some(&p) = producer.get(t) else { continue };
        if seen.insert(p) {
            stack.extend(model.graph.nodes[p].inputs.iter().map(String::as_str));
        }
        if seen.len() > 64 {
            // Not a fusion: the optimised node's tensors do not close a small region of the original graph.
            return vec![];
        }
    }
    let mut v: Vec<usize> = seen.into_iter().collect();
    v.sort_unstable();
    v
}

/// The ONNX tensors a kernel of the optimised graph reads (`back`) or writes: its own where they are tensors of the
/// model (`onnx`), else through the conversion nodes the backend inserted around it (ORT's NCHWc
/// `ReorderInput`/`ReorderOutput`, the `Cast`s around an fp16 op it runs in fp32, copies); a kernel named `T_nchwc`
/// writes the model's tensor `T`.
fn onnx_side(
    raw: &OpProfile,
    onnx: &HashSet<&str>,
    k: &edgebench_backend_api::RanNode,
    back: bool,
) -> Vec<String> {
    if !back && let Some(t) = k.name.strip_suffix("_nchwc") {
        return vec![t.to_string()];
    }
    let inserted = |x: &edgebench_backend_api::RanNode| {
        x.op.starts_with("Reorder")
            || x.op.starts_with("Memcpy")
            || x.op == "Cast" && !onnx.contains(x.name.as_str())
    };
    let start = if back { &k.inputs } else { &k.outputs };
    let mut out = vec![];
    let mut stack: Vec<&str> = start.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    while let Some(t) = stack.pop() {
        if !seen.insert(t) || seen.len() > 64 {
            continue;
        }
        if onnx.contains(t) {
            out.push(t.to_string());
            continue;
        }
        // A tensor the backend renamed when it removed a conversion (ORT: `InsertedPrecisionFreeCast_T`,
        // `FusedBack_T`): the model's tensor whose name it ends with.
        if let Some(m) = t
            .char_indices()
            .filter(|(_, c)| *c == '_')
            .map(|(i, _)| &t[i + 1..])
            .find(|rest| onnx.contains(rest))
        {
            out.push(m.to_string());
            continue;
        }
        let via = raw.ran.iter().find(|x| {
            if back {
                x.outputs.iter().any(|o| o == t)
            } else {
                inserted(x) && x.inputs.iter().any(|i| i == t)
            }
        });
        match via {
            // Another NCHWc kernel's output is its ONNX tensor, in the blocked layout.
            Some(x) if back && let Some(t) = x.name.strip_suffix("_nchwc") => {
                out.push(t.to_string())
            }
            Some(x) if inserted(x) => stack.extend(
                if back { &x.inputs } else { &x.outputs }
                    .iter()
                    .map(String::as_str),
            ),
            _ => out.push(t.to_string()),
        }
    }
    out
}

/// Per-ONNX-node per-run times and how they were obtained, from the raw rows.
struct Mapped {
    /// Rows of nodes inside subgraphs, left out (their time is their holder's).
    nested: usize,
    us: Vec<Option<Vec<f64>>>,
    timing: Vec<NodeTiming>,
    backend_nodes: Vec<Vec<String>>,
    extra: Vec<ExtraRow>,
}

fn map_rows(model: &Model, raw: &OpProfile) -> Mapped {
    let nodes = &model.graph.nodes;
    let n = nodes.len();
    let runs = raw.run_us.len();
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, x)| !x.name.is_empty())
        .map(|(i, x)| (x.name.as_str(), i))
        .collect();
    let ran: HashMap<&str, &edgebench_backend_api::RanNode> =
        raw.ran.iter().map(|r| (r.name.as_str(), r)).collect();
    let unfused: HashMap<&str, f64> = raw
        .unfused
        .iter()
        .map(|r| {
            (
                r.onnx.first().map_or(r.name.as_str(), String::as_str),
                median(&r.us),
            )
        })
        .collect();
    let mut m = Mapped {
        nested: 0,
        us: vec![None; n],
        timing: vec![NodeTiming::Missing; n],
        backend_nodes: vec![vec![]; n],
        extra: vec![],
    };
    let add = |m: &mut Mapped, i: usize, us: &[f64], timing: NodeTiming, name: &str| {
        let slot = m.us[i].get_or_insert_with(|| vec![0.0; runs]);
        for (a, b) in slot.iter_mut().zip(us) {
            *a += b;
        }
        if m.timing[i] != NodeTiming::Measured {
            m.timing[i] = timing;
        }
        if !m.backend_nodes[i].iter().any(|x| x == name) {
            m.backend_nodes[i].push(name.to_string());
        }
    };
    // A row is a node's own when it names it (tract: by prefix, done by the backend) and, where the backend ran
    // an optimised graph, that graph's node of this name has the node's op.
    let own = |r: &NodeTime| -> Option<usize> {
        if let Some(o) = r.onnx.first() {
            return index.get(o.as_str()).copied();
        }
        let &i = index.get(r.name.as_str())?;
        let same_op = ran
            .get(r.name.as_str())
            .is_none_or(|x| x.op == nodes[i].op_type);
        same_op.then_some(i)
    };
    let mut tensors: HashSet<&str> = nodes
        .iter()
        .flat_map(|x| x.inputs.iter().chain(&x.outputs))
        .map(String::as_str)
        .collect();
    tensors.extend(model.graph.inputs.iter().map(|v| v.name.as_str()));
    // Nodes of If/Loop/Scan bodies: their time is inside their holder's row; a backend that times them as well
    // (ORT) would count it twice.
    let mut nested: HashSet<&str> = HashSet::new();
    model.graph.walk(&mut |scope, x| {
        if !scope.is_main() && !x.name.is_empty() {
            nested.insert(x.name.as_str());
        }
    });
    let mut fused: Vec<(&NodeTime, Vec<usize>)> = vec![];
    for r in &raw.nodes {
        if own(r).is_none() && nested.contains(r.name.as_str()) {
            m.nested += 1;
            continue;
        }
        if let Some(i) = own(r) {
            add(&mut m, i, &r.us, NodeTiming::Measured, &r.name);
        } else if let Some(k) = ran.get(r.name.as_str()) {
            let (i, o) = (
                onnx_side(raw, &tensors, k, true),
                onnx_side(raw, &tensors, k, false),
            );
            fused.push((r, region(model, &i, &o)));
        } else {
            fused.push((r, vec![]));
        }
    }
    let split = |m: &mut Mapped, r: &NodeTime, members: &[usize]| {
        let w: Vec<f64> = members
            .iter()
            .map(|&i| unfused.get(nodes[i].name.as_str()).copied().unwrap_or(0.0))
            .collect();
        let total: f64 = w.iter().sum();
        for (k, &i) in members.iter().enumerate() {
            let f = if total > 0.0 {
                w[k] / total
            } else {
                1.0 / members.len() as f64
            };
            let us: Vec<f64> = r.us.iter().map(|x| x * f).collect();
            add(m, i, &us, NodeTiming::Attributed, &r.name);
        }
    };
    for (r, members) in &fused {
        let members: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| m.us[i].is_none())
            .collect();
        if members.is_empty() {
            m.extra.push(ExtraRow {
                name: r.name.clone(),
                op: r.op.clone(),
                p50_us: median(&r.us),
            });
        } else {
            split(&mut m, r, &members);
        }
    }
    let constant = constant_nodes(model);
    let ran_names: HashSet<&str> = raw.ran.iter().map(|r| r.name.as_str()).collect();
    // Without the graph the backend ran (tract), a non-constant node with no row of its own was absorbed by a
    // neighbour's kernel: it joins the nearest timed producer (else consumer), whose time is split by the unfused
    // pass. With that graph (ORT), a node absent from it was removed by the optimiser.
    let mut absorbed: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        if m.us[i].is_some() {
            continue;
        }
        if constant.contains(&i)
            || (!raw.ran.is_empty() && !ran_names.contains(nodes[i].name.as_str()))
        {
            m.timing[i] = NodeTiming::Folded;
            continue;
        }
        if raw.ran.is_empty()
            && let Some(host) = neighbour(model, i, &m)
        {
            absorbed.entry(host).or_default().push(i);
        }
    }
    for (host, mut members) in absorbed {
        let Some(us) = m.us[host].clone() else {
            continue;
        };
        let name = m.backend_nodes[host].first().cloned().unwrap_or_default();
        members.push(host);
        m.us[host] = None;
        m.timing[host] = NodeTiming::Missing;
        let r = NodeTime {
            name,
            op: String::new(),
            onnx: vec![],
            us,
            provider: None,
        };
        split(&mut m, &r, &members);
    }
    m
}

/// The nearest node with a time of its own: up through producers, then down through consumers (breadth first).
fn neighbour(model: &Model, i: usize, m: &Mapped) -> Option<usize> {
    let nodes = &model.graph.nodes;
    let producer: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .flat_map(|(k, n)| n.outputs.iter().map(move |o| (o.as_str(), k)))
        .collect();
    let timed = |k: usize| m.us[k].is_some() && m.timing[k] == NodeTiming::Measured;
    let mut frontier = vec![i];
    for _ in 0..8 {
        let mut next = vec![];
        for &k in &frontier {
            for inp in &nodes[k].inputs {
                if let Some(&p) = producer.get(inp.as_str()) {
                    if timed(p) {
                        return Some(p);
                    }
                    next.push(p);
                }
            }
        }
        frontier = next;
    }
    let mut frontier = vec![i];
    for _ in 0..8 {
        let mut next = vec![];
        for &k in &frontier {
            for (c, n) in nodes.iter().enumerate() {
                if nodes[k].outputs.iter().any(|o| n.inputs.contains(o)) {
                    if timed(c) {
                        return Some(c);
                    }
                    next.push(c);
                }
            }
        }
        frontier = next;
    }
    None
}

/// The support table's word on each main-graph node.
fn support_of(check: &ModelCheck) -> HashMap<&str, String> {
    let mut m = HashMap::new();
    for b in check.blocking.iter().filter(|b| b.graph == "main") {
        m.insert(b.node.as_str(), format!("blocked: {}", b.reason));
    }
    for b in check.unknown.iter().filter(|b| b.graph == "main") {
        m.insert(b.node.as_str(), "unknown".to_string());
    }
    m
}

/// The profile of `raw` on `ctx.model`, slowest node first.
pub fn analyse(raw: &OpProfile, ctx: &Context) -> Profile {
    let model = ctx.model;
    let m = map_rows(model, raw);
    // The oracle's facts cover computed values; weights come from the initializers themselves.
    let facts: Option<Facts> = ctx.facts.map(|f| {
        let mut all = f.clone();
        for t in &model.graph.initializers {
            all.entry(t.name().to_string()).or_insert_with(|| {
                (
                    t.dtype(),
                    t.dims().iter().map(|d| (*d).max(0) as u64).collect(),
                )
            });
        }
        all
    });
    let facts = facts.as_ref();
    let mut shapes = ShapeMap::from_model(model, &HashMap::new());
    if let Some(f) = facts {
        shapes.extend_missing(f.iter().map(|(k, (_, s))| (k.clone(), s.clone())).collect());
    }
    let support = ctx.check.map(support_of).unwrap_or_default();
    let providers: HashMap<&str, &str> = raw
        .nodes
        .iter()
        .filter_map(|t| Some((t.name.as_str(), t.provider.as_deref()?)))
        .collect();
    let mut rows = vec![];
    for (i, n) in model.graph.nodes.iter().enumerate() {
        let us = m.us[i].clone().unwrap_or_default();
        let p50 = median(&us);
        let flops = node_flops(n, &shapes);
        let bytes = facts.and_then(|f| node_bytes(n, f));
        let secs = p50 * 1e-6;
        let rate = |x: Option<u64>| x.filter(|_| secs > 0.0).map(|x| x as f64 / secs / 1e9);
        let mut row = ProfileNode {
            node: n.name.clone(),
            op: edgebench_graph::stats::op_key(n),
            timing: m.timing[i],
            p50_us: p50,
            p10_us: percentile(&us, 0.1),
            p90_us: percentile(&us, 0.9),
            share: 0.0,
            flops,
            bytes,
            gflops: rate(flops),
            gbs: rate(bytes),
            bound: None,
            roof_pct: None,
            headroom_us: None,
            support: ctx.check.map(|_| {
                support
                    .get(n.name.as_str())
                    .cloned()
                    .unwrap_or_else(|| "runs".into())
            }),
            provider: {
                let mut p: Vec<&str> = m.backend_nodes[i]
                    .iter()
                    .filter_map(|b| providers.get(b.as_str()).copied())
                    .collect();
                p.sort();
                p.dedup();
                (!p.is_empty()).then(|| p.join("+"))
            },
            backend_nodes: m.backend_nodes[i].clone(),
            rewrite: None,
        };
        if let (Some(r), true) = (ctx.roofs, p50 > 0.0) {
            let tc = flops.map(|f| f as f64 / (r.peak_gflops * 1e3));
            let tm = bytes.map(|b| b as f64 / (r.mem_bandwidth_gbs * 1e3));
            let roof = match (tc, tm) {
                (Some(c), Some(b)) => Some(if c >= b {
                    ("compute", c)
                } else {
                    ("memory", b)
                }),
                (None, Some(b)) => Some(("memory", b)),
                (Some(c), None) => Some(("compute", c)),
                _ => None,
            };
            if let Some((kind, t)) = roof {
                row.bound = Some(kind.into());
                row.roof_pct = Some(100.0 * t / p50);
                row.headroom_us = Some(p50 - t);
            }
        }
        rows.push(row);
    }
    let extra_sum: f64 = m.extra.iter().map(|e| e.p50_us).sum();
    let sum: f64 = rows.iter().map(|r| r.p50_us).sum::<f64>() + extra_sum;
    for r in &mut rows {
        r.share = if sum > 0.0 { r.p50_us / sum } else { 0.0 };
    }
    let mut by_op: BTreeMap<String, OpTotal> = BTreeMap::new();
    for r in &rows {
        let t = by_op.entry(r.op.clone()).or_insert_with(|| OpTotal {
            op: r.op.clone(),
            nodes: 0,
            p50_us: 0.0,
            share: 0.0,
            flops: Some(0),
        });
        t.nodes += 1;
        t.p50_us += r.p50_us;
        t.share += r.share;
        t.flops = t.flops.zip(r.flops).map(|(a, b)| a.saturating_add(b));
    }
    let mut by_op: Vec<OpTotal> = by_op.into_values().collect();
    by_op.sort_by(|a, b| b.p50_us.total_cmp(&a.p50_us));
    let timed = rows
        .iter()
        .filter(|r| matches!(r.timing, NodeTiming::Measured | NodeTiming::Attributed))
        .count();
    let folded = rows
        .iter()
        .filter(|r| r.timing == NodeTiming::Folded)
        .count();
    rows.sort_by(|a, b| b.p50_us.total_cmp(&a.p50_us));
    let profiled = median(&raw.run_us);
    let mut extra = m.extra;
    extra.sort_by(|a, b| b.p50_us.total_cmp(&a.p50_us));
    Profile {
        backend: ctx.backend.to_string(),
        runs: raw.run_us.len(),
        profiled_p50_us: profiled,
        unprofiled_p50_us: ctx.unprofiled_p50_us,
        overhead: ctx
            .unprofiled_p50_us
            .filter(|u| *u > 0.0)
            .map(|u| profiled / u),
        nodes_p50_sum_us: sum,
        unaccounted_us: profiled - sum,
        onnx_nodes: rows.len(),
        timed_nodes: timed,
        folded_nodes: folded,
        nodes: rows,
        by_op,
        extra,
        roofs: ctx.roofs.cloned(),
        notes: {
            let mut notes = raw.notes.clone();
            if m.nested > 0 {
                notes.push(format!(
                    "{} rows of nodes inside If/Loop/Scan bodies are left out: their time is in their holder's",
                    m.nested
                ));
            }
            notes
        },
    }
}

/// What the profiling child (`edgebench profile-one`) prints: whole-run times of a plain session (the profiler's
/// cost is measured against them) and the backend's raw profile.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ChildReport {
    pub unprofiled_us: Vec<f64>,
    pub raw: OpProfile,
    /// `(value, dtype, shape)` of every value for the feed, from the shape oracle (FLOPs and bytes per node).
    #[serde(default)]
    pub facts: Vec<(String, String, Vec<u64>)>,
}

/// The child's work: `runs` plain runs after `warmup`, then the backend's profiled pass, on the seeded feed.
pub fn child(
    backend: &dyn edgebench_backend_api::Backend,
    oracle: Option<&dyn edgebench_backend_api::Backend>,
    path: &std::path::Path,
    specs: &[edgebench_models::FeedSpec],
    seed: u64,
    warmup: usize,
    runs: usize,
) -> Result<ChildReport, crate::Error> {
    let feed = crate::oneshot::tensors(specs, seed)?;
    let inputs = edgebench_models::fit::input_specs(specs);
    let be = |e: edgebench_backend_api::BackendError| {
        crate::Error::Backend(format!("{}: {e}", path.display()))
    };
    let mut session = backend.load(path, &inputs).map_err(be)?;
    for _ in 0..warmup {
        session.run(&feed).map_err(be)?;
    }
    let mut unprofiled_us = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = std::time::Instant::now();
        session.run(&feed).map_err(be)?;
        unprofiled_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    drop(session);
    let raw = match backend.profile(path, &inputs, &feed, warmup, runs) {
        Ok(r) => r,
        Err(edgebench_backend_api::BackendError::Unsupported { message, .. }) => {
            return Err(crate::Error::Unavailable(message));
        }
        Err(e) => return Err(be(e)),
    };
    let mut facts: Vec<(String, String, Vec<u64>)> = oracle
        .and_then(|o| o.infer_facts(path, &inputs))
        .and_then(Result::ok)
        .map(|f| {
            f.into_iter()
                .map(|(k, (dt, s))| (k, dt.name(), s))
                .collect()
        })
        .unwrap_or_default();
    facts.extend(inputs.iter().map(|s| {
        (
            s.name.clone(),
            s.dtype.name(),
            s.shape.iter().map(|d| *d as u64).collect(),
        )
    }));
    Ok(ChildReport {
        unprofiled_us,
        raw,
        facts,
    })
}

/// How the parent asks for profiles of one model.
pub struct Ask<'a> {
    /// The model as profiled (every main-graph node named: see [`named_copy`]).
    pub path: &'a std::path::Path,
    pub model: &'a Model,
    /// The feed, spelled as `--feed` specs.
    pub feed: &'a [String],
    pub warmup: usize,
    pub runs: usize,
    pub timeout: u64,
    pub ort_lib: Option<&'a std::path::Path>,
    /// Threads per inference for backends that take a count (`bench --threads`), as the cell ran.
    pub threads: Option<usize>,
    /// Exit code of a child whose backend has no per-op timing.
    pub unavailable_code: u8,
}

/// A copy of `model` with every main-graph node named (`{op}_{index}`), written under `dir`, when some node has
/// no name (profilers report nodes by name); `None` when all are named.
pub fn named_copy(
    model: &Model,
    dir: &std::path::Path,
) -> Result<Option<(Model, std::path::PathBuf)>, crate::Error> {
    if model.graph.nodes.iter().all(|n| !n.name.is_empty()) {
        return Ok(None);
    }
    let mut m = model.clone();
    edgebench_rewrite::name_nodes(&mut m);
    let p = dir.join("named.onnx");
    edgebench_graph::save(&m, &p).map_err(|e| crate::Error::Usage(e.to_string()))?;
    Ok(Some((m, p)))
}

/// The arguments of the profiling child (`edgebench profile-one ...`) for one backend.
pub fn child_args(ask: &Ask, backend: &str) -> Vec<String> {
    let mut a = vec![
        "profile-one".to_string(),
        ask.path.display().to_string(),
        "--backend".into(),
        backend.into(),
        "--warmup".into(),
        ask.warmup.to_string(),
        "--runs".into(),
        ask.runs.to_string(),
    ];
    for f in ask.feed {
        a.extend(["--feed".to_string(), f.clone()]);
    }
    if let Some(n) = ask.threads {
        a.extend(["--threads".to_string(), n.to_string()]);
    }
    a
}

/// This executable as the profiling child, with `ort_lib` when given.
pub fn this_exe(ask: &Ask, backend: &str) -> Result<std::process::Command, String> {
    let mut cmd = std::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
    if let Some(l) = ask.ort_lib {
        cmd.arg("--ort-lib").arg(l);
    }
    cmd.args(child_args(ask, backend));
    Ok(cmd)
}

/// Profiles the model on one backend in a child (`cmd`, from [`this_exe`] or a runner), and analyses the result.
pub fn profile_on(
    ask: &Ask,
    backend: &str,
    cmd: Result<std::process::Command, String>,
    roofs: Option<&Roofs>,
    check: Option<&ModelCheck>,
) -> edgebench_report::profile::ProfileOutcome {
    use edgebench_report::profile::ProfileOutcome;
    let failed = |error: String| ProfileOutcome::Failed {
        backend: backend.into(),
        error,
    };
    let cmd = match cmd {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let finished = crate::cell::spawn(cmd, ask.timeout);
    match finished.report::<ChildReport>() {
        Ok(r) => {
            let facts: Facts = r
                .facts
                .iter()
                .filter_map(|(k, d, s)| Some((k.clone(), (DataType::parse(d)?, s.clone()))))
                .collect();
            let ctx = Context {
                backend,
                model: ask.model,
                facts: (!facts.is_empty()).then_some(&facts),
                unprofiled_p50_us: Some(median(&r.unprofiled_us)),
                roofs,
                check,
            };
            ProfileOutcome::Profiled(Box::new(analyse(&r.raw, &ctx)))
        }
        Err(edgebench_report::Outcome::Failed { exit_code, message })
            if exit_code == i32::from(ask.unavailable_code) =>
        {
            ProfileOutcome::NotAvailable {
                backend: backend.into(),
                reason: message,
            }
        }
        Err(o) => failed(crate::cell::describe(&o)),
    }
}

/// The machine's measured roofs as a report records them (cached per machine).
pub fn host_roofs() -> Roofs {
    let (r, _) = crate::machine::host_roofs(&edgebench_models::cache_dir(), false);
    Roofs {
        peak_gflops: r.peak_gflops,
        mem_bandwidth_gbs: r.mem_bandwidth_gbs,
        source: "measured".into(),
        detail: format!("{} FMA kernel and triad on {} threads", r.kernel, r.threads),
    }
}
