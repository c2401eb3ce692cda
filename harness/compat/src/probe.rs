//! Conformance probe results and the table they regenerate.

use crate::table::{Header, OpEntry, Source, SupportTable};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How one conformance test went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    /// Ran, outputs beyond tolerance.
    Mismatch,
    /// The backend refused to load or run it (its message is kept).
    Unsupported,
    /// The child process died.
    Crash,
    Timeout,
    /// A type the loader cannot feed or read (bfloat16, float8, int4, string, sequence, optional...).
    NotRun,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pass,
        Status::Mismatch,
        Status::Unsupported,
        Status::Crash,
        Status::Timeout,
        Status::NotRun,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Mismatch => "mismatch",
            Status::Unsupported => "unsupported",
            Status::Crash => "crash",
            Status::Timeout => "timeout",
            Status::NotRun => "not-run",
        }
    }
}

/// One test's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestOutcome {
    /// The test folder name (`test_add_bcast`).
    pub test: String,
    /// `(domain, op)` of the test's nodes, if it has exactly one node (expanded tests are not attributed).
    pub op: Option<(String, String)>,
    /// The model's opset for the op's domain.
    pub opset: Option<i64>,
    /// Element type of the node's first input.
    pub dtype: Option<String>,
    pub status: Status,
    /// Worst error (mismatch), or the backend's / loader's message.
    pub detail: String,
}

/// Counts per status.
pub fn summary(outcomes: &[TestOutcome]) -> BTreeMap<Status, usize> {
    let mut m = BTreeMap::new();
    for s in Status::ALL {
        m.insert(s, 0);
    }
    for o in outcomes {
        *m.entry(o.status).or_insert(0) += 1;
    }
    m
}

pub fn summary_line(outcomes: &[TestOutcome]) -> String {
    summary(outcomes)
        .iter()
        .map(|(s, n)| format!("{} {n}", s.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Regenerates the probed part of a table from outcomes. Hand-kept `[[constraint]]`s, `requires`, and
/// non-probed `[[op]]` entries of `previous` are kept (a documented entry of an op this probe tested gives way). With `subset` (a filtered probe), the previous probed entries
/// of ops this run did not test are kept too, and the previous header's summary and ceiling stay.
pub fn table_from_probe(
    mut header: Header,
    outcomes: &[TestOutcome],
    previous: Option<&SupportTable>,
    subset: bool,
) -> SupportTable {
    let default_domain = |o: &&TestOutcome| {
        o.op.as_ref()
            .is_some_and(|(d, _)| crate::table::domain_name(d) == "ai.onnx")
    };
    let ceiling = outcomes
        .iter()
        .filter(default_domain)
        .filter(|o| o.status == Status::Pass)
        .filter_map(|o| o.opset)
        .max();
    header.max_opset = ceiling;
    let above = |o: &TestOutcome| {
        crate::table::domain_name(o.op.as_ref().map(|(d, _)| d.as_str()).unwrap_or("")) == "ai.onnx"
            && o.opset.zip(ceiling).is_some_and(|(x, c)| x > c)
    };
    let mut by_op: BTreeMap<(String, String), Vec<&TestOutcome>> = BTreeMap::new();
    for o in outcomes {
        if let Some((d, op)) = &o.op {
            if o.status != Status::NotRun {
                by_op
                    .entry((crate::table::domain_name(d).to_string(), op.clone()))
                    .or_default()
                    .push(o);
            }
        }
    }
    let mut ops: Vec<OpEntry> = by_op
        .into_iter()
        .map(|((domain, op), tests)| {
            let passed: Vec<&&TestOutcome> = tests.iter().filter(|t| t.status == Status::Pass).collect();
            // Failures above the backend's opset ceiling are about the opset, not the op.
            let failed: Vec<&&TestOutcome> = tests.iter().filter(|t| t.status != Status::Pass && !above(t)).collect();
            let only_above = passed.is_empty() && failed.is_empty();
            let opsets = passed.iter().filter_map(|t| t.opset).fold(None, |acc: Option<[i64; 2]>, o| match acc {
                None => Some([o, o]),
                Some([a, b]) => Some([a.min(o), b.max(o)]),
            });
            let mut dtypes: Vec<String> = passed.iter().filter_map(|t| t.dtype.clone()).collect();
            dtypes.sort();
            dtypes.dedup();
            let mut failed_dtypes: Vec<String> = failed
                .iter()
                .filter(|t| t.status != Status::Timeout)
                .filter_map(|t| t.dtype.clone())
                .filter(|d| !dtypes.contains(d))
                .collect();
            failed_dtypes.sort();
            failed_dtypes.dedup();
            let mut failures: Vec<String> = failed
                .iter()
                .take(3)
                .map(|t| {
                    let d: String = t.detail.chars().take(160).collect();
                    format!("{}: {}: {d}", t.test, t.status.name())
                })
                .collect();
            if failed.len() > 3 {
                failures.push(format!("... and {} more", failed.len() - 3));
            }
            OpEntry {
                domain,
                op,
                source: Source::Probed,
                supported: !passed.is_empty() || only_above,
                opsets,
                dtypes,
                failed_dtypes,
                passed: passed.len() as u32,
                failed: failed.len() as u32,
                failures,
                notes: if only_above {
                    format!("only tested above this backend's opset ceiling ({}): untested, assumed to run", ceiling.unwrap_or(0))
                } else {
                    String::new()
                },
            }
        })
        .collect();
    let mut constraint = vec![];
    let mut requires = Default::default();
    if let Some(p) = previous {
        constraint = p.constraint.clone();
        requires = p.requires.clone();
        if subset {
            for e in p.op.iter().filter(|e| e.source == Source::Probed) {
                if !ops.iter().any(|x| x.domain == e.domain && x.op == e.op) {
                    ops.push(e.clone());
                }
            }
            header.probed_with = p.header.probed_with.clone();
            header.probe_summary = p.header.probe_summary.clone();
            header.max_opset = p.header.max_opset;
        }
        for e in p.op.iter().filter(|e| e.source != Source::Probed) {
            // Evidence ranks documented < probed < observed: a probe replaces what the docs said of an op it tested.
            if e.source == Source::Documented
                && ops.iter().any(|x| x.domain == e.domain && x.op == e.op)
            {
                continue;
            }
            ops.retain(|x| !(x.domain == e.domain && x.op == e.op));
            ops.push(e.clone());
        }
        ops.sort_by(|a, b| (&a.domain, &a.op).cmp(&(&b.domain, &b.op)));
    }
    SupportTable {
        header,
        requires,
        op: ops,
        constraint,
        placement: previous.and_then(|p| p.placement.clone()),
    }
}
