//! Predicts, from a support table alone, which nodes of a model a backend can run, and why not.

use crate::table::{SupportTable, domain_name};
use edgebench_graph::stats::ShapeMap;
use edgebench_graph::validate::{Finding, Severity, validate};
use edgebench_graph::{AttrValue, DataType, Graph, Model, Node, ValueType};
use serde::Serialize;
use std::collections::HashMap;

/// Why a node is not supported.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Reason {
    /// No table entry for this op in a domain the table knows: the table cannot say (an *unknown* node, neither
    /// supported nor blocked).
    UnknownOp {
        backend: String,
    },
    /// The table knows nothing of this domain (an *unknown* node).
    UnknownDomain {
        backend: String,
    },
    OpsetOutOfRange {
        opset: Option<i64>,
        supported: String,
    },
    Dtype {
        dtype: String,
        supported: Vec<String>,
    },
    AttributeValue {
        attr: String,
        value: i64,
        allowed: Vec<i64>,
    },
    /// A string attribute's value is not one of those allowed (JSON: `reason` `attribute-value`, `value` a string).
    #[serde(rename = "attribute-value")]
    AttributeText {
        attr: String,
        value: String,
        allowed: Vec<String>,
    },
    DynamicShape {
        value: String,
    },
    /// An input's shape breaks a constraint (e.g. rank).
    Shape {
        value: String,
        detail: String,
    },
    /// The table says so (probe found no passing test, or a hand-kept rule).
    NotSupported {
        detail: String,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::UnknownOp { backend } => {
                write!(f, "unknown: the op is not in {backend}'s table")
            }
            Reason::UnknownDomain { backend } => {
                write!(f, "unknown: the domain is not in {backend}'s table")
            }
            Reason::OpsetOutOfRange { opset, supported } => match opset {
                Some(o) => write!(f, "opset {o} out of range (supported {supported})"),
                None => write!(
                    f,
                    "no opset imported for the domain (supported {supported})"
                ),
            },
            Reason::Dtype { dtype, supported } => {
                write!(f, "dtype {dtype} (supported: {})", supported.join(", "))
            }
            Reason::AttributeValue {
                attr,
                value,
                allowed,
            } => write!(f, "attribute {attr}={value} (allowed: {allowed:?})"),
            Reason::AttributeText {
                attr,
                value,
                allowed,
            } => write!(
                f,
                "attribute {attr}={value} (allowed: {})",
                allowed.join(", ")
            ),
            Reason::DynamicShape { value } => write!(f, "dynamic shape of `{value}`"),
            Reason::Shape { value, detail } => write!(f, "shape of `{value}`: {detail}"),
            Reason::NotSupported { detail } => write!(f, "not supported: {detail}"),
        }
    }
}

impl Reason {
    /// The table does not know the op: the node is neither supported nor blocked.
    pub fn is_unknown(&self) -> bool {
        matches!(
            self,
            Reason::UnknownOp { .. } | Reason::UnknownDomain { .. }
        )
    }

    /// The short kind used in matrices and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::UnknownOp { .. } => "unknown-op",
            Reason::UnknownDomain { .. } => "unknown-domain",
            Reason::OpsetOutOfRange { .. } => "opset-out-of-range",
            Reason::Dtype { .. } => "dtype",
            Reason::AttributeValue { .. } | Reason::AttributeText { .. } => "attribute-value",
            Reason::DynamicShape { .. } => "dynamic-shape",
            Reason::Shape { .. } => "shape",
            Reason::NotSupported { .. } => "not-supported",
        }
    }
}

/// A node the backend cannot run (in [`ModelCheck::blocking`]), or one its table does not know (in
/// [`ModelCheck::unknown`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Blocking {
    pub node: String,
    pub op: String,
    pub domain: String,
    /// `main` or the subgraph scope.
    pub graph: String,
    #[serde(flatten)]
    pub reason: Reason,
    pub message: String,
}

/// The verdict for one model on one backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Runs,
    Partial,
    No,
    /// No node is known to be blocked, but the table does not know some (`unknown_nodes`): a run decides.
    Unknown,
}

