//! Graph rewrites that make a model run on a narrow backend. A [`Rule`] is named and keyed by op type; for a node
//! the target cannot run it returns an optional [`Patch`] (a list of edits, in the spirit of tract's
//! `TypedModelPatch`); the [`rewrite`] driver applies one rule at a time to every node it matches, asks a
//! [`Verify`] for the numeric drift of the result against the original model, keeps it when it is within the
//! tolerance and rolls it back otherwise, and repeats until nothing changes. Knows no backend: running models is
//! the verifier's business, inferring shapes the oracle's.

mod build;
pub mod consteval;
pub mod patch;
pub mod registry;
pub mod rules;
pub mod variants;

pub use patch::{Edit, Patch};
pub use rules::fold::simplify;

/// The version of the rule set's behaviour: bumped when a rule changes what it makes, so that cached rewrites
/// (keyed by this and the rules' names) are made again.
pub const RULES_VERSION: &str = "1";

use edgebench_compat::{SupportTable, Verdict, check};
use edgebench_graph::stats::ShapeMap;
use edgebench_graph::{DataType, Model};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Element type and concrete shape of named values, as a shape oracle (a backend's inference) found them.
pub type Facts = HashMap<String, (DataType, Vec<u64>)>;

/// What a rule may look at.
pub struct Ctx<'a> {
    /// The target's support table: a rule may only emit ops it supports.
    pub table: &'a SupportTable,
    facts: Known<'a>,
}

/// The facts of a [`Ctx`]: given, or asked of the oracle the first time a rule wants them (most rules never do,
/// and an oracle call runs a backend's shape inference).
enum Known<'a> {
    Given(Option<&'a Facts>),
    Lazy {
        cell: &'a std::cell::OnceCell<Option<Facts>>,
        oracle: &'a dyn Oracle,
        model: &'a Model,
    },
}

impl<'a> Ctx<'a> {
    /// A context with these facts (or none).
    pub fn new(table: &'a SupportTable, facts: Option<&'a Facts>) -> Ctx<'a> {
        Ctx {
            table,
            facts: Known::Given(facts),
        }
    }

    /// A context whose facts the oracle infers for `model` on first use, kept in `cell`.
    pub fn lazy(
        table: &'a SupportTable,
        cell: &'a std::cell::OnceCell<Option<Facts>>,
        oracle: &'a dyn Oracle,
        model: &'a Model,
    ) -> Ctx<'a> {
        Ctx {
            table,
            facts: Known::Lazy {
                cell,
                oracle,
                model,
            },
        }
    }

    /// Types and shapes of the current model's values for the feed, when the oracle could infer them.
    pub fn facts(&self) -> Option<&Facts> {
        match &self.facts {
            Known::Given(f) => *f,
            Known::Lazy {
                cell,
                oracle,
                model,
            } => cell.get_or_init(|| oracle.facts(model)).as_ref(),
        }
    }
}

impl Ctx<'_> {
    /// Whether the target supports an op of the default domain (a decomposition may only emit such ops).
    pub fn supports(&self, op: &str) -> bool {
        self.table.entry("", op).is_some_and(|e| e.supported)
            || self
                .table
                .constraints("", op)
                .any(|c| c.supported == Some(true))
    }
}

/// A named rewrite.
pub trait Rule {
    /// Stable name, e.g. `gemm-pretranspose-b`.
    fn name(&self) -> &'static str;
    /// Op types it applies to; empty for a whole-model rule.
    fn ops(&self) -> &'static [&'static str] {
        &[]
    }
    /// Op types whose nodes its patches may change or remove: its own [`Rule::ops`], and the neighbours a rule that
    /// rewrites a pattern of several nodes takes with it.
    fn touches(&self) -> &'static [&'static str] {
        self.ops()
    }
    /// A patch for main-graph node `index`, which the target cannot run as it is.
    fn node(&self, _model: &Model, _index: usize, _ctx: &Ctx) -> Option<Patch> {
        None
    }
    /// A patch for the whole model, given the check's blocking reasons (whole-model rules).
    fn whole(&self, _model: &Model, _blocked: &Blocked, _ctx: &Ctx) -> Option<Patch> {
        None
    }
}

/// What the target's check says is blocked, by main-graph node index and reason kind.
#[derive(Debug, Default)]
pub struct Blocked {
    pub nodes: HashSet<usize>,
    pub kinds: HashSet<&'static str>,
}

