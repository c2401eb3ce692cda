//! Rewrites verified numerically: the original and each candidate run on a reference backend (ONNX Runtime, else
//! tract) over seeded feeds; the drift is the worst max abs / max rel error and the lowest cosine over all outputs
//! and feeds. The oracle asks a backend's shape inference for the types and shapes of every value.

use edgebench_backend_api::{Backend, HostTensor, InputSpec, Tolerance, compare};
use edgebench_graph::Model;
use edgebench_rewrite::{Drift, Facts, Oracle, Verify};

/// What a verified output must meet against the original's ([`Tolerance::VERIFIED`]).
pub const TOLERANCE: Tolerance = Tolerance::VERIFIED;

/// A model written to a temporary file that only this process reads and that is removed when dropped: no rename
/// and no fsync (a crash loses nothing worth keeping), which `check` pays once per oracle question.
fn scratch(model: &Model) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let mut f = tempfile::Builder::new().suffix(".onnx").tempfile()?;
    f.write_all(&edgebench_graph::encode(model)?)?;
    f.flush()?;
    Ok(f)
}

/// Runs a model file on a backend with each feed.
fn run_all(
    backend: &dyn Backend,
    model: &Model,
    specs: &[InputSpec],
    feeds: &[Vec<(String, HostTensor)>],
) -> Result<Vec<Vec<(String, HostTensor)>>, String> {
    let file = scratch(model).map_err(|e| e.to_string())?;
    let mut s = backend
        .load(file.path(), specs)
        .map_err(|e| e.to_string())?;
    feeds
        .iter()
        .map(|f| s.run(f).map_err(|e| e.to_string()))
        .collect()
}

/// Compares candidates with the original model's outputs on the reference backend.
pub struct Reference<'a> {
    backend: &'a dyn Backend,
    specs: Vec<InputSpec>,
    feeds: Vec<Vec<(String, HostTensor)>>,
    expected: Vec<Vec<(String, HostTensor)>>,
}

impl<'a> Reference<'a> {
    /// Runs the original once per feed (the expected outputs).
    pub fn new(
        backend: &'a dyn Backend,
        original: &Model,
        specs: Vec<InputSpec>,
        feeds: Vec<Vec<(String, HostTensor)>>,
    ) -> Result<Reference<'a>, String> {
        let expected = run_all(backend, original, &specs, &feeds)
            .map_err(|e| format!("the original model does not run on {}: {e}", backend.name()))?;
        Ok(Reference {
            backend,
            specs,
            feeds,
            expected,
        })
    }

    pub fn backend(&self) -> &str {
        self.backend.name()
    }
}

impl Verify for Reference<'_> {
    fn drift(&self, candidate: &Model) -> Result<Drift, String> {
        let got = run_all(self.backend, candidate, &self.specs, &self.feeds)?;
        let mut d = Drift {
            max_abs_error: 0.0,
            max_rel_error: 0.0,
            min_cosine: 1.0,
            within: true,
        };
        for (outs, want) in got.iter().zip(&self.expected) {
            for (name, w) in want {
                let Some((_, g)) = outs.iter().find(|(n, _)| n == name) else {
                    return Err(format!("no output `{name}`"));
                };
                let a = compare(g, w).map_err(|e| format!("output `{name}`: {e}"))?;
                d.max_abs_error = d.max_abs_error.max(a.max_abs_error);
                d.max_rel_error = d.max_rel_error.max(a.max_rel_error);
                if a.cosine_similarity.is_finite() {
                    d.min_cosine = d.min_cosine.min(a.cosine_similarity);
                }
                d.within &= TOLERANCE.holds(&a);
            }
        }
        Ok(d)
    }

    fn tolerance(&self) -> String {
        format!(
            "{} on {} seeded feeds: per output max abs error <= {:e} or max rel error <= {:e}, and cosine >= {}",
            self.backend.name(),
            self.feeds.len(),
            TOLERANCE.abs,
            TOLERANCE.rel,
            TOLERANCE.min_cosine.unwrap_or(-1.0)
        )
    }
}

/// Types and shapes from a backend's inference (tract) for the feed's input shapes.
pub struct Inferred<'a> {
    pub backend: &'a dyn Backend,
    pub specs: Vec<InputSpec>,
}

impl Oracle for Inferred<'_> {
    fn facts(&self, model: &Model) -> Option<Facts> {
        // In memory where the backend can read it so; else through a scratch file.
        let bytes = edgebench_graph::encode(model).ok()?;
        let mut facts = match self.backend.infer_facts_bytes(&bytes, &self.specs) {
            Some(r) => r.ok()?,
            None => {
                let file = scratch(model).ok()?;
                self.backend.infer_facts(file.path(), &self.specs)?.ok()?
            }
        };
        // The inputs are what the feed says (a backend may not label its source values).
        for s in &self.specs {
            let shape = s.shape.iter().map(|d| *d as u64).collect();
            facts.insert(s.name.clone(), (s.dtype, shape));
        }
        Some(facts)
    }
}

/// An oracle that remembers: the facts of each version of a model (keyed by its encoding) are asked of the inner
/// oracle once, so one model's prediction on several backends runs the shape inference once.
pub struct Memo<O> {
    pub inner: O,
    seen: std::cell::RefCell<std::collections::HashMap<u64, Option<Facts>>>,
}

impl<O: Oracle> Memo<O> {
    pub fn new(inner: O) -> Memo<O> {
        Memo {
            inner,
            seen: Default::default(),
        }
    }
}

impl<O: Oracle> Oracle for Memo<O> {
    fn facts(&self, model: &Model) -> Option<Facts> {
        let Ok(bytes) = edgebench_graph::encode(model) else {
            return self.inner.facts(model);
        };
        let key = edgebench_report::fnv1a(&bytes);
        if let Some(f) = self.seen.borrow().get(&key) {
            return f.clone();
        }
        let f = self.inner.facts(model);
        self.seen.borrow_mut().insert(key, f.clone());
        f
    }
}
