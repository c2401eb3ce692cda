//! `edgebench bench-cell --request JSON` (hidden): one bench cell measured in this fresh, small process, as the
//! cell protocol of `edgebench_bench::cell` asks; the report is one JSON line on stdout.

use super::{fetcher, manifest};
use crate::exit::{USAGE, fail};
use crate::resolve;
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_bench::cell::{self, CellRequest};
use edgebench_measure::process;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The cell, as `edgebench_bench::cell::CellRequest` JSON.
    #[arg(long)]
    request: String,
}

pub fn run(a: Args, registry: &Registry) -> Result<()> {
    edgebench_bench::injected_fault();
    let baseline = process::status_bytes("VmRSS").unwrap_or(0);
    process::reset_peak_rss();
    let req = CellRequest::parse(&a.request)?;
    if let Some(n) = req.threads {
        crate::registry::set_threads(n);
    }
    crate::flags::limit_cell_address_space(registry, &req.backend, req.address_space_bytes)?;
    // The request names the variant's own file; the name is only checked.
    if !edgebench_bench::plan::VARIANTS.contains(&req.variant.as_str()) {
        return Err(fail(
            USAGE,
            format!("{}: variant `{}` is not known", req.label, req.variant),
        ));
    }
    let mut m = resolve::model(&req.model, &fetcher(), &manifest())?;
    m.label = req.label.clone();
    let model = resolve::load(&m)?;
    let specs = resolve::feed(&model, &m, &req.feed, &[])?.specs;
    drop(model);
    let (backend, version) = edgebench_bench::machine::available(registry, &req.backend)?;
    let feed = edgebench_bench::oneshot::tensors(&specs, req.seed)?;
    let inputs = resolve::input_specs(&specs);
    let measured = cell::measure(
        &req,
        version,
        baseline,
        || backend.load(&m.path, &inputs).map_err(|e| e.to_string()),
        &feed,
    )?;
    println!("{}", serde_json::to_string(&measured)?);
    Ok(())
}