/// Numeric agreement of a candidate with the original model over the verification feeds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Drift {
    pub max_abs_error: f64,
    pub max_rel_error: f64,
    pub min_cosine: f64,
    /// Within the verifier's tolerance.
    pub within: bool,
}

/// Runs a candidate model and compares it with the original (the reference backend, seeded feeds).
pub trait Verify {
    /// The candidate's drift, or why it could not be run.
    fn drift(&self, candidate: &Model) -> Result<Drift, String>;
    /// The tolerance, stated in every report.
    fn tolerance(&self) -> String;
}

/// Infers element types and shapes of a model's values for the feed (a backend's shape inference).
pub trait Oracle {
    fn facts(&self, model: &Model) -> Option<Facts>;
}

/// What happened to one application of a rule.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum StepStatus {
    Applied,
    /// Its result left the tolerance or could not run: undone.
    RolledBack {
        reason: String,
    },
}

/// One line of the rewrite log.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub rule: &'static str,
    pub nodes: Vec<String>,
    pub edits: usize,
    #[serde(flatten)]
    pub status: StepStatus,
    pub drift: Option<Drift>,
}

/// The result of [`rewrite`].
#[derive(Debug)]
pub struct Rewritten {
    pub model: Model,
    pub log: Vec<Step>,
    pub before: Verdict,
    pub after: Verdict,
    pub tolerance: String,
}

/// Names unnamed main-graph nodes (`{op}_{index}`) so that logs and blocking reasons can point at them.
pub fn name_nodes(model: &mut Model) {
    let mut taken: HashSet<String> = model.graph.nodes.iter().map(|n| n.name.clone()).collect();
    for (i, n) in model.graph.nodes.iter_mut().enumerate() {
        if n.name.is_empty() {
            let mut name = format!("{}_{i}", n.op_type);
            while taken.contains(&name) {
                name.push('_');
            }
            taken.insert(name.clone());
            n.name = name;
        }
    }
}

/// Checks `model` against the table with the shapes it states.
pub fn verdict_of(model: &Model, table: &SupportTable) -> (Verdict, Blocked) {
    let shapes = ShapeMap::from_model(model, &HashMap::new());
    let c = check(model, table, &shapes);
    let index: HashMap<&str, usize> = model
        .graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut b = Blocked::default();
    for x in c.not_supported() {
        b.kinds.insert(x.reason.kind());
        if x.graph == "main" {
            if let Some(i) = index.get(x.node.as_str()) {
                b.nodes.insert(*i);
            }
        }
    }
    (c.verdict, b)
}

/// The first structural error of a model (`edgebench_graph::validate`): rules, `simplify` and the variant
/// transforms leave a model that is not valid ONNX as it is (they may assume what validation checks, such as the
/// inputs an op requires).
pub fn invalid(model: &Model) -> Option<String> {
    edgebench_graph::validate::validate(model)
        .into_iter()
        .find(|f| f.severity == edgebench_graph::validate::Severity::Error)
        .map(|f| match f.node {
            Some(n) => format!("{n} in {}: {}", f.graph, f.message),
            None => f.message,
        })
}

/// Whether no sequence of `rules` can make `model` run on the table's backend: some main-graph node is of an op the
/// table blocks whatever its attributes, types, shapes and opset ([`SupportTable::never_supports`]), no rule touches
/// that op ([`Rule::touches`]), and a graph output depends on the node's data, so folding cannot drop it as dead
/// code (only `Shape` and `Size` read a value without its data). A prediction skips the driver, and its shape
/// oracle, for such a model; its verdict after rewrites is the verdict before.
pub fn beyond_rules(model: &Model, table: &SupportTable, rules: &[&dyn Rule]) -> bool {
    let touched: HashSet<&str> = rules.iter().flat_map(|r| r.touches()).copied().collect();
    let g = &model.graph;
    let live = data_live(g);
    g.nodes.iter().zip(&live).any(|(n, live)| {
        *live
            && !touched.contains(n.op_type.as_str())
            && table.never_supports(&n.domain, &n.op_type)
    })
}