impl Verdict {
    /// The prediction a run can test: runs (`Some(true)`), does not run fully (`Some(false)`), or no prediction.
    pub fn predicts_runs(self) -> Option<bool> {
        match self {
            Verdict::Runs => Some(true),
            Verdict::Partial | Verdict::No => Some(false),
            Verdict::Unknown => None,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Runs => "runs",
            Verdict::Partial => "partial",
            Verdict::No => "no",
            Verdict::Unknown => "unknown",
        })
    }
}

/// Maximal connected groups of supported nodes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Partitions {
    pub count: usize,
    /// Supported nodes / all nodes.
    pub supported_share: f64,
    /// Nodes in the biggest partition.
    pub biggest: usize,
    /// Sizes, biggest first.
    pub sizes: Vec<usize>,
}

/// `check` of one model against one table.
#[derive(Clone, Debug, Serialize)]
pub struct ModelCheck {
    pub backend: String,
    pub verdict: Verdict,
    /// Nodes at every depth.
    pub nodes: usize,
    pub supported_nodes: usize,
    /// Nodes the table says the backend cannot run.
    pub blocking: Vec<Blocking>,
    /// Nodes of an op (or domain) the table does not list: neither supported nor blocked.
    pub unknown_nodes: usize,
    pub unknown: Vec<Blocking>,
    pub partitions: Partitions,
    /// Structural findings about the model; an error (cycle, dangling input, empty op type, missing opset import)
    /// makes the verdict `no` on every backend.
    pub findings: Vec<Finding>,
}

impl ModelCheck {
    /// Every node not known to run: the blocking ones, then the unknown ones.
    pub fn not_supported(&self) -> impl Iterator<Item = &Blocking> {
        self.blocking.iter().chain(&self.unknown)
    }
}

struct Flat<'a> {
    node: &'a Node,
    graph: String,
    /// Index of the node holding this node's graph (If/Loop/Scan), if nested.
    parent: Option<usize>,
    /// Which graph instance (for name scoping of edges).
    graph_id: usize,
}

fn flatten(g: &Graph) -> Vec<Flat<'_>> {
    fn go<'a>(
        g: &'a Graph,
        name: String,
        parent: Option<usize>,
        gid: &mut usize,
        out: &mut Vec<Flat<'a>>,
    ) {
        let my = *gid;
        *gid += 1;
        let start = out.len();
        for n in &g.nodes {
            out.push(Flat {
                node: n,
                graph: name.clone(),
                parent,
                graph_id: my,
            });
        }
        for (k, n) in g.nodes.iter().enumerate() {
            for (attr, sub) in n.subgraphs() {
                let label = if n.name.is_empty() {
                    n.op_type.clone()
                } else {
                    n.name.clone()
                };
                let sub_name = if name == "main" {
                    format!("{label}.{attr}")
                } else {
                    format!("{name}/{label}.{attr}")
                };
                go(sub, sub_name, Some(start + k), gid, out);
            }
        }
    }
    let mut out = vec![];
    go(g, "main".into(), None, &mut 0, &mut out);
    out
}

