//! Turns command-line words into things: a model argument into a file, `--feed` flags into tensors that fit it.

use crate::exit::{BAD_MODEL, USAGE, fail};
use anyhow::Result;
use edgebench_backend_api::{HostTensor, InputSpec};
use edgebench_graph::{Dim, Model, ValueType, fixtures};
use edgebench_models::{FeedSpec, Fetcher, Manifest, make_feed};
use std::path::{Path, PathBuf};

/// Where a model came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    File,
    Zoo,
    Fixture,
}

/// A resolved model argument.
#[derive(Clone, Debug)]
pub struct ModelRef {
    /// What the user typed, or the zoo/fixture name.
    pub label: String,
    pub path: PathBuf,
    pub origin: Origin,
    /// The manifest's feed for zoo models.
    pub default_feed: Vec<FeedSpec>,
}

/// Resolves a path, a zoo name (must be cached) or a fixture name (`fixture:NAME` or bare `NAME`).
pub fn model(arg: &str, fetcher: &Fetcher, manifest: &Manifest) -> Result<ModelRef> {
    let p = Path::new(arg);
    if p.exists() {
        return Ok(ModelRef {
            label: arg.into(),
            path: p.into(),
            origin: Origin::File,
            default_feed: vec![],
        });
    }
    if let Some(z) = manifest.get(arg) {
        let path = fetcher.cached(z).ok_or_else(|| {
            fail(
                BAD_MODEL,
                format!(
                    "{arg}: zoo model is not in the cache {}; run `edgebench models fetch {arg}`",
                    fetcher.cache.display()
                ),
            )
        })?;
        let default_feed = z
            .feed_specs()
            .map_err(|e| fail(BAD_MODEL, format!("{arg}: manifest feed: {e}")))?;
        return Ok(ModelRef {
            label: arg.into(),
            path,
            origin: Origin::Zoo,
            default_feed,
        });
    }
    let fixture = arg.strip_prefix("fixture:").unwrap_or(arg);
    if fixtures::NAMES.contains(&fixture) {
        return Ok(ModelRef {
            label: fixture.into(),
            path: fixture_path(fixture, fetcher)?,
            origin: Origin::Fixture,
            default_feed: vec![],
        });
    }
    let looks_like_path = arg.contains('/') || arg.ends_with(".onnx");
    Err(fail(
        BAD_MODEL,
        if looks_like_path {
            format!("{arg}: no such file")
        } else {
            format!(
                "{arg}: no such file, zoo model or fixture (zoo: {}; fixtures: {})",
                manifest.names().join(", "),
                fixtures::NAMES.join(", ")
            )
        },
    ))
}

/// Writes a generated fixture into the cache (atomically; rewritten each time so it matches this build).
pub fn fixture_path(name: &str, fetcher: &Fetcher) -> Result<PathBuf> {
    let model =
        fixtures::build(name).ok_or_else(|| fail(BAD_MODEL, format!("{name}: unknown fixture")))?;
    let dir = fetcher.cache.join("fixtures");
    std::fs::create_dir_all(&dir)
        .map_err(|e| fail(BAD_MODEL, format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!("{name}.onnx"));
    edgebench_graph::save(&model, &path).map_err(|e| fail(BAD_MODEL, e))?;
    Ok(path)
}

/// Loads the IR, mapping loader errors to the bad-model exit code.
pub fn load(m: &ModelRef) -> Result<Model> {
    edgebench_graph::load(&m.path).map_err(|e| fail(BAD_MODEL, e))
}

/// The feed for a model: `--feed` flags first, then the zoo manifest's feed, then the model's own static shapes.
/// Every runtime input must end up fed with its declared dtype and a shape that fits its declared dims.
pub fn feed(model: &Model, m: &ModelRef, flags: &[String]) -> Result<Vec<FeedSpec>> {
    let given: Vec<FeedSpec> = flags
        .iter()
        .map(|f| FeedSpec::parse(f).map_err(|e| fail(USAGE, e)))
        .collect::<Result<_>>()?;
    let inputs = model.graph.runtime_inputs();
    for g in &given {
        if !inputs.iter().any(|i| i.name == g.name) {
            let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(fail(
                USAGE,
                format!(
                    "{}: --feed names `{}`, which is not an input (inputs: {})",
                    m.label,
                    g.name,
                    names.join(", ")
                ),
            ));
        }
    }
    let mut out = vec![];
    for i in inputs {
        let declared = i.ty.as_ref().and_then(ValueType::as_tensor);
        let spec = if let Some(g) = given.iter().find(|g| g.name == i.name) {
            g.clone()
        } else if let Some(d) = m.default_feed.iter().find(|d| d.name == i.name) {
            d.clone()
        } else {
            let Some((dtype, Some(dims))) = declared else {
                return Err(fail(
                    USAGE,
                    format!(
                        "{}: input `{}` has no declared tensor shape; give --feed {}=DTYPE[SHAPE]",
                        m.label, i.name, i.name
                    ),
                ));
            };
            let shape = dims
                .iter()
                .map(Dim::value)
                .collect::<Option<Vec<u64>>>()
                .ok_or_else(|| {
                    fail(
                        USAGE,
                        format!(
                            "{}: input `{}` has dynamic shape {}; give --feed {}={}[...]",
                            m.label,
                            i.name,
                            edgebench_graph::shape_string(Some(dims)),
                            i.name,
                            dtype
                        ),
                    )
                })?;
            FeedSpec {
                name: i.name.clone(),
                dtype,
                shape: shape.into_iter().map(|d| d as usize).collect(),
                fill: edgebench_models::Fill::Random,
            }
        };
        if let Some((dtype, dims)) = declared {
            if spec.dtype != dtype {
                return Err(fail(
                    USAGE,
                    format!(
                        "{}: input `{}` is {dtype}, but the feed gives {}",
                        m.label, i.name, spec.dtype
                    ),
                ));
            }
            if let Some(dims) = dims {
                let fits = dims.len() == spec.shape.len()
                    && dims
                        .iter()
                        .zip(&spec.shape)
                        .all(|(d, s)| d.value().is_none_or(|v| v == *s as u64));
                if !fits {
                    return Err(fail(
                        USAGE,
                        format!(
                            "{}: input `{}` has shape {}, but the feed gives {:?}",
                            m.label,
                            i.name,
                            edgebench_graph::shape_string(Some(dims)),
                            spec.shape
                        ),
                    ));
                }
            }
        }
        out.push(spec);
    }
    Ok(out)
}

/// Generates the tensors of a feed.
pub fn tensors(specs: &[FeedSpec], seed: u64) -> Result<Vec<(String, HostTensor)>> {
    specs
        .iter()
        .map(|s| {
            Ok((
                s.name.clone(),
                make_feed(s, seed).map_err(|e| fail(USAGE, e))?,
            ))
        })
        .collect()
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
