//! Preparation: from model requests (file, zoo name or fixture, feeds, dims) to what a [`Plan`](crate::plan::Plan)
//! holds — each model resolved with its feed and FLOPs, the support tables' predictions (cached), the verified
//! rewrites per backend that needs one (cached), the variants (cached) and the roofs of targets that run here.
//! Returns typed values and reports progress as [`Event`]s; it never prints.

pub mod compat;
pub mod rewrites;
pub mod variants;

use crate::Error;
use crate::plan::PlanModel;
use edgebench_backend_api::{Backend, InputSpec, Registry};
use edgebench_graph::Model;
use edgebench_models::fit::{self, Fitted};
use edgebench_models::resolve::{self, ModelRef};
use edgebench_models::{FeedSpec, Fetcher, Manifest};
use std::path::Path;

/// The backend whose shape inference serves as the rewrite rules' oracle and the FLOP estimate (tract).
pub const ORACLE: &str = "tract";

/// What preparation is doing, for a reporter to show.
#[derive(Clone, Debug)]
pub enum Event {
    /// How a symbolic dim of a model's input was chosen.
    Note { model: String, note: String },
    /// A table prediction is being computed (seconds for a big model; then cached).
    Predicting { model: String, backend: String },
    /// A variant is being made and judged.
    MakingVariant { model: String, kind: String },
    /// A verified rewrite is being made for a backend.
    Rewriting { model: String, backend: String },
    /// Something the user should know (a rewrite that will not be used, ...).
    Warning(String),
}

/// Receives preparation events.
pub type OnEvent<'a> = &'a mut dyn FnMut(Event);

/// The machine-side context of preparation: backends, the zoo and its cache, the build (part of cache keys).
pub struct Preparer<'r> {
    pub registry: &'r Registry,
    pub fetcher: Fetcher,
    pub manifest: Manifest,
    /// The edgebench build (`version|commit`): cached predictions are not reused across builds.
    pub build: String,
    /// The `--ort-lib` setting, passed on to the children of feed discovery.
    pub ort_lib: Option<std::path::PathBuf>,
}

/// One model of the plan as asked for.
#[derive(Clone, Debug, Default)]
pub struct ModelRequest {
    pub word: String,
    /// `--feed` specs (only for a single model).
    pub feed: Vec<String>,
    /// `--dim NAME=VALUE`.
    pub dims: Vec<String>,
}

/// A model resolved, loaded and fitted with its feed.
pub struct Loaded {
    pub reference: ModelRef,
    pub model: Model,
    pub fitted: Fitted,
}

impl Loaded {
    pub fn specs(&self) -> Vec<InputSpec> {
        fit::input_specs(&self.fitted.specs)
    }
}

impl<'r> Preparer<'r> {
    /// The preparer for the cache of this machine (`EDGEBENCH_CACHE`, ...).
    pub fn new(registry: &'r Registry, build: impl Into<String>) -> Preparer<'r> {
        Preparer {
            registry,
            fetcher: Fetcher::new(edgebench_models::cache_dir()),
            manifest: Manifest::embedded(),
            build: build.into(),
            ort_lib: None,
        }
    }

    pub fn cache(&self) -> &Path {
        &self.fetcher.cache
    }

    /// Resolves a model word.
    pub fn resolve(&self, word: &str) -> Result<ModelRef, Error> {
        resolve::model(word, &self.fetcher, &self.manifest).map_err(|e| Error::BadModel(e.0))
    }

    /// Resolves, loads and fits a model (discovering a symbolic dim nobody gives): a word that names nothing is a
    /// bad model, a feed that cannot be made a usage error.
    pub fn load(&self, r: &ModelRequest) -> Result<Loaded, Error> {
        let reference = self.resolve(&r.word)?;
        let model = load(&reference.path)?;
        // A symbolic dim nobody gives is discovered on the reference backend (its note says so).
        let runs = crate::prediction::Runs {
            timeout: 120,
            memory_limit: None,
            ort_lib: self.ort_lib.as_deref(),
            backend_failed: 5,
        };
        let asked = crate::discover::Asked {
            path: &reference.path,
            model: &model,
            label: &reference.label,
            feed_flags: &r.feed,
            dim_flags: &r.dims,
            defaults: &reference.default_feed,
        };
        let (fitted, _) = crate::discover::fit_or_discover(
            &asked,
            crate::machine::reference(self.registry),
            &runs,
            Some(&self.cache().join("discovered")),
        );
        let fitted = fitted.map_err(|e| Error::Usage(e.to_string()))?;
        Ok(Loaded {
            reference,
            model,
            fitted,
        })
    }

    /// The oracle backend (tract), when compiled in.
    pub fn oracle(&self) -> Option<&'r dyn Backend> {
        self.registry.get(ORACLE).ok()
    }