/// Element types of values, from the model's declarations and a simple forward propagation.
pub(crate) fn dtypes(model: &Model) -> HashMap<String, DataType> {
    let mut m: HashMap<String, DataType> = HashMap::new();
    model.graph.walk_graphs(&mut |_, g| {
        for v in g.inputs.iter().chain(&g.outputs).chain(&g.value_info) {
            if let Some((dt, _)) = v.ty.as_ref().and_then(ValueType::as_tensor) {
                m.insert(v.name.clone(), dt);
            }
        }
        for t in &g.initializers {
            m.insert(t.name().to_string(), t.dtype());
        }
    });
    // Two passes cover values consumed by subgraphs before their producer is seen in walk order.
    for _ in 0..2 {
        model.graph.walk(&mut |_, n| {
            let first = n.inputs.first().and_then(|i| m.get(i)).copied();
            let out = match n.op_type.as_str() {
                "Cast" | "CastLike" if n.op_type == "Cast" => {
                    n.attr_int("to").map(|c| DataType::from_code(c as i32))
                }
                "CastLike" => n.inputs.get(1).and_then(|i| m.get(i)).copied(),
                "Shape" | "Size" | "ArgMax" | "ArgMin" | "NonZero" => Some(DataType::Int64),
                "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "Not" | "And"
                | "Or" | "Xor" | "IsNaN" | "IsInf" => Some(DataType::Bool),
                "Constant" => match n.attr("value") {
                    Some(AttrValue::Tensor(t)) => Some(t.dtype()),
                    _ => n.attributes.first().map(|a| match a.value {
                        AttrValue::Int(_) | AttrValue::Ints(_) => DataType::Int64,
                        _ => DataType::Float,
                    }),
                },
                "ConstantOfShape" => match n.attr("value") {
                    Some(AttrValue::Tensor(t)) => Some(t.dtype()),
                    _ => Some(DataType::Float),
                },
                "DequantizeLinear" => Some(DataType::Float),
                "QuantizeLinear" => n
                    .inputs
                    .get(2)
                    .and_then(|i| m.get(i))
                    .copied()
                    .or(Some(DataType::Uint8)),
                "Where" => n.inputs.get(1).and_then(|i| m.get(i)).copied(),
                "If" | "Loop" | "Scan" => None,
                _ => first,
            };
            if let Some(dt) = out {
                for o in n.outputs.iter().filter(|o| !o.is_empty()) {
                    m.entry(o.clone()).or_insert(dt);
                }
            }
        });
    }
    m
}

/// Checks a model against a table. `static_shapes` are the shapes known without running it (model annotations
/// and the feed): they decide the `requires.static_shapes` rule.
pub fn check(model: &Model, table: &SupportTable, static_shapes: &ShapeMap) -> ModelCheck {
    let mut findings = validate(model);
    if table.requires.known_domains_only {
        for d in model.opset_imports.keys() {
            let name = domain_name(d);
            if name != "ai.onnx" && !table.runs_domain(d) {
                findings.push(Finding {
                    severity: Severity::Error,
                    message: format!(
                        "{} refuses a model that imports an opset of domain `{name}`, which it does not know, even if no node uses it",
                        table.header.backend
                    ),
                    graph: "main".into(),
                    node: None,
                });
            }
        }
    }
    let flat = flatten(&model.graph);
    let types = dtypes(model);
    let invalid: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    let mut blocking = vec![];
    let mut unknown = vec![];
    let mut ok = vec![true; flat.len()];
    for (i, f) in flat.iter().enumerate() {
        let n = f.node;
        if let Some(reason) = node_reason(model, table, n, &types, static_shapes) {
            ok[i] = false;
            let message = format!(
                "{} ({}{}) in {}: {reason}",
                if n.name.is_empty() {
                    "(unnamed)"
                } else {
                    &n.name
                },
                if n.domain.is_empty() {
                    String::new()
                } else {
                    format!("{}::", n.domain)
                },
                n.op_type,
                f.graph
            );
            let b = Blocking {
                node: n.name.clone(),
                op: n.op_type.clone(),
                domain: domain_name(&n.domain).to_string(),
                graph: f.graph.clone(),
                reason,
                message,
            };
            if b.reason.is_unknown() {
                unknown.push(b);
            } else {
                blocking.push(b);
            }
        }
    }
    // A node that holds subgraphs runs only if everything inside does.
    for i in (0..flat.len()).rev() {
        if let Some(p) = flat[i].parent {
            if !ok[i] && ok[p] {
                ok[p] = false;
            }
        }
    }
    let partitions = partitions(&flat, &ok);
    let supported_nodes = ok.iter().filter(|x| **x).count();
    // A holder of a subgraph with an unknown node is itself neither supported nor blocked.
    let verdict = if !invalid.is_empty() {
        Verdict::No
    } else if supported_nodes == flat.len() {
        Verdict::Runs
    } else if blocking.is_empty() {
        Verdict::Unknown
    } else if supported_nodes == 0 {
        Verdict::No
    } else {
        Verdict::Partial
    };
    ModelCheck {
        backend: table.header.backend.clone(),
        verdict,
        nodes: flat.len(),
        supported_nodes,
        blocking,
        unknown_nodes: unknown.len(),
        unknown,
        partitions,
        findings,
    }
}

