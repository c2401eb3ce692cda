pub mod bench;
pub mod build;
pub mod cell;
pub mod check;
pub mod doctor;
pub mod gate;
pub mod history;
pub mod inspect;
pub mod merge;
pub mod models;
pub mod probe;
pub mod profile;
pub mod report;
pub mod rewrite;
pub mod run;
pub mod variants;

use edgebench_models::{Fetcher, Manifest};

/// The fetcher for the configured cache.
pub fn fetcher() -> Fetcher {
    Fetcher::new(edgebench_models::cache_dir())
}

/// The embedded manifest.
pub fn manifest() -> Manifest {
    Manifest::embedded()
}

/// Every zoo model name for `--zoo`; all must be cached.
pub fn zoo_names() -> anyhow::Result<Vec<String>> {
    let (cached, missing) = manifest().split_cached(&fetcher());
    if !missing.is_empty() {
        let names = missing.join(", ");
        return Err(crate::exit::fail(
            crate::exit::BAD_MODEL,
            format!("--zoo: not in the cache: {names} (run `edgebench models fetch`)"),
        ));
    }
    Ok(cached)
}

/// Human-readable count: 1.2k, 3.4M, 5.6G.
pub fn si(n: f64) -> String {
    let (v, s) = if n >= 1e9 {
        (n / 1e9, "G")
    } else if n >= 1e6 {
        (n / 1e6, "M")
    } else if n >= 1e3 {
        (n / 1e3, "k")
    } else {
        return format!("{n:.0}");
    };
    format!("{v:.2}{s}")
}

/// Human-readable bytes.
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", n / 1024.0 / 1024.0)
    } else if n >= 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{n} B")
    }
}

/// Prints JSON to stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// The edgebench build, part of the preparation caches' keys.
pub fn build_id() -> String {
    format!(
        "{}|{}",
        env!("CARGO_PKG_VERSION"),
        env!("EDGEBENCH_GIT_COMMIT")
    )
}

/// The ONNX Runtime library this process would load, to ship to a board of the same platform.
pub fn ort_library(explicit: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    #[cfg(feature = "ort")]
    {
        edgebench_backend_ort::locate(explicit).ok().map(|l| l.path)
    }
    #[cfg(not(feature = "ort"))]
    {
        let _ = explicit;
        None
    }
}
