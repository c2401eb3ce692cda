//! Flags and their readings shared by several commands: the gate's knobs (`gate`, `report --baseline`), shares
//! such as `5%`, run folders given on the command line, and the address-space limit of cells.

use crate::exit::{BAD_MODEL, USAGE, fail};
use anyhow::Result;
use edgebench_report::{Results, gate};
use std::path::{Path, PathBuf};

/// The knobs of the gate, shared by `gate` and `report --baseline`.
#[derive(clap::Args, Debug)]
pub struct GateFlags {
    /// A slowdown beyond this is a regression (`5%` or `0.05`), unless the baseline's own noise is larger.
    #[arg(long, default_value = "5%")]
    pub threshold: String,
    /// Seed of the bootstrap: the same runs give the same verdicts.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Bootstrap draws per cell.
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
}

/// Parses `5%`, `5 %` or `0.05`.
pub fn parse_threshold(s: &str) -> Option<f64> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => t.parse::<f64>().ok()?,
    };
    (v.is_finite() && (0.0..10.0).contains(&v)).then_some(v)
}

pub fn options(f: &GateFlags) -> Result<gate::GateOptions> {
    let threshold = parse_threshold(&f.threshold).ok_or_else(|| {
        fail(
            USAGE,
            format!(
                "--threshold {}: expected a share such as 5% or 0.05",
                f.threshold
            ),
        )
    })?;
    if f.resamples < 100 {
        return Err(fail(
            USAGE,
            format!("--resamples {}: at least 100", f.resamples),
        ));
    }
    Ok(gate::GateOptions {
        threshold,
        resamples: f.resamples,
        seed: f.seed,
        ..Default::default()
    })
}

/// A run given as its folder or its results.json: (file, folder, results). Unreadable, not results, or another
/// format-version: exit 3 with one line.
pub fn load_run(p: &Path) -> Result<(PathBuf, PathBuf, Results)> {
    let file = if p.is_dir() {
        p.join("results.json")
    } else {
        p.to_path_buf()
    };
    let r = edgebench_report::load(&file).map_err(|e| fail(BAD_MODEL, e))?;
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok((file, dir, r))
}

/// The `--memory-limit` setting: bytes, `none`, or (absent) this machine's memory.
pub fn memory_limit(flag: Option<&str>) -> Result<Option<u64>> {
    match flag {
        None => Ok(edgebench_bench::cell::default_address_space()),
        Some("none") => Ok(None),
        Some(v) => edgebench_bench::cell::parse_bytes(v)
            .filter(|b| *b > 0)
            .map(Some)
            .ok_or_else(|| {
                fail(
                    USAGE,
                    format!("--memory-limit {v}: expected BYTES[K|M|G|T] or none"),
                )
            }),
    }
}

/// Applies a cell's address-space limit unless `backend` computes on a GPU: a GPU driver reserves virtual address
/// space far beyond physical memory (CUDA maps the device's memory and more into every process), so `RLIMIT_AS`
/// would fail the driver's initialisation instead of bounding the cell's allocations.
pub fn limit_cell_address_space(
    registry: &edgebench_backend_api::Registry,
    backend: &str,
    bytes: Option<u64>,
) -> Result<()> {
    let Some(b) = bytes else { return Ok(()) };
    if registry
        .get(backend)
        .is_ok_and(|x| x.device() == edgebench_backend_api::Device::Gpu)
    {
        return Ok(());
    }
    edgebench_bench::cell::limit_address_space(b)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn thresholds() {
        assert_eq!(super::parse_threshold("5%"), Some(0.05));
        assert_eq!(super::parse_threshold("0.1"), Some(0.1));
        assert_eq!(super::parse_threshold("2.5 %"), Some(0.025));
        assert_eq!(super::parse_threshold("x"), None);
        assert_eq!(super::parse_threshold("-1%"), None);
    }
}
