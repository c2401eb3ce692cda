//! Op compatibility: per-backend support tables (data), the checker that predicts from them, and the table the
//! conformance probe regenerates. Depends on the graph IR only; knows no backend code.

pub mod check;
pub mod exercise;
pub mod placement;
pub mod probe;
pub mod table;

pub use check::{Blocking, ModelCheck, Partitions, Reason, Verdict, check};
pub use table::{Constraint, OpEntry, PlacementTable, Source, SupportTable, TableError};

/// The committed tables, embedded so the binary works anywhere: `(backend, file, contents)`.
pub const EMBEDDED: &[(&str, &str, &str)] = &[
    (
        "tract",
        "backends/tract/ops.toml",
        include_str!("../../../backends/tract/ops.toml"),
    ),
    (
        "ort",
        "backends/ort/ops.toml",
        include_str!("../../../backends/ort/ops.toml"),
    ),
    (
        "wonnx",
        "backends/wonnx/ops.toml",
        include_str!("../../../backends/wonnx/ops.toml"),
    ),
    (
        "litert",
        "backends/litert/ops.toml",
        include_str!("../../../backends/litert/ops.toml"),
    ),
    (
        "litert-gpu",
        "backends/litert/gpu-ops.toml",
        include_str!("../../../backends/litert/gpu-ops.toml"),
    ),
    (
        "ort-openvino",
        "backends/ort/openvino-ops.toml",
        include_str!("../../../backends/ort/openvino-ops.toml"),
    ),
    (
        "ort-cuda",
        "backends/ort/cuda-ops.toml",
        include_str!("../../../backends/ort/cuda-ops.toml"),
    ),
    (
        "ort-tensorrt",
        "backends/ort/tensorrt-ops.toml",
        include_str!("../../../backends/ort/tensorrt-ops.toml"),
    ),
    (
        "tract-tflite",
        "backends/tract/tflite-ops.toml",
        include_str!("../../../backends/tract/tflite-ops.toml"),
    ),
];

/// The embedded tables, parsed once per process.
static PARSED: std::sync::LazyLock<Vec<(&'static str, Result<SupportTable, TableError>)>> =
    std::sync::LazyLock::new(|| {
        EMBEDDED
            .iter()
            .map(|(b, file, text)| (*b, SupportTable::parse(text, file)))
            .collect()
    });

/// The tables of `backends`: each read from `BACKEND=PATH` in `overrides` when one names it, else the embedded one.
/// A malformed override, a file that does not read or parse, or a backend without a table is an error naming it.
pub fn tables_for(
    backends: &[String],
    overrides: &[String],
) -> Result<Vec<(String, SupportTable)>, TableError> {
    let err = |file: &str, message: String| TableError {
        file: file.into(),
        message,
    };
    let mut given = std::collections::HashMap::new();
    for t in overrides {
        let (b, p) = t
            .split_once('=')
            .ok_or_else(|| err(&format!("--table {t}"), "expected BACKEND=PATH".into()))?;
        given.insert(b, p);
    }
    backends
        .iter()
        .map(|n| {
            let table = match given.get(n.as_str()) {
                Some(p) => {
                    let text = std::fs::read_to_string(p).map_err(|e| err(p, e.to_string()))?;
                    SupportTable::parse(&text, p)?
                }
                None => embedded(n)
                    .ok_or_else(|| err(n, "this backend has no support table".into()))??,
            };
            Ok((n.clone(), table))
        })
        .collect()
}

/// The embedded table of a backend (parsed once per process; a copy).
pub fn embedded(backend: &str) -> Option<Result<SupportTable, TableError>> {
    embedded_ref(backend).map(|r| r.cloned().map_err(Clone::clone))
}

/// The embedded table of a backend, borrowed from the once-parsed set.
pub fn embedded_ref(backend: &str) -> Option<Result<&'static SupportTable, &'static TableError>> {
    PARSED
        .iter()
        .find(|(b, _)| *b == backend)
        .map(|(_, t)| t.as_ref())
}
