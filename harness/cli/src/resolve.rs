//! Turns command-line words into things: a model argument into a file, `--feed` flags into tensors that fit it.

use crate::exit::{BAD_MODEL, USAGE, fail};
use anyhow::Result;
use edgebench_backend_api::HostTensor;
use edgebench_graph::{Model, fixtures};
use edgebench_models::fit::Fitted;
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

/// The feed for a model (`edgebench_models::fit::fit`): `--feed` flags, then the zoo manifest's feed, then the
/// model's declared shapes with symbolic dims from `--dim NAME=VALUE`, leading batch dims defaulting to 1 (each such
/// default is a note in the result). A feed that cannot be made is a usage error (exit 2).
pub fn feed(model: &Model, m: &ModelRef, flags: &[String], dims: &[String]) -> Result<Fitted> {
    edgebench_models::fit::fit(model, &m.label, flags, dims, &m.default_feed)
        .map_err(|e| fail(USAGE, e))
}

/// Prints the notes of a fitted feed on stderr.
pub fn print_notes(f: &Fitted) {
    for n in &f.notes {
        eprintln!("edgebench: note: {n}");
    }
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

pub use edgebench_models::fit::input_specs;
