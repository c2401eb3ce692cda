//! `edgebench inspect MODEL`.

use super::{bytes, fetcher, manifest, print_json, si};
use crate::{registry, resolve};
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_graph::{ValueInfo, shape_string};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A model file, a zoo model name (cached) or a fixture name.
    model: String,
    /// Concrete input shapes for the FLOP estimate, `NAME=DTYPE[SHAPE]` (zoo models default to the manifest's feed).
    #[arg(long = "feed", value_name = "SPEC")]
    feed: Vec<String>,
    /// A symbolic dim's value, `NAME=VALUE`, wherever it appears (repeatable).
    #[arg(long = "dim", value_name = "NAME=VALUE")]
    dim: Vec<String>,
    /// Do not ask the reference backend (tract) to infer intermediate shapes.
    #[arg(long)]
    no_infer: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Resolves, loads and summarises a model; shapes come from the model, the feed and (unless `infer` is false) the
/// reference backend's shape inference.
pub fn analyse(
    model_arg: &str,
    feed_flags: &[String],
    dim_flags: &[String],
    registry: &Registry,
    infer: bool,
) -> Result<edgebench_models::inspect::Report> {
    let m = resolve::model(model_arg, &fetcher(), &manifest())?;
    let model = resolve::load(&m)?;
    // A feed only serves the FLOP estimate: without one, dynamic inputs just leave some FLOPs unknown. A feed the
    // user gave must still be right.
    let feed = match resolve::feed(&model, &m, feed_flags, dim_flags) {
        Ok(f) => Some(f.specs),
        Err(_) if feed_flags.is_empty() && dim_flags.is_empty() => None,
        Err(e) => return Err(e),
    };
    let reference = registry.get(registry::REFERENCE).ok().filter(|_| infer);
    Ok(edgebench_models::inspect::report(
        &m,
        &model,
        feed.as_deref(),
        reference,
    ))
}

pub fn run(a: Args, registry: &Registry) -> Result<()> {
    let report = analyse(&a.model, &a.feed, &a.dim, registry, !a.no_infer)?;
    if a.json {
        return print_json(&report);
    }
    let s = &report.summary;
    let vi = |v: &ValueInfo| match v.ty.as_ref().and_then(|t| t.as_tensor()) {
        Some((dt, shape)) => format!("{} {} {}", v.name, dt, shape_string(shape)),
        None => format!(
            "{} {}",
            v.name,
            v.ty.as_ref()
                .map(|t| format!("{t:?}"))
                .unwrap_or_else(|| "(untyped)".into())
        ),
    };
    println!(
        "model     {} ({}, {})",
        report.model,
        report.path,
        bytes(report.file_bytes)
    );
    println!(
        "ir        {}   producer: {}",
        s.ir_version,
        if s.producer.is_empty() {
            "(none)"
        } else {
            &s.producer
        }
    );
    println!(
        "opsets    {}",
        s.opset_imports
            .iter()
            .map(|(d, v)| format!("{d} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for i in &s.inputs {
        println!("input     {}", vi(i));
    }
    for o in &s.outputs {
        println!("output    {}", vi(o));
    }
    println!(
        "nodes     {} ({} in the main graph, {} in {} subgraphs)",
        s.total_nodes,
        s.main_graph_nodes,
        s.total_nodes - s.main_graph_nodes,
        s.subgraphs
    );
    let mut ops: Vec<(&String, &usize)> = s.op_histogram.iter().collect();
    ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!(
        "ops       {}",
        ops.iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "params    {} ({}): {}",
        si(s.total_params as f64),
        bytes(s.total_param_bytes),
        s.params_by_dtype
            .iter()
            .map(|(d, p)| format!(
                "{d} {} tensors {} elements {}",
                p.tensors,
                si(p.elements as f64),
                bytes(p.bytes)
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    if s.external_data_tensors > 0 {
        println!(
            "external  {} tensors with external data",
            s.external_data_tensors
        );
    }
    let f = &s.flops;
    let by: Vec<String> = f
        .macs_by_op
        .iter()
        .map(|(o, m)| format!("{o} {}", si(*m as f64)))
        .collect();
    println!(
        "compute   {}MAC = {}FLOP{}{}",
        si(f.total_macs as f64),
        si(f.total_flops as f64),
        if by.is_empty() {
            String::new()
        } else {
            format!(" ({})", by.join(", "))
        },
        if f.unknown_shape_nodes.is_empty() {
            String::new()
        } else {
            format!(
                "; {} nodes with unknown shapes not counted",
                f.unknown_shape_nodes.len()
            )
        }
    );
    println!("shapes    {}", report.shape_sources.join(" + "));
    Ok(())
}
