//! Feed discovery: when an input has a symbolic dim that no `--dim`, `--feed` or manifest gives (and that is not a
//! leading batch dim), find a value that runs on the reference backend instead of demanding one. A bounded search:
//! 1 first, then the values the graph implies (`models::fit::implied_values`), then a ladder of sizes real models
//! take (sequence lengths, image sides, audio sample counts); every open dim takes the same value in a try, and once a
//! value above 1 runs, each dim that also runs at 1 on its own goes back to 1. Each try
//! is `edgebench run` in a child with a timeout and the memory limit, like a `check --verify` cell. The outcome,
//! found or not, is cached per model file, feed flags, dims and backend.

use crate::cell;
use crate::prediction::Runs;
use edgebench_graph::Model;
use edgebench_models::FeedSpec;
use edgebench_models::fit::{fit, implied_values, open_dims};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Sizes tried after 1 and the graph's own values.
pub const LADDER: &[u64] = &[16, 32, 64, 128, 224, 256, 320, 512, 640, 1024, 16000];

/// The search's behaviour, part of the cache key: bumped when it changes what it finds.
const VERSION: &str = "2";

/// Runs at most this many tries.
pub const MAX_TRIES: usize = 16;

/// What a search found (`dims` empty when nothing ran), on which backend, and every value it tried, in order (the
/// values every open dim took together; after a value > 1 ran, each dim was also tried alone at 1).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Discovery {
    pub dims: Vec<(String, u64)>,
    pub backend: String,
    pub tried: Vec<u64>,
}

impl Discovery {
    /// Whether a value ran.
    pub fn found(&self) -> bool {
        !self.dims.is_empty()
    }

    /// The `--dim` flags of what was found.
    pub fn dim_flags(&self) -> Vec<String> {
        self.dims.iter().map(|(n, v)| format!("{n}={v}")).collect()
    }

    /// One line for the user: what was chosen and how, or what was tried.
    pub fn note(&self, label: &str) -> String {
        let tried = self
            .tried
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        if self.found() {
            format!(
                "{label}: {} (discovered: the first value that ran on {}; tried {tried}; --dim to choose)",
                self.dims
                    .iter()
                    .map(|(n, v)| format!("dim `{n}` = {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.backend
            )
        } else {
            format!(
                "{label}: no value of its symbolic dims ran on {} (discovery tried {tried})",
                self.backend
            )
        }
    }
}

/// A model and what the user gave for its feed.
pub struct Asked<'a> {
    pub path: &'a Path,
    pub model: &'a Model,
    /// The model's name in messages.
    pub label: &'a str,
    pub feed_flags: &'a [String],
    pub dim_flags: &'a [String],
    /// The manifest's feed of a zoo model.
    pub defaults: &'a [FeedSpec],
}

/// Searches values for the open dims of the model (see the module) on `backend`; `None` when it has none. The
/// outcome is read from and written to `cache` (a folder) when given.
pub fn discover(a: &Asked, backend: &str, runs: &Runs, cache: Option<&Path>) -> Option<Discovery> {
    let Asked {
        path,
        model,
        label,
        feed_flags,
        dim_flags,
        defaults,
    } = *a;
    let open = open_dims(model, feed_flags, dim_flags, defaults);
    // Tries run `edgebench run` as this executable: from another program (a library's test binary) there is
    // nothing to run, and nothing is discovered.
    let ours = std::env::current_exe()
        .ok()
        .is_some_and(|e| e.file_stem().is_some_and(|s| s == "edgebench"));
    if open.is_empty() || !ours {
        return None;
    }
    let key = cache_key(path, feed_flags, dim_flags, backend);
    let cached = cache.map(|c| c.join(format!("{key}.json")));
    if let Some(d) = cached
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str::<Discovery>(&t).ok())
    {
        return Some(d);
    }
    let mut candidates = vec![1];
    candidates.extend(implied_values(model));
    candidates.extend_from_slice(LADDER);
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|v| seen.insert(*v));
    let mut found = Discovery {
        dims: vec![],
        backend: backend.to_string(),
        tried: vec![],
    };
    for v in candidates {
        if found.tried.len() >= MAX_TRIES || crate::interrupted() {
            break;
        }
        let mut dims = dim_flags.to_vec();
        dims.extend(open.iter().map(|n| format!("{n}={v}")));
        // A value whose feed does not fit (the memory budget) is not tried; larger ones would not fit either.
        let Ok(f) = fit(model, label, feed_flags, &dims, defaults) else {
            break;
        };
        found.tried.push(v);
        if runs_with(path, &f.specs, backend, runs) {
            found.dims = open.iter().map(|n| (n.clone(), v)).collect();
            break;
        }
    }
    // Every open dim took the value that ran; each one that also runs at 1 on its own goes back to 1 (a state's
    // batch dim need not follow the sequence length). One more run per dim, kept only when it runs.
    if found.found() && open.len() > 1 && found.dims[0].1 > 1 {
        for k in 0..found.dims.len() {
            let mut dims = dim_flags.to_vec();
            dims.extend(
                found
                    .dims
                    .iter()
                    .enumerate()
                    .map(|(j, (n, v))| format!("{n}={}", if j == k { 1 } else { *v })),
            );
            if let Ok(f) = fit(model, label, feed_flags, &dims, defaults)
                && runs_with(path, &f.specs, backend, runs)
            {
                found.dims[k].1 = 1;
            }
        }
    }
    if let Some(p) = &cached
        && let Some(dir) = p.parent()
        && std::fs::create_dir_all(dir).is_ok()
        && let Ok(t) = serde_json::to_string(&found)
    {
        let _ = edgebench_report::write_atomic(p, t.as_bytes());
    }
    Some(found)
}

