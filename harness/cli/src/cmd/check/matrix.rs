//! The terminal matrix of `check`: one row per model, one column per backend, then the blocking nodes.

use super::{Cell, Document};
use edgebench_bench::prediction::Verification;
use edgebench_compat::Verdict;
use std::collections::BTreeMap;
use std::path::Path;

fn cell_text(c: &Cell) -> String {
    let k = &c.check;
    let mut s = match k.verdict {
        Verdict::Runs => "runs".to_string(),
        Verdict::Partial => format!(
            "partial {}p {:.0}%",
            k.partitions.count,
            k.partitions.supported_share * 100.0
        ),
        Verdict::No => "no".to_string(),
        Verdict::Unknown => format!("unknown ({} nodes)", k.unknown_nodes),
    };
    if k.unknown_nodes > 0 && k.verdict != Verdict::Unknown {
        s.push_str(&format!(" +{}?", k.unknown_nodes));
    }
    match &c.verify {
        Some(Verification::Agree { .. }) => s.push_str(" ✓"),
        Some(Verification::PredictedRunsButFailed { .. }) => s.push_str(" ✗ failed"),
        Some(Verification::PredictedFailsButRan) => s.push_str(" ✗ ran"),
        Some(Verification::NotVerified { .. }) => s.push_str(" ? not verified"),
        Some(Verification::Unknown { ran: true, .. }) => s.push_str(" → ran"),
        Some(Verification::Unknown { ran: false, .. }) => s.push_str(" → failed"),
        Some(Verification::WrongPlacement { .. }) => s.push_str(" ✗ placement"),
        None => {}
    }
    if let Some(p) = &c.placement {
        let n = p.predicted.accelerated + p.predicted.on_cpu_kernels.len();
        s.push_str(&format!(
            " | {} {}/{}",
            p.predicted.accelerator, p.predicted.accelerated, n
        ));
        match &p.verification {
            Some(v) if v.wrong() => s.push_str(" ✗"),
            Some(Verification::NotVerified { .. }) => s.push_str(" ?"),
            Some(_) => s.push_str(" ✓"),
            None => {}
        }
    }
    if let Some(r) = &c.after_rewrites {
        s.push_str(" -> runs after rewrites");
        match &r.verification {
            Some(v) if v.wrong() => s.push_str(" ✗"),
            Some(Verification::NotVerified { .. }) => s.push_str(" ?"),
            Some(_) => s.push_str(" ✓"),
            None => {}
        }
    }
    s
}

