//! `edgebench run MODEL --backend B`: one inference with a seeded feed, optionally compared with another backend.

use super::{fetcher, manifest, print_json};
use crate::exit::{USAGE, fail};
use crate::resolve;
use anyhow::Result;
use edgebench_backend_api::Registry;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A model file, a zoo model name (cached) or a fixture name. Without it: the default plan of `bench` (every
    /// fixture and cached zoo model on every available backend, each cell in its own process).
    model: Option<String>,
    /// Backend to run on (tract, ort, wonnx).
    #[arg(long, short, default_value = "tract")]
    backend: String,
    /// An input, `NAME=DTYPE[SHAPE]` with optional `:VALUE` or `:LO..HI` fill (repeatable).
    #[arg(long = "feed", value_name = "SPEC")]
    feed: Vec<String>,
    /// A symbolic dim's value, `NAME=VALUE`, wherever it appears (repeatable). Leading batch dims default to 1.
    #[arg(long = "dim", value_name = "NAME=VALUE")]
    dim: Vec<String>,
    /// Seed of the random feed; the same seed gives the same inputs on every backend and platform.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also run this backend on the same feed and report the agreement of each output.
    #[arg(long, value_name = "BACKEND")]
    compare: Option<String>,
    /// Default plan only (`bench`'s): seconds before a cell is stopped and recorded as a timeout.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Also report where each node ran (backends with an accelerator: litert's XNNPACK, litert-gpu), from one
    /// profiled run of its own.
    #[arg(long)]
    placement: bool,
    /// Also write the outputs as ONNX tensors to this file.
    #[arg(long, value_name = "FILE")]
    save_outputs: Option<std::path::PathBuf>,
    /// This run is a cell of `check --verify` (honours the EDGEBENCH_FAULT test hook).
    #[arg(long, hide = true)]
    cell: bool,
    /// Limit this process's address space to BYTES first (set by `check --verify`).
    #[arg(long, hide = true, value_name = "BYTES")]
    address_space: Option<u64>,
}

impl Args {
    /// Without MODEL, `run` is the default plan of `bench`: its seed, cell timeout and `--json`.
    pub fn default_plan(&self) -> Option<(u64, u64, bool)> {
        self.model
            .is_none()
            .then_some((self.seed, self.timeout, self.json))
    }
}

pub fn run(a: Args, registry: &Registry) -> Result<()> {
    let Some(model_arg) = a.model.clone() else {
        return Err(fail(
            USAGE,
            "run: no MODEL (the default plan is `edgebench bench`)",
        ));
    };
    if a.cell {
        edgebench_bench::injected_fault();
    }
    crate::flags::limit_cell_address_space(registry, &a.backend, a.address_space)?;
    let m = resolve::model(&model_arg, &fetcher(), &manifest())?;
    let model = resolve::load(&m)?;
    let fitted = resolve::feed(&model, &m, &a.feed, &a.dim)?;
    resolve::print_notes(&fitted);
    let specs = fitted.specs;
    let (backend, version) = edgebench_bench::machine::available(registry, &a.backend)?;
    let other = a
        .compare
        .as_deref()
        .map(|c| edgebench_bench::machine::available(registry, c))
        .transpose()?;
    let (report, outs) = edgebench_bench::oneshot::run(
        &m.label,
        &m.path,
        &specs,
        a.seed,
        (backend, version),
        other,
        a.placement,
    )?;
    if let Some(p) = &a.save_outputs {
        edgebench_backend_api::save_tensors(p, &outs)
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    }
    if a.json {
        return print_json(&report);
    }
    println!(
        "{} on {} {} (seed {}; feed {})",
        report.model,
        report.backend,
        report.version,
        report.seed,
        report.feed.join(" ")
    );
    for o in &report.outputs {
        let s = &o.summary;
        println!(
            "  {} {} {:?}  min {:.6} max {:.6} mean {:.6} std {:.6}{}{}",
            o.name,
            o.dtype,
            o.shape,
            s.min,
            s.max,
            s.mean,
            s.std,
            s.argmax.map(|i| format!(" argmax {i}")).unwrap_or_default(),
            if s.non_finite > 0 {
                format!(" non-finite {}", s.non_finite)
            } else {
                String::new()
            }
        );
    }
    if let Some(p) = &report.placement {
        let cpu: Vec<&str> = p
            .on_cpu_kernels
            .iter()
            .filter_map(|i| model.graph.nodes.get(*i).map(|n| n.name.as_str()))
            .collect();
        println!(
            "placement: {} ran {} operators in {} partition(s){}; {} node(s) on the runtime's own kernels{}",
            p.accelerator,
            p.accelerator_ops,
            p.partitions,
            if p.fully_accelerated {
                " (fully accelerated)"
            } else {
                ""
            },
            cpu.len(),
            if cpu.is_empty() {
                String::new()
            } else {
                format!(": {}", cpu.join(", "))
            }
        );
    }
    if let Some(c) = &report.compare {
        println!("compared with {} {}", c.backend, c.version);
        for o in &c.outputs {
            match (&o.agreement, &o.error) {
                (Some(ag), _) => println!(
                    "  {}  max abs err {:.3e}  max rel err {:.3e}  cosine {:.9}  same argmax {}",
                    o.name,
                    ag.max_abs_error,
                    ag.max_rel_error,
                    ag.cosine_similarity,
                    ag.same_argmax
                ),
                (None, Some(e)) => println!("  {}  not comparable: {e}", o.name),
                (None, None) => {}
            }
        }
    }
    Ok(())
}
