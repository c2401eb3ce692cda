//! `edgebench doctor`: for every backend, compiled in / available here (or why not) / version and details; the host.

use super::{bytes, fetcher, manifest, print_json};
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_bench::machine::{Host, backend_facts, host};
use edgebench_report::BackendFacts;
use serde::Serialize;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Measure the roofs again even if this machine's are cached.
    #[arg(long)]
    remeasure_roofs: bool,
}

#[derive(Serialize)]
struct Doctor {
    edgebench: &'static str,
    git_commit: &'static str,
    backends: Vec<BackendFacts>,
    host: Host,
    /// Measured on this machine (FMA kernel, triad), cached per machine.
    roofs: edgebench_measure::roofs::Roofs,
    roofs_cached: bool,
    cache: String,
    cached_models: Vec<String>,
}

pub fn run(a: Args, registry: &Registry) -> Result<()> {
    let backends = backend_facts(registry);
    let f = fetcher();
    let cached_models = manifest().split_cached(&f).0;
    let (roofs, roofs_cached) = edgebench_bench::machine::host_roofs(&f.cache, a.remeasure_roofs);
    let d = Doctor {
        roofs,
        roofs_cached,
        edgebench: env!("CARGO_PKG_VERSION"),
        git_commit: env!("EDGEBENCH_GIT_COMMIT"),
        backends,
        host: host(),
        cache: f.cache.display().to_string(),
        cached_models,
    };
    if a.json {
        return print_json(&d);
    }
    println!("edgebench {} ({})", d.edgebench, d.git_commit);
    for b in &d.backends {
        let state = match (b.compiled_in, b.available) {
            (false, _) => "compiled in: no ".to_string(),
            (true, true) => format!(
                "compiled in: yes  available: yes  version {}  computes on: {}",
                b.version.as_deref().unwrap_or("?"),
                b.device.as_deref().unwrap_or("cpu")
            ),
            (true, false) => "compiled in: yes  available: no ".to_string(),
        };
        println!("backend {:6} {state}", b.name);
        if let Some(r) = &b.reason {
            println!("    reason: {r}");
        }
        for (k, v) in &b.details {
            println!("    {k}: {v}");
        }
    }
    let h = &d.host;
    println!(
        "host    {} ({} logical / {} physical cores), {} RAM, {} ({}), kernel {}",
        h.cpu,
        h.logical_cores,
        h.physical_cores
            .map(|c| c.to_string())
            .unwrap_or("?".into()),
        bytes(h.memory_bytes),
        h.os,
        h.arch,
        h.kernel
    );
    println!(
        "roofs   {:.1} GFLOP/s fp32 ({} FMA kernel, {} threads), {:.1} GB/s triad: measured{}",
        d.roofs.peak_gflops,
        d.roofs.kernel,
        d.roofs.threads,
        d.roofs.mem_bandwidth_gbs,
        if d.roofs_cached {
            " (cached for this machine; --remeasure-roofs to measure again)"
        } else {
            " now"
        }
    );
    println!(
        "cache   {} ({} of {} zoo models cached)",
        d.cache,
        d.cached_models.len(),
        manifest().model.len()
    );
    Ok(())
}