/// Whether `edgebench run` of the model with this feed succeeds on `backend` in a child.
fn runs_with(path: &Path, specs: &[FeedSpec], backend: &str, runs: &Runs) -> bool {
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("run")
        .arg(path)
        .args(["--backend", backend, "--json", "--cell"]);
    for s in specs {
        cmd.args(["--feed", &s.to_string()]);
    }
    if let Some(b) = runs.memory_limit {
        cmd.args(["--address-space", &b.to_string()]);
    }
    if let Some(l) = runs.ort_lib {
        cmd.arg("--ort-lib").arg(l);
    }
    cell::spawn(cmd, runs.timeout)
        .report::<serde_json::Value>()
        .is_ok()
}

/// The model file (path, size, modification time), the flags, the backend and this build.
fn cache_key(path: &Path, feed_flags: &[String], dim_flags: &[String], backend: &str) -> String {
    let stamp = crate::prepare::file_stamp(path);
    let text = format!(
        "{}|{stamp}|{feed_flags:?}|{dim_flags:?}|{backend}|{}|{LADDER:?}|{VERSION}",
        path.display(),
        env!("CARGO_PKG_VERSION")
    );
    format!("{:016x}", edgebench_report::fnv1a(text.as_bytes()))
}

/// The feed of a model as `fit` makes it; where it needs a symbolic dim and `backend` is given, the one
/// [`discover`] finds (with its note among the fitted notes), or the original error with what was tried.
pub fn fit_or_discover(
    a: &Asked,
    backend: Option<&str>,
    runs: &Runs,
    cache: Option<&Path>,
) -> (
    Result<edgebench_models::fit::Fitted, edgebench_models::fit::FitError>,
    Option<Discovery>,
) {
    use edgebench_models::fit::FitError;
    let (model, label) = (a.model, a.label);
    let fitted = fit(model, label, a.feed_flags, a.dim_flags, a.defaults);
    let (Err(FitError::NeedsFeed(message)), Some(b)) = (&fitted, backend) else {
        return (fitted, None);
    };
    let Some(d) = discover(a, b, runs, cache) else {
        return (fitted, None);
    };
    if !d.found() {
        let message = format!("{message}; {}", d.note(label));
        return (Err(FitError::NeedsFeed(message)), Some(d));
    }
    let mut dims = a.dim_flags.to_vec();
    dims.extend(d.dim_flags());
    let fitted = fit(model, label, a.feed_flags, &dims, a.defaults).map(|mut f| {
        f.notes.push(d.note(label));
        f
    });
    (fitted, Some(d))
}
