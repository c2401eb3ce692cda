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

/// The embedded table of a backend.
pub fn embedded(backend: &str) -> Option<Result<SupportTable, TableError>> {
    EMBEDDED
        .iter()
        .find(|(b, ..)| *b == backend)
        .map(|(_, file, text)| SupportTable::parse(text, file))
}