pub(super) fn print(doc: &Document) {
    // Columns: every backend any model was judged on, in order of first appearance (ONNX and TFLite models are
    // judged on different backends; a model's cell is blank under a backend that does not read its format).
    let mut order: Vec<String> = vec![];
    for c in doc.models.iter().flat_map(|m| &m.backends) {
        if !order.contains(&c.check.backend) {
            order.push(c.check.backend.clone());
        }
    }
    let width = doc
        .models
        .iter()
        .map(|m| m.model.len())
        .max()
        .unwrap_or(5)
        .clamp(5, 40);
    print!("{:width$}", "model");
    for b in &order {
        print!(
            "  {:22}",
            format!(
                "{b} ({})",
                doc.tables.get(b).map(String::as_str).unwrap_or("?")
            )
        );
    }
    println!();
    for m in &doc.models {
        let short: String = Path::new(&m.model)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or(m.model.clone());
        print!(
            "{:width$}",
            if m.model.contains('/') {
                short
            } else {
                m.model.clone()
            }
        );
        for b in &order {
            match m.backends.iter().find(|c| &c.check.backend == b) {
                Some(c) => print!("  {:22}", cell_text(c)),
                None => print!("  {:22}", "-"),
            }
        }
        println!();
    }
    for m in &doc.models {
        for c in &m.backends {
            let k = &c.check;
            for f in &k.findings {
                if m.backends
                    .first()
                    .is_some_and(|f| f.check.backend == k.backend)
                {
                    println!(
                        "  {}: {:?}: {}{}",
                        m.model,
                        f.severity,
                        f.message,
                        f.node
                            .as_ref()
                            .map(|n| format!(" (node {n})"))
                            .unwrap_or_default()
                    );
                }
            }
            // The placement line when it says more than the matrix: nodes left to the runtime, several
            // partitions, or a verification that did not hold.
            if let Some(p) = c.placement.as_ref().filter(|p| {
                !p.predicted.on_cpu_kernels.is_empty()
                    || p.predicted.partitions > 1
                    || !matches!(p.verification, None | Some(Verification::Agree { .. }))
            }) {
                let pr = &p.predicted;
                print!(
                    "  {} on {}: placement predicted: {} takes {} node(s) in {} partition(s), {} on the runtime's kernels",
                    m.model,
                    k.backend,
                    pr.accelerator,
                    pr.accelerated,
                    pr.partitions,
                    pr.on_cpu_kernels.len()
                );
                match &p.observed {
                    Some(o) => println!(
                        "; observed: {} on the runtime's kernels, {} partition(s)",
                        o.on_cpu_kernels.len(),
                        o.partitions
                    ),
                    None => println!(),
                }
                match &p.verification {
                    Some(Verification::WrongPlacement { detail }) => {
                        println!("    wrong placement: {detail}")
                    }
                    Some(Verification::NotVerified { reason, detail }) => {
                        println!("    placement not verified ({reason:?}): {detail}")
                    }
                    _ => {}
                }
            }
            if k.blocking.is_empty()
                && k.unknown.is_empty()
                && !c.verify.as_ref().is_some_and(|v| v.wrong())
            {
                if let Some(Verification::NotVerified { reason, detail }) = &c.verify {
                    println!(
                        "  {} on {}: not verified ({reason:?}): {detail}",
                        m.model, k.backend
                    );
                }
                continue;
            }
            // Group blocking nodes by reason and op: one line each, with a few node names.
            let mut groups: BTreeMap<(String, String), Vec<&edgebench_compat::Blocking>> =
                BTreeMap::new();
            for b in k.not_supported() {
                groups
                    .entry((b.reason.to_string(), b.op.clone()))
                    .or_default()
                    .push(b);
            }
            println!(
                "  {} on {}: {} of {} nodes supported, {} unknown, {} partition(s), biggest {}",
                m.model,
                k.backend,
                k.supported_nodes,
                k.nodes,
                k.unknown_nodes,
                k.partitions.count,
                k.partitions.biggest
            );
            for ((reason, op), nodes) in groups.iter().take(12) {
                let names: Vec<&str> = nodes
                    .iter()
                    .take(3)
                    .map(|b| {
                        if b.node.is_empty() {
                            "(unnamed)"
                        } else {
                            b.node.as_str()
                        }
                    })
                    .collect();
                println!(
                    "    {op} x{}: {reason} [{}{}]",
                    nodes.len(),
                    names.join(", "),
                    if nodes.len() > 3 { ", ..." } else { "" }
                );
            }
            if groups.len() > 12 {
                println!("    ... {} more groups (--json for all)", groups.len() - 12);
            }
            match &c.verify {
                Some(Verification::PredictedRunsButFailed { error }) => {
                    println!("    predicted to run, but failed: {error}")
                }
                Some(Verification::PredictedFailsButRan) => {
                    println!("    predicted not to run, but it ran")
                }
                Some(Verification::NotVerified { reason, detail }) => {
                    println!("    not verified ({reason:?}): {detail}")
                }
                Some(Verification::Unknown { ran: true, .. }) => println!(
                    "    unknown to the table: it ran (`edgebench probe --backend {} --observe MODEL` records it)",
                    k.backend
                ),
                Some(Verification::Unknown { ran: false, error }) => println!(
                    "    unknown to the table: it failed: {}",
                    error.as_deref().unwrap_or("?")
                ),
                _ => {}
            }
        }
    }
    if let Some(s) = &doc.verify_summary {
        println!(
            "verify: {} cells: {} verified ({} held, {} wrong), {} unknown to the tables (run to learn), {} not verified",
            s.cells, s.verified, s.held, s.wrong, s.unknown, s.not_verified
        );
    }
}
