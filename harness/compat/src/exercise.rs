//! The robustness entry point shared by the fuzz targets (`fuzz/`) and the regression tests: everything
//! `inspect` and `check` do with a file the user hands us, from bytes. It must return, never panic or abort.

use crate::{SupportTable, check};
use edgebench_graph::stats::{ShapeMap, summarize};
use std::collections::HashMap;
use std::path::Path;

/// What one input came to (for the fuzzers' statistics and the regression tests' assertions).
#[derive(Debug, PartialEq, Eq)]
pub enum Exercised {
    /// The loader refused it, with this message.
    Refused(String),
    /// It loaded; the verdict per table.
    Checked(Vec<String>),
}

/// The embedded tables, parsed once by the caller.
pub fn tables() -> Vec<SupportTable> {
    crate::EMBEDDED
        .iter()
        .filter_map(|(b, ..)| crate::embedded(b).and_then(Result::ok))
        .collect()
}

/// Decodes `bytes` as a model file in `base_dir` (external data resolves there), validates it, derives shapes and
/// FLOPs, and checks it against every table.
pub fn exercise(bytes: &[u8], base_dir: &Path, tables: &[SupportTable]) -> Exercised {
    let path = base_dir.join("model.onnx");
    let model = match edgebench_graph::decode(bytes.to_vec().into(), &path, Some(base_dir)) {
        Ok(m) => m,
        Err(e) => return Exercised::Refused(e.to_string()),
    };
    let _ = edgebench_graph::validate::validate(&model);
    let shapes = ShapeMap::from_model(&model, &HashMap::new());
    let _ = summarize(&model, &shapes);
    Exercised::Checked(
        tables
            .iter()
            .map(|t| format!("{:?}", check(&model, t, &shapes).verdict))
            .collect(),
    )
}
