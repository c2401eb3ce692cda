//! `edgebench profile MODEL... [--backend B...]`: where the time goes, per ONNX node, on every backend that has a
//! per-op profiler; each (model, backend) profiled in its own child (`edgebench profile-one`).

use super::{fetcher, manifest, print_json};
use crate::resolve;
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_bench::profile::{self as prof, Ask};
use edgebench_bench::{discover, prediction};
use edgebench_report::profile::ProfileOutcome;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Version of the `profile --json` document (docs/profile.md).
pub const FORMAT_VERSION: u32 = 1;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model files, zoo names (cached) or fixture names.
    #[arg(required = true)]
    models: Vec<String>,
    /// Backends to profile (default: every single backend available here).
    #[arg(long, short)]
    backend: Vec<String>,
    /// Profiled runs, after the warm-up.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Warm-up runs, not profiled.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Inputs, `NAME=DTYPE[SHAPE]` (otherwise the manifest feed, declared shapes, or discovery).
    #[arg(long = "feed", value_name = "SPEC")]
    feed: Vec<String>,
    /// A symbolic dim's value, `NAME=VALUE` (repeatable).
    #[arg(long = "dim", value_name = "NAME=VALUE")]
    dim: Vec<String>,
    /// Nodes shown per profile (the JSON has them all).
    #[arg(long, default_value_t = 15)]
    top: usize,
    /// Threads per inference for backends that take a count (ONNX Runtime's intra-op pool), as `bench --threads`.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Seconds before a profiling child is stopped.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Machine-readable output (docs/profile.md).
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct OneArgs {
    model: PathBuf,
    #[arg(long, short)]
    backend: String,
    #[arg(long = "feed", value_name = "SPEC")]
    feed: Vec<String>,
    #[arg(long, default_value_t = 20)]
    runs: usize,
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Serialize)]
struct ModelProfiles {
    model: String,
    feed: Vec<String>,
    profiles: Vec<ProfileOutcome>,
}

#[derive(Serialize)]
struct Document {
    format_version: u32,
    models: Vec<ModelProfiles>,
}

/// The `profile-one` child: prints its [`prof::ChildReport`] as JSON.
pub fn one(a: OneArgs, registry: &Registry) -> Result<()> {
    if let Some(n) = a.threads {
        crate::registry::set_threads(n);
    }
    let (backend, _) = edgebench_bench::machine::available(registry, &a.backend)?;
    let m = resolve::model(&a.model.display().to_string(), &fetcher(), &manifest())?;
    let model = resolve::load(&m)?;
    let fitted = resolve::feed(&model, &m, &a.feed, &[])?;
    let oracle = registry.get(edgebench_bench::prepare::ORACLE).ok();
    let r = prof::child(
        backend,
        oracle,
        &m.path,
        &fitted.specs,
        a.seed,
        a.warmup,
        a.runs,
    )?;
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

fn backends(a: &Args, registry: &Registry) -> Result<Vec<String>> {
    if !a.backend.is_empty() {
        return a
            .backend
            .iter()
            .map(|b| {
                Ok(edgebench_bench::machine::available(registry, b)?
                    .0
                    .name()
                    .to_string())
            })
            .collect();
    }
    Ok(edgebench_bench::machine::available_single(registry))
}

pub fn run(a: Args, registry: &Registry, ort_lib: Option<&Path>) -> Result<()> {
    let names = backends(&a, registry)?;
    let roofs = prof::host_roofs();
    let reference = edgebench_bench::machine::reference(registry);
    let runs = prediction::Runs {
        timeout: a.timeout,
        memory_limit: None,
        ort_lib,
        backend_failed: crate::exit::BACKEND_FAILED,
    };
    let mut doc = Document {
        format_version: FORMAT_VERSION,
        models: vec![],
    };
    for arg in &a.models {
        let m = resolve::model(arg, &fetcher(), &manifest())?;
        let model = resolve::load(&m)?;
        let asked = discover::Asked {
            path: &m.path,
            model: &model,
            label: &m.label,
            feed_flags: &a.feed,
            dim_flags: &a.dim,
            defaults: &m.default_feed,
        };
        let cache = edgebench_models::cache_dir().join("discovered");
        let (fitted, _) = discover::fit_or_discover(&asked, reference, &runs, Some(&cache));
        let fitted = fitted.map_err(|e| crate::exit::fail(crate::exit::USAGE, e.to_string()))?;
        if !a.json {
            resolve::print_notes(&fitted);
        }
        let feed: Vec<String> = fitted.specs.iter().map(|s| s.to_string()).collect();
        let scratch = tempfile::tempdir()?;
        let named = prof::named_copy(&model, scratch.path())?;
        let (model, path) = match &named {
            Some((x, p)) => (x, p.as_path()),
            None => (&model, m.path.as_path()),
        };
        let shapes = edgebench_graph::stats::ShapeMap::from_model(model, &HashMap::new());
        let ask = Ask {
            path,
            model,
            feed: &feed,
            warmup: a.warmup,
            runs: a.runs.max(1),
            timeout: a.timeout,
            ort_lib,
            threads: a.threads.map(usize::from),
            unavailable_code: crate::exit::UNAVAILABLE,
        };
        let mut profiles = vec![];
        for b in &names {
            let table = edgebench_compat::embedded_ref(b).and_then(Result::ok);
            let check = table.map(|t| edgebench_compat::check(model, t, &shapes));
            profiles.push(prof::profile_on(
                &ask,
                b,
                prof::this_exe(&ask, b),
                Some(&roofs),
                check.as_ref(),
            ));
        }
        doc.models.push(ModelProfiles {
            model: m.label.clone(),
            feed,
            profiles,
        });
    }
    if a.json {
        return print_json(&doc);
    }
    for m in &doc.models {
        print!(
            "{}",
            edgebench_report::profile::text(&m.model, &m.profiles, a.top)
        );
    }
    Ok(())
}