/// For a node with `then_branch`/`else_branch`: the first output whose declared ranks differ between the branches.
fn branch_rank_mismatch(n: &Node) -> Option<String> {
    let branch = |name: &str| match n.attr(name) {
        Some(AttrValue::Graph(g)) => Some(g),
        _ => None,
    };
    let (t, e) = (branch("then_branch")?, branch("else_branch")?);
    let rank = |v: &edgebench_graph::ValueInfo| {
        v.ty.as_ref()
            .and_then(ValueType::as_tensor)
            .and_then(|(_, dims)| dims.map(|d| d.len()))
    };
    t.outputs
        .iter()
        .zip(&e.outputs)
        .enumerate()
        .find_map(|(k, (a, b))| match (rank(a), rank(b)) {
            (Some(x), Some(y)) if x != y => Some(format!(
                "branch output {k} has rank {x} in then_branch and {y} in else_branch"
            )),
            _ => None,
        })
}

fn node_reason(
    model: &Model,
    table: &SupportTable,
    n: &Node,
    types: &HashMap<String, DataType>,
    shapes: &ShapeMap,
) -> Option<Reason> {
    let opset = model.node_opset(n);
    if let (Some(max), Some(o)) = (table.header.max_opset, opset) {
        if domain_name(&n.domain) == "ai.onnx" && o > max {
            return Some(Reason::OpsetOutOfRange {
                opset: Some(o),
                supported: format!("<= {max} (the highest opset any conformance test passed at)"),
            });
        }
    }
    let mut forced: Option<bool> = None;
    for c in table.constraints(&n.domain, &n.op_type) {
        if let Some(s) = c.supported {
            forced = Some(s);
            if !s {
                return Some(Reason::NotSupported {
                    detail: c.note.clone(),
                });
            }
        }
        if let Some(max) = c.max_rank {
            for i in n.inputs.iter().filter(|i| !i.is_empty()) {
                if let Some(s) = shapes.get(i).filter(|s| s.len() > max) {
                    return Some(Reason::Shape {
                        value: i.clone(),
                        detail: format!("rank {} > {max}: {}", s.len(), c.note),
                    });
                }
            }
        }
        if let Some(k) = c.last_dim_divisible_by.filter(|k| *k > 1) {
            for i in n.inputs.iter().filter(|i| !i.is_empty()) {
                if let Some(d) = shapes
                    .get(i)
                    .and_then(|s| s.last())
                    .filter(|d| **d % k != 0)
                {
                    return Some(Reason::Shape {
                        value: i.clone(),
                        detail: format!("last dimension {d} is not divisible by {k}: {}", c.note),
                    });
                }
            }
        }
        if !c.unsupported_dtypes.is_empty() {
            let bad = n
                .inputs
                .iter()
                .filter_map(|i| types.get(i))
                .map(|d| d.name())
                .find(|d| c.unsupported_dtypes.contains(d));
            if let Some(dtype) = bad {
                return Some(Reason::NotSupported {
                    detail: format!("{dtype} inputs: {}", c.note),
                });
            }
        }
        if c.branch_ranks_agree == Some(true) {
            if let Some(detail) = branch_rank_mismatch(n) {
                return Some(Reason::Shape {
                    value: n.outputs.first().cloned().unwrap_or_default(),
                    detail: format!("{detail}: {}", c.note),
                });
            }
        }
        if let Some(attr) = c.attr.as_ref().filter(|_| !c.allowed_strings.is_empty())
            && let Some(edgebench_graph::AttrValue::String(v)) = n.attr(attr)
        {
            let v = String::from_utf8_lossy(v).into_owned();
            if !c.allowed_strings.contains(&v) {
                return Some(Reason::AttributeText {
                    attr: attr.clone(),
                    value: v,
                    allowed: c.allowed_strings.clone(),
                });
            }
        }
        if let Some(attr) = &c.attr {
            let v = n.attr_int(attr).or(c.default);
            if let Some(v) = v {
                if !c.allowed.is_empty() && !c.allowed.contains(&v) {
                    return Some(Reason::AttributeValue {
                        attr: attr.clone(),
                        value: v,
                        allowed: c.allowed.clone(),
                    });
                }
            }
        }
        let lo = c.min_opset.unwrap_or(i64::MIN);
        let hi = c.max_opset.unwrap_or(i64::MAX);
        if (c.min_opset.is_some() || c.max_opset.is_some())
            && !opset.is_some_and(|o| o >= lo && o <= hi)
        {
            let supported = match (c.min_opset, c.max_opset) {
                (Some(a), Some(b)) => format!("{a}..={b}"),
                (Some(a), None) => format!(">= {a}"),
                (None, Some(b)) => format!("<= {b}"),
                _ => String::new(),
            };
            return Some(Reason::OpsetOutOfRange { opset, supported });
        }
    }
    if forced != Some(true) {
        if let Some(w) = table.wildcard(&n.domain, &n.op_type) {
            return match w.supported {
                Some(false) => Some(Reason::NotSupported {
                    detail: w.note.clone(),
                }),
                _ => None,
            };
        }
        let Some(e) = table.entry(&n.domain, &n.op_type) else {
            let backend = table.header.backend.clone();
            return Some(if table.knows_domain(&n.domain) {
                Reason::UnknownOp { backend }
            } else {
                Reason::UnknownDomain { backend }
            });
        };
        if !e.supported {
            return Some(Reason::NotSupported {
                detail: format!("no passing conformance test ({} failed)", e.failed),
            });
        }
        // Only evidence blocks: a dtype that failed and never passed. Untested dtypes and opsets are not evidence.
        if let Some(dt) = n
            .inputs
            .first()
            .filter(|s| !s.is_empty())
            .and_then(|i| types.get(i))
        {
            let name = dt.name();
            if e.failed_dtypes.contains(&name) {
                return Some(Reason::Dtype {
                    dtype: name,
                    supported: e.dtypes.clone(),
                });
            }
        }
    }
    if table.requires.static_shapes {
        if let Some(o) = n
            .outputs
            .iter()
            .filter(|o| !o.is_empty())
            .find(|o| shapes.get(o).is_none())
        {
            return Some(Reason::DynamicShape { value: o.clone() });
        }
    }
    None
}