    /// The first available reference backend (ONNX Runtime, else tract): verification and drift run on it.
    pub fn reference(&self) -> Result<&'r dyn Backend, Error> {
        crate::agreement::REFERENCES
            .iter()
            .find_map(|r| crate::machine::available(self.registry, r).ok())
            .map(|(b, _)| b)
            .ok_or_else(|| {
                Error::Unavailable("no reference backend (ort, tract) is available".into())
            })
    }

    /// Every model of a plan resolved with its feed and FLOPs: a bad request fails before anything is measured.
    pub fn models(&self, requests: &[ModelRequest], on: OnEvent) -> Result<Vec<PlanModel>, Error> {
        let mut out = vec![];
        for r in requests {
            let l = self.load(r)?;
            for note in &l.fitted.notes {
                on(Event::Note {
                    model: l.reference.label.clone(),
                    note: note.clone(),
                });
            }
            let (shapes, _) = fit::shapes(
                &l.model,
                &l.reference.path,
                Some(&l.fitted.specs),
                self.oracle(),
            );
            let flops = edgebench_graph::stats::summarize(&l.model, &shapes)
                .flops
                .total_flops;
            out.push(PlanModel {
                name: r.word.clone(),
                path: l.reference.path.clone(),
                feed: l.fitted.specs.iter().map(|s| s.to_string()).collect(),
                notes: l.fitted.notes,
                flops,
                variants: Default::default(),
                rewrites: Default::default(),
            });
        }
        Ok(out)
    }
}

/// The feed of a plan's model, parsed back from its specs.
pub fn feed_specs(m: &PlanModel) -> Result<Vec<FeedSpec>, Error> {
    m.feed
        .iter()
        .map(|s| FeedSpec::parse(s).map_err(|e| Error::Usage(format!("{}: {e}", m.name))))
        .collect()
}

/// Loads a model file; loader errors are bad-model errors.
pub fn load(path: &Path) -> Result<Model, Error> {
    edgebench_graph::load(path).map_err(|e| Error::BadModel(e.to_string()))
}

/// A cheap cache key part for a file: its size and modification time (`size:nanos`; empty when unreadable).
pub(crate) fn file_stamp(path: &Path) -> String {
    std::fs::metadata(path)
        .map(|m| {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("{}:{t}", m.len())
        })
        .unwrap_or_default()
}

/// A cache key part for a file: its sha256 (hex, first 12 bytes).
fn file_digest(path: &Path) -> Result<String, Error> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::BadModel(format!("{}: {e}", path.display())))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h)
        .map_err(|e| Error::BadModel(format!("{}: {e}", path.display())))?;
    Ok(hex::encode(&h.finalize()[..12]))
}

/// A cache key from its parts (sha256, hex, first 12 bytes).
fn digest(parts: &[&str]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..12])
}

/// A target that runs on this machine (local runner, this triple) gets this machine's measured roofs (cached per
/// machine); emulated and remote targets keep their nominal figures until measured there.
pub fn measure_roofs(
    target: &mut edgebench_measure::targets::Target,
    host_triple: &str,
    cache: &Path,
) {
    if target.runner != edgebench_measure::targets::Runner::Local || target.triple != host_triple {
        return;
    }
    let (r, cached) = crate::machine::host_roofs(cache, false);
    target.peak_gflops = r.peak_gflops;
    target.mem_bandwidth_gbs = r.mem_bandwidth_gbs;
    target.measured_roofs = Some(format!(
        "measured on this machine{}: {} FMA kernel on {} threads, triad 3 x 32 MiB per thread",
        if cached { " (cached)" } else { "" },
        r.kernel,
        r.threads
    ));
}

/// The plan's sites: each named target from the targets file (or the built-in one) with its runner, measured
/// roofs for targets that run here. `local_only` (interleaved sessions) refuses targets run elsewhere.
pub fn sites(
    names: &[String],
    file: Option<&Path>,
    ctx: &crate::runner::Context,
    local_only: bool,
    cache: &Path,
    on: OnEvent,
) -> Result<Vec<crate::plan::Site>, Error> {
    let mut sites = vec![];
    for n in names {
        let (mut target, warnings) = crate::targets::find(n, file)?;
        if local_only && target.runner != edgebench_measure::targets::Runner::Local {
            return Err(Error::Usage(format!(
                "--ab: target {n} does not run cells on this machine; an interleaved session drives both sides' \
                 children from here, so it takes targets with runner = \"local\" (qemu targets are not timed anyway)"
            )));
        }
        for w in warnings {
            on(Event::Warning(w));
        }
        measure_roofs(&mut target, &ctx.host_triple, cache);
        let runner = crate::runner::prepare(n, &target, ctx)?;
        sites.push(crate::plan::Site {
            name: n.clone(),
            target,
            runner,
        });
    }
    Ok(sites)
}

/// The `(site, backend)` pairs asked for: `asked`, or each target's own backends. A name no registry entry has is
/// a usage error; a backend that is not compiled in stays (its cells report why).
pub fn requested(
    sites: &[crate::plan::Site],
    asked: &[String],
    registry: &Registry,
) -> Result<Vec<(usize, String)>, Error> {
    let mut out = vec![];
    for (si, s) in sites.iter().enumerate() {
        let wanted = if asked.is_empty() {
            &s.target.backends
        } else {
            asked
        };
        for b in wanted {
            let name = match registry.get(b) {
                Ok(x) => x.name().to_string(),
                Err(edgebench_backend_api::RegistryError::NotCompiled { name, .. }) => name,
                Err(e) => return Err(Error::Usage(e.to_string())),
            };
            out.push((si, name));
        }
    }
    Ok(out)
}
