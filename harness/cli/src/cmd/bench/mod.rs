//! `edgebench bench`: what a model costs on a target. Parses the words, asks `edgebench_bench::prepare` for the
//! plan's parts (models, predictions, verified rewrites, variants, sites), hands the plan to the orchestrator, and
//! prints (the terminal table and progress bar; `results.json` is written by the library).

mod ab;
mod args;

pub use args::Args;

use super::{manifest, print_json};
use crate::exit::{USAGE, fail};
use crate::terminal::{self, Terminal};
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_bench::events::ResultsWriter;
use edgebench_bench::machine;
use edgebench_bench::orchestrate::{self, RunInfo, Start};
use edgebench_bench::plan::{self, Plan};
use edgebench_bench::prepare::{self, ModelRequest, Preparer};
use edgebench_bench::runner::Context;
use edgebench_report::{Partition, Settings};
use std::path::Path;

/// The model words of the command line: every fixture and cached zoo model when none is given.
fn model_words(a: &Args) -> Result<Vec<String>> {
    let mut out = a.models.clone();
    if a.zoo {
        out.extend(super::zoo_names()?);
    }
    if out.is_empty() {
        let f = super::fetcher();
        out.extend(
            edgebench_graph::fixtures::NAMES
                .iter()
                .chain(edgebench_graph::tflite::fixtures::NAMES)
                .map(|s| s.to_string()),
        );
        out.extend(
            manifest()
                .model
                .iter()
                .filter(|z| f.cached(z).is_some())
                .map(|z| z.name.clone()),
        );
    }
    if !a.feed.is_empty() && out.len() != 1 {
        return Err(fail(USAGE, "--feed needs exactly one model"));
    }
    if !a.dim.is_empty() && out.is_empty() {
        return Err(fail(USAGE, "--dim needs a model"));
    }
    Ok(out)
}

pub fn run(a: Args, registry: &Registry, ort_lib: Option<&Path>) -> Result<()> {
    // Flags are checked before anything costs time.
    let ab = ab::side(&a)?;
    let names: Vec<String> = if a.target.is_empty() {
        vec!["host".into()]
    } else {
        a.target.clone()
    };
    let partition = a
        .partition
        .as_deref()
        .map(Partition::parse)
        .transpose()
        .map_err(|e| fail(USAGE, e))?;
    let variants = plan::variants(&a.variants)?;
    let memory_limit = crate::flags::memory_limit(a.memory_limit.as_deref())?;
    let ctx = Context {
        exe: std::env::current_exe()?,
        ort_lib: ort_lib.map(Path::to_path_buf),
        host_triple: env!("EDGEBENCH_HOST_TRIPLE").into(),
        host_facts: machine::backend_facts(registry),
        ort_library: super::ort_library(ort_lib),
        workspace: Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    };
    let mut prep = Preparer::new(registry, super::build_id());
    prep.ort_lib = ort_lib.map(Path::to_path_buf);
    let mut on = terminal::preparation(a.json);
    let sites = prepare::sites(
        &names,
        a.targets.as_deref(),
        &ctx,
        a.ab,
        prep.cache(),
        &mut on,
    )?;
    let requests: Vec<ModelRequest> = model_words(&a)?
        .into_iter()
        .map(|word| ModelRequest {
            word,
            feed: a.feed.clone(),
            dims: a.dim.clone(),
        })
        .collect();
    let mut models = prep.models(&requests, &mut on)?;
    let requested = prepare::requested(&sites, &a.backend, registry)?;
    let mut backends: Vec<String> = requested.iter().map(|(_, b)| b.clone()).collect();
    backends.sort();
    backends.dedup();
    let compat = prep.compat(&models, &backends, &mut on)?;
    if !a.no_rewrite {
        prep.rewrites(&mut models, &compat, &mut on)?;
    }
    let mut variant_records = vec![];
    for m in &mut models {
        variant_records.extend(prep.variants(m, &variants, &mut on)?);
    }
    let mut plan = Plan {
        sites,
        requested,
        models,
        variants,
        variant_records,
        compat,
        settings: Settings {
            targets: names,
            seed: a.seed,
            target_rel_ci: a.ci,
            max_time_s: a.max_time,
            warmup_s: a.warmup,
            cell_timeout_s: a.timeout,
            cell_address_space_bytes: memory_limit,
            processes: a.processes as usize,
            paired: None,
            threads: a.threads.map(usize::from),
            profile: a.profile,
        },
        feed_flags: [a.feed.clone(), a.dim.clone()].concat(),
        ab,
        partition,
    };
    let start = match &a.resume {
        Some(dir) => Start::Resume { dir: dir.clone() },
        None => Start::New {
            root: a.out.clone(),
        },
    };
    let info = RunInfo {
        machine: machine::record(registry, false),
        edgebench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("EDGEBENCH_GIT_COMMIT").into(),
    };
    edgebench_bench::handle_interrupts();
    let mut writer = ResultsWriter::default();
    let mut terminal = Terminal::new(a.json);
    let (results, dir) =
        orchestrate::execute(&mut plan, start, info, &mut [&mut writer, &mut terminal])?;
    let b_dir = results
        .settings
        .paired
        .as_ref()
        .and_then(|p| dir.parent().map(|root| root.join(&p.other_run)));
    if a.json {
        print_json(&results)?;
    } else if let Some(b) = b_dir {
        println!("results (side a): {}", dir.join("results.json").display());
        println!("results (side b): {}", b.join("results.json").display());
        println!(
            "compare: edgebench gate --baseline {} --candidate {}",
            dir.display(),
            b.display()
        );
    } else {
        println!("results: {}", dir.join("results.json").display());
    }
    Ok(())
}
