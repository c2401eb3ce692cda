//! Calibration feeds: seeded (the same generator as every other feed) or read from a folder of `.npy` tensors,
//! one sub-folder per model input named like the input (`/` and `:` become `_`), files paired across inputs in
//! name order. Every file is checked against the feed's dtype and shape before anything runs.

use crate::{FeedError, FeedSpec, make_feed};
use edgebench_backend_api::{Data, HostTensor};
use edgebench_graph::DataType;
use std::path::{Path, PathBuf};

pub type Feed = Vec<(String, HostTensor)>;

/// A calibration folder or file that cannot serve the model's feed; the message names the path and the problem.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("{path}: {what}")]
    Bad { path: PathBuf, what: String },
    #[error(transparent)]
    Feed(#[from] FeedError),
}

fn bad(path: &Path, what: impl Into<String>) -> CalibrationError {
    CalibrationError::Bad {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

type Result<T> = std::result::Result<T, CalibrationError>;

/// The sub-folder name of an input.
pub fn folder_name(input: &str) -> String {
    input.replace(['/', ':', '\\'], "_")
}

/// Seeded feeds `first..first+n`.
pub fn seeded(specs: &[FeedSpec], first: u64, n: usize) -> Result<Vec<Feed>> {
    (0..n as u64)
        .map(|i| {
            specs
                .iter()
                .map(|s| Ok((s.name.clone(), make_feed(s, first + i)?)))
                .collect()
        })
        .collect()
}

/// Reads `dir` (see the module doc). Errors name the file and the problem.
pub fn read_dir(dir: &Path, specs: &[FeedSpec]) -> Result<Vec<Feed>> {
    if !dir.is_dir() {
        return Err(bad(dir, "--calibration: not a folder"));
    }
    let mut per_input: Vec<(String, Vec<PathBuf>)> = vec![];
    for s in specs {
        let sub = dir.join(folder_name(&s.name));
        if !sub.is_dir() {
            return Err(bad(
                dir,
                format!(
                    "--calibration: no folder for input `{}` (expected {})",
                    s.name,
                    sub.display()
                ),
            ));
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&sub)
            .map_err(|e| bad(&sub, e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "npy"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(bad(&sub, "--calibration: no .npy files"));
        }
        per_input.push((s.name.clone(), files));
    }
    let n = per_input[0].1.len();
    if let Some((name, f)) = per_input.iter().find(|(_, f)| f.len() != n) {
        return Err(bad(
            dir,
            format!(
                "--calibration: input `{name}` has {} files, `{}` has {n}; each sample needs one file per input",
                f.len(),
                per_input[0].0
            ),
        ));
    }
    (0..n)
        .map(|i| {
            specs
                .iter()
                .zip(&per_input)
                .map(|(s, (_, files))| Ok((s.name.clone(), read_npy(&files[i], s)?)))
                .collect()
        })
        .collect()
}

/// One `.npy` file as the input `spec` wants it.
fn read_npy(path: &Path, spec: &FeedSpec) -> Result<HostTensor> {
    let bad = |what: String| bad(path, what);
    let f = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let npy = npyz::NpyFile::new(std::io::BufReader::new(f))
        .map_err(|e| bad(format!("not a .npy file: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|d| *d as usize).collect();
    if shape != spec.shape {
        return Err(bad(format!(
            "shape {shape:?} does not fit input `{}` {:?}",
            spec.name, spec.shape
        )));
    }
    let descr = npy.dtype().descr();
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let want = match spec.dtype {
        DataType::Float => "<f4",
        DataType::Int64 => "<i8",
        DataType::Int32 => "<i4",
        DataType::Uint8 => "|u1",
        DataType::Int8 => "|i1",
        other => {
            return Err(bad(format!(
                "input `{}` is {other}: not readable from .npy here",
                spec.name
            )));
        }
    };
    if descr != want {
        return Err(bad(format!(
            "dtype {descr} does not fit input `{}` ({}, expected {want})",
            spec.name, spec.dtype
        )));
    }
    let err = |e: std::io::Error| bad(format!("reading the data: {e}"));
    let data = match spec.dtype {
        DataType::Float => Data::F32(npy.into_vec::<f32>().map_err(err)?),
        DataType::Int64 => Data::I64(npy.into_vec::<i64>().map_err(err)?),
        DataType::Int32 => Data::I32(npy.into_vec::<i32>().map_err(err)?),
        DataType::Uint8 => Data::U8(npy.into_vec::<u8>().map_err(err)?),
        _ => Data::I8(npy.into_vec::<i8>().map_err(err)?),
    };
    Ok(HostTensor { shape, data })
}
