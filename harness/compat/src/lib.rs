//! Op compatibility: per-backend support tables (data), the checker that predicts from them, and the table the
//! conformance probe regenerates. Depends on the graph IR only; knows no backend code.

pub mod check;
pub mod exercise;
pub mod probe;
pub mod table;

pub use check::{Blocking, ModelCheck, Partitions, Reason, Verdict, check};
pub use table::{Constraint, OpEntry, Source, SupportTable, TableError};

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
];

/// The embedded tables, parsed once per process.
static PARSED: std::sync::LazyLock<Vec<(&'static str, Result<SupportTable, TableError>)>> =
    std::sync::LazyLock::new(|| {
        EMBEDDED
            .iter()
            .map(|(b, file, text)| (*b, SupportTable::parse(text, file)))
            .collect()
    });

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
