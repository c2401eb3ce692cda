//! Shared set-up for the benches: a backend session on a cached zoo model with its manifest feed.
#![allow(dead_code)]

use edgebench_backend_api::{Backend, HostTensor, InputSpec, Session};
use edgebench_models::{Fetcher, Manifest, make_feed};

pub fn backend(name: &str) -> Option<Box<dyn Backend>> {
    let b: Box<dyn Backend> = match name {
        "tract" => Box::new(edgebench_backend_tract::Tract),
        "ort" => Box::new(edgebench_backend_ort::Ort::default()),
        _ => return None,
    };
    b.availability().is_available().then_some(b)
}

/// A prepared session and its feed, or None (with a note on stderr) when the model is not cached.
pub fn session(
    backend: &dyn Backend,
    model: &str,
) -> Option<(Box<dyn Session>, Vec<(String, HostTensor)>)> {
    let manifest = Manifest::embedded();
    let z = manifest.get(model)?;
    let Some(path) = Fetcher::new(edgebench_models::cache_dir()).cached(z) else {
        eprintln!("NOT MEASURED: {model} is not cached (edgebench models fetch)");
        return None;
    };
    let specs = z.feed_specs().ok()?;
    let feed: Vec<(String, HostTensor)> = specs
        .iter()
        .map(|s| (s.name.clone(), make_feed(s, 0).unwrap()))
        .collect();
    let inputs: Vec<InputSpec> = specs
        .iter()
        .map(|s| InputSpec {
            name: s.name.clone(),
            dtype: s.dtype,
            shape: s.shape.clone(),
        })
        .collect();
    let s = backend.load(&path, &inputs).ok()?;
    Some((s, feed))
}
