//! `bench --profile`: after a host cell's timed pass, a separate profiled pass of the same file and feed in a child
//! of its own, so that profiling never touches the cell's timings.

use super::CellCtx;
use crate::profile::{self, Ask};
use edgebench_report::profile::ProfileOutcome;
use edgebench_report::{Cell, Outcome, Roofs};

/// Warm-up and profiled runs of the pass.
const WARMUP: usize = 5;
const RUNS: usize = 20;

/// The profile of an `ok` cell (`None` for one that failed: there is nothing to profile).
pub(super) fn profile(c: &CellCtx, cell: &Cell) -> Option<ProfileOutcome> {
    if cell.outcome != Outcome::Ok {
        return None;
    }
    let backend = c.key.backend.as_str();
    let unavailable = |reason: String| {
        Some(ProfileOutcome::NotAvailable {
            backend: backend.into(),
            reason,
        })
    };
    let site = c.site();
    let failed = |error: String| {
        Some(ProfileOutcome::Failed {
            backend: backend.into(),
            error,
        })
    };
    let model = match edgebench_graph::load(c.file()) {
        Ok(m) => m,
        Err(e) => return failed(e.to_string()),
    };
    let scratch = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return failed(e.to_string()),
    };
    let named = match profile::named_copy(&model, scratch.path()) {
        Ok(n) => n,
        Err(e) => return failed(e.to_string()),
    };
    let (model, path) = match &named {
        Some((m, p)) => (m, p.as_path()),
        None => (&model, c.file()),
    };
    let feed = &c.model().feed;
    let ask = Ask {
        path,
        model,
        feed,
        warmup: WARMUP,
        runs: RUNS,
        timeout: c.plan.settings.cell_timeout_s,
        ort_lib: None,
        threads: c.plan.settings.threads,
        unavailable_code: crate::EXIT_UNAVAILABLE,
    };
    let Some(cmd) = site.runner.edgebench(&profile::child_args(&ask, backend)) else {
        return unavailable(format!(
            "bench --profile profiles this machine's cells; {}'s run on its {} runner",
            site.name,
            site.runner.kind()
        ));
    };
    let t = &site.target;
    let roofs = Roofs {
        peak_gflops: t.peak_gflops,
        mem_bandwidth_gbs: t.mem_bandwidth_gbs,
        source: super::finish::roof_source(t).into(),
        detail: t.measured_roofs.clone().unwrap_or_else(|| t.source.clone()),
    };
    let table = edgebench_compat::embedded_ref(backend).and_then(Result::ok);
    let shapes = edgebench_graph::stats::ShapeMap::from_model(model, &Default::default());
    let check = table.map(|tb| edgebench_compat::check(model, tb, &shapes));
    let on_gpu = site
        .runner
        .facts()
        .iter()
        .any(|f| f.name == backend && f.on_gpu());
    let mut out = profile::profile_on(
        &ask,
        backend,
        Ok(cmd),
        (!on_gpu).then_some(&roofs),
        check.as_ref(),
    );
    // A cell that ran the verified rewrite: the nodes the rules made, named with the rules.
    if let (ProfileOutcome::Profiled(p), Some(w)) =
        (&mut out, cell.rewrite.as_ref().filter(|w| w.used))
        && let Ok(mut original) = edgebench_graph::load(&c.model().path)
    {
        edgebench_rewrite::name_nodes(&mut original);
        let before: std::collections::HashSet<&str> = original
            .graph
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        let rules = w.rules.join(" → ");
        for n in p
            .nodes
            .iter_mut()
            .filter(|n| !before.contains(n.node.as_str()))
        {
            n.rewrite = Some(format!("made by the rewrite ({rules})"));
        }
    }
    Some(out)
}