/// Main-graph nodes on which a graph output depends through data (reads by `Shape` and `Size` excepted; a node
/// with subgraphs reads every value its subgraphs name).
fn data_live(g: &edgebench_graph::Graph) -> Vec<bool> {
    fn reads(g: &edgebench_graph::Graph, out: &mut Vec<String>) {
        for n in &g.nodes {
            out.extend(n.inputs.iter().cloned());
            for (_, sub) in n.subgraphs() {
                reads(sub, out);
            }
        }
    }
    let producer = g.producers();
    let mut live = vec![false; g.nodes.len()];
    let mut stack: Vec<usize> = g
        .outputs
        .iter()
        .filter_map(|o| producer.get(o.name.as_str()).copied())
        .collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut live[i], true) {
            continue;
        }
        let n = &g.nodes[i];
        if n.domain.is_empty() && matches!(n.op_type.as_str(), "Shape" | "Size") {
            continue;
        }
        let mut inputs = n.inputs.clone();
        for (_, sub) in n.subgraphs() {
            reads(sub, &mut inputs);
        }
        stack.extend(
            inputs
                .iter()
                .filter_map(|v| producer.get(v.as_str()).copied()),
        );
    }
    live
}

/// Rewrites `model` for the target of `table` with `rules`, verifying each rule's patch with `verify`, until no rule
/// changes anything (at most `max_rounds` rounds). Never returns a model whose last verification failed.
pub fn rewrite(
    model: &Model,
    table: &SupportTable,
    rules: &[&dyn Rule],
    oracle: &dyn Oracle,
    verify: &dyn Verify,
    mut max_rounds: usize,
) -> Rewritten {
    let mut current = model.clone();
    name_nodes(&mut current);
    // The verdict and blocked nodes of `current`, computed again only when a patch is kept.
    let mut state = verdict_of(&current, table);
    let before = state.0;
    if invalid(&current).is_some() {
        max_rounds = 0;
    }
    let mut log = vec![];
    // A rule rolled back once is not tried again on the same nodes.
    let mut refused: HashSet<(&'static str, Vec<String>)> = HashSet::new();
    // The oracle's facts are a function of `current`: asked once per version of it, and only for a rule that has
    // something to look at (a whole-model rule, or a blocked node of one of its ops). On a model with large
    // initializers each question costs a serialisation and a parse.
    let mut memo: std::cell::OnceCell<Option<Facts>> = std::cell::OnceCell::new();
    for _ in 0..max_rounds {
        let mut changed = false;
        for rule in rules {
            let (verdict, blocked) = &state;
            if *verdict == Verdict::Runs {
                break;
            }
            let candidates = rule.ops().is_empty()
                || blocked.nodes.iter().any(|&i| {
                    rule.ops()
                        .contains(&current.graph.nodes[i].op_type.as_str())
                });
            if !candidates {
                continue;
            }
            let ctx = Ctx::lazy(table, &memo, oracle, &current);
            let mut patch = Patch::default();
            if rule.ops().is_empty() {
                if let Some(p) = rule.whole(&current, &blocked, &ctx) {
                    patch = p;
                }
            } else {
                let mut nodes: Vec<usize> = blocked.nodes.iter().copied().collect();
                nodes.sort();
                for i in nodes {
                    if rule
                        .ops()
                        .contains(&current.graph.nodes[i].op_type.as_str())
                    {
                        if let Some(p) = rule.node(&current, i, &ctx) {
                            patch.merge(p);
                        }
                    }
                }
            }
            if patch.is_empty() || refused.contains(&(rule.name(), patch.nodes.clone())) {
                continue;
            }
            let mut candidate = current.clone();
            patch.apply(&mut candidate);
            let step = |status, drift| Step {
                rule: rule.name(),
                nodes: patch.nodes.clone(),
                edits: patch.edits.len(),
                status,
                drift,
            };
            match verify.drift(&candidate) {
                Ok(d) if d.within => {
                    log.push(step(StepStatus::Applied, Some(d)));
                    current = candidate;
                    state = verdict_of(&current, table);
                    memo = std::cell::OnceCell::new();
                    changed = true;
                }
                Ok(d) => {
                    let reason = format!(
                        "outside the tolerance: max abs {:.3e}, max rel {:.3e}, cosine {:.6}",
                        d.max_abs_error, d.max_rel_error, d.min_cosine
                    );
                    refused.insert((rule.name(), patch.nodes.clone()));
                    log.push(step(StepStatus::RolledBack { reason }, Some(d)));
                }
                Err(e) => {
                    refused.insert((rule.name(), patch.nodes.clone()));
                    log.push(step(
                        StepStatus::RolledBack {
                            reason: format!("the rewritten model did not run: {e}"),
                        },
                        None,
                    ));
                }
            }
        }
        if !changed {
            break;
        }
    }
    let after = state.0;
    Rewritten {
        model: current,
        log,
        before,
        after,
        tolerance: verify.tolerance(),
    }
}