fn partitions(flat: &[Flat<'_>], ok: &[bool]) -> Partitions {
    let mut parent: Vec<usize> = (0..flat.len()).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        let mut y = x;
        while p[y] != r {
            let next = p[y];
            p[y] = r;
            y = next;
        }
        r
    }
    let union = |p: &mut Vec<usize>, a: usize, b: usize| {
        let (ra, rb) = (find(p, a), find(p, b));
        if ra != rb {
            p[ra] = rb;
        }
    };
    // Producers by (graph instance, tensor name); a subgraph also sees its parents' names.
    let mut producer: HashMap<(usize, &str), usize> = HashMap::new();
    for (i, f) in flat.iter().enumerate() {
        for o in &f.node.outputs {
            producer.insert((f.graph_id, o.as_str()), i);
        }
    }
    for (i, f) in flat.iter().enumerate() {
        if !ok[i] {
            continue;
        }
        for inp in f.node.inputs.iter().filter(|s| !s.is_empty()) {
            let mut scope = Some(i);
            while let Some(s) = scope {
                if let Some(&p) = producer.get(&(flat[s].graph_id, inp.as_str())) {
                    if ok[p] {
                        union(&mut parent, i, p);
                    }
                    break;
                }
                scope = flat[s].parent;
            }
        }
        if let Some(p) = f.parent {
            if ok[p] {
                union(&mut parent, i, p);
            }
        }
    }
    let mut sizes: HashMap<usize, usize> = HashMap::new();
    for i in (0..flat.len()).filter(|i| ok[*i]) {
        *sizes.entry(find(&mut parent, i)).or_insert(0) += 1;
    }
    let mut sizes: Vec<usize> = sizes.into_values().collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let supported = ok.iter().filter(|x| **x).count();
    Partitions {
        count: sizes.len(),
        supported_share: if flat.is_empty() {
            1.0
        } else {
            supported as f64 / flat.len() as f64
        },
        biggest: sizes.first().copied().unwrap_or(0),
        sizes,
    }
}
