//! Fitting a feed to a model: which tensor each runtime input gets, checked against the declared dtype and dims.

use crate::feed::{FeedError, FeedSpec, Fill};
use edgebench_backend_api::{Backend, InputSpec};
use edgebench_graph::stats::ShapeMap;
use edgebench_graph::{Dim, Model, ValueType};
use std::collections::HashMap;
use std::path::Path;

/// The feed for a model: `--feed` flags first, then the zoo manifest's feed, then the model's own static shapes.
/// Every runtime input must end up fed with its declared dtype and a shape that fits its declared dims.
pub fn feed(
    model: &Model,
    label: &str,
    flags: &[String],
    defaults: &[FeedSpec],
) -> Result<Vec<FeedSpec>, FeedError> {
    let given: Vec<FeedSpec> = flags
        .iter()
        .map(|f| FeedSpec::parse(f))
        .collect::<Result<_, _>>()?;
    let inputs = model.graph.runtime_inputs();
    for g in &given {
        if !inputs.iter().any(|i| i.name == g.name) {
            let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(FeedError(format!(
                "{}: --feed names `{}`, which is not an input (inputs: {})",
                label,
                g.name,
                names.join(", ")
            )));
        }
    }
    let mut out = vec![];
    for i in inputs {
        let declared = i.ty.as_ref().and_then(ValueType::as_tensor);
        let spec = if let Some(g) = given.iter().find(|g| g.name == i.name) {
            g.clone()
        } else if let Some(d) = defaults.iter().find(|d| d.name == i.name) {
            d.clone()
        } else {
            let Some((dtype, Some(dims))) = declared else {
                return Err(FeedError(format!(
                    "{}: input `{}` has no declared tensor shape; give --feed {}=DTYPE[SHAPE]",
                    label, i.name, i.name
                )));
            };
            let shape = dims
                .iter()
                .map(Dim::value)
                .collect::<Option<Vec<u64>>>()
                .ok_or_else(|| {
                    FeedError(format!(
                        "{}: input `{}` has dynamic shape {}; give --feed {}={}[...]",
                        label,
                        i.name,
                        edgebench_graph::shape_string(Some(dims)),
                        i.name,
                        dtype
                    ))
                })?;
            FeedSpec {
                name: i.name.clone(),
                dtype,
                shape: shape.into_iter().map(|d| d as usize).collect(),
                fill: Fill::Random,
            }
        };
        if let Some((dtype, dims)) = declared {
            if spec.dtype != dtype {
                return Err(FeedError(format!(
                    "{}: input `{}` is {dtype}, but the feed gives {}",
                    label, i.name, spec.dtype
                )));
            }
            if let Some(dims) = dims {
                let fits = dims.len() == spec.shape.len()
                    && dims
                        .iter()
                        .zip(&spec.shape)
                        .all(|(d, s)| d.value().is_none_or(|v| v == *s as u64));
                if !fits {
                    return Err(FeedError(format!(
                        "{}: input `{}` has shape {}, but the feed gives {:?}",
                        label,
                        i.name,
                        edgebench_graph::shape_string(Some(dims)),
                        spec.shape
                    )));
                }
            }
        }
        out.push(spec);
    }
    Ok(out)
}

/// What backends are told about inputs before loading.
pub fn input_specs(specs: &[FeedSpec]) -> Vec<InputSpec> {
    specs
        .iter()
        .map(|s| InputSpec {
            name: s.name.clone(),
            dtype: s.dtype,
            shape: s.shape.clone(),
        })
        .collect()
}

/// The shapes of a model's values: its own annotations, the feed's input shapes, then (with a feed) what the
/// `reference` backend infers for the rest; and where they came from, in order.
pub fn shapes(
    model: &Model,
    path: &Path,
    feed: Option<&[FeedSpec]>,
    reference: Option<&dyn Backend>,
) -> (ShapeMap, Vec<String>) {
    let mut sources = vec!["model annotations".to_string()];
    let mut overrides = HashMap::new();
    for s in feed.unwrap_or_default() {
        overrides.insert(s.name.clone(), s.shape.iter().map(|d| *d as u64).collect());
    }
    if let Some(f) = feed.filter(|f| !f.is_empty()) {
        let specs: Vec<String> = f.iter().map(|s| s.to_string()).collect();
        sources.push(format!("feed {}", specs.join(" ")));
    }
    let mut shapes = ShapeMap::from_model(model, &overrides);
    if let (Some(f), Some(b)) = (feed, reference) {
        match b.infer_shapes(path, &input_specs(f)) {
            Some(Ok(inferred)) => {
                shapes.extend_missing(inferred);
                sources.push(format!("{} shape inference", b.name()));
            }
            Some(Err(e)) => sources.push(format!("{} shape inference failed: {e}", b.name())),
            None => {}
        }
    }
    (shapes, sources)
}
