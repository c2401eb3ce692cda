//! Model words into files: a path, a zoo name (must be cached) or a fixture name (`fixture:NAME` or bare `NAME`).

use crate::{FeedSpec, Fetcher, Manifest};
use edgebench_graph::fixtures;
use edgebench_graph::tflite::fixtures as tflite_fixtures;
use std::path::{Path, PathBuf};

/// Where a model came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    File,
    Zoo,
    Fixture,
}

/// A resolved model word.
#[derive(Clone, Debug)]
pub struct ModelRef {
    /// What the user typed, or the zoo/fixture name.
    pub label: String,
    pub path: PathBuf,
    pub origin: Origin,
    /// The manifest's feed for zoo models.
    pub default_feed: Vec<FeedSpec>,
}

/// A model word that names nothing usable; the message names the word and the problem.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ResolveError(pub String);

/// Resolves a model word (see the module doc). Fixtures are written to the cache first.
pub fn model(arg: &str, fetcher: &Fetcher, manifest: &Manifest) -> Result<ModelRef, ResolveError> {
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
            ResolveError(format!(
                "{arg}: zoo model is not in the cache {}; run `edgebench models fetch {arg}`",
                fetcher.cache.display()
            ))
        })?;
        let default_feed = z
            .feed_specs()
            .map_err(|e| ResolveError(format!("{arg}: manifest feed: {e}")))?;
        return Ok(ModelRef {
            label: arg.into(),
            path,
            origin: Origin::Zoo,
            default_feed,
        });
    }
    let fixture = arg.strip_prefix("fixture:").unwrap_or(arg);
    if fixtures::NAMES.contains(&fixture) || tflite_fixtures::NAMES.contains(&fixture) {
        return Ok(ModelRef {
            label: fixture.into(),
            path: fixture_path(fixture, fetcher)?,
            origin: Origin::Fixture,
            default_feed: vec![],
        });
    }
    let looks_like_path = arg.contains('/') || arg.ends_with(".onnx") || arg.ends_with(".tflite");
    Err(ResolveError(if looks_like_path {
        format!("{arg}: no such file")
    } else {
        format!(
            "{arg}: no such file, zoo model or fixture (zoo: {}; fixtures: {})",
            manifest.names().join(", "),
            [fixtures::NAMES, tflite_fixtures::NAMES]
                .concat()
                .join(", ")
        )
    }))
}

/// Writes a generated fixture into the cache (atomically; rewritten each time so it matches this build).
pub fn fixture_path(name: &str, fetcher: &Fetcher) -> Result<PathBuf, ResolveError> {
    let dir = fetcher.cache.join("fixtures");
    std::fs::create_dir_all(&dir).map_err(|e| ResolveError(format!("{}: {e}", dir.display())))?;
    if let Some(bytes) = tflite_fixtures::build(name) {
        let path = dir.join(format!("{name}.tflite"));
        edgebench_graph::write_atomic(&path, &bytes)
            .map_err(|e| ResolveError(format!("{}: {e}", path.display())))?;
        return Ok(path);
    }
    let model =
        fixtures::build(name).ok_or_else(|| ResolveError(format!("{name}: unknown fixture")))?;
    let path = dir.join(format!("{name}.onnx"));
    edgebench_graph::save(&model, &path).map_err(|e| ResolveError(e.to_string()))?;
    Ok(path)
}
