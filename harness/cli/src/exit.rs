//! Exit codes, documented in README.md ("Exit codes"). Errors are printed once, on one line, by `main`.

use std::fmt;

pub const OK: u8 = 0;
/// An unexpected internal failure.
pub const INTERNAL: u8 = 1;
/// Bad arguments: unknown backend, malformed or mismatched `--feed`, bad flag values.
pub const USAGE: u8 = 2;
/// A bad model argument: missing file, not ONNX, truncated, unsafe external data, unknown or uncached zoo name.
pub const BAD_MODEL: u8 = 3;
/// The requested backend is not compiled in or not available on this machine.
pub const UNAVAILABLE: u8 = edgebench_bench::EXIT_UNAVAILABLE;
/// The backend could not load or run the model.
pub const BACKEND_FAILED: u8 = 5;
/// Fetching a model or the conformance data failed (download, sha256).
pub const FETCH_FAILED: u8 = 6;
/// `check`: some model does not run (fully) on some requested backend.
pub const NOT_ALL_RUN: u8 = 7;
/// `check --verify`: some verified prediction was wrong.
pub const PREDICTION_WRONG: u8 = 8;
/// `variants`: a requested variant could not be made (the reason is printed; the others are written).
pub const VARIANT_FAILED: u8 = 9;
/// `gate` (and `report --baseline`'s gate): some cell regressed (slower beyond the limit, now failing, or no longer
/// agreeing with the reference).
pub const REGRESSION: u8 = 10;
/// Interrupted (Ctrl-C, SIGTERM): what finished is saved; `bench --resume` completes a run.
pub const INTERRUPTED: u8 = 130;

/// An error that carries its exit code.
#[derive(Debug)]
pub struct Coded {
    pub code: u8,
    pub message: String,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// Builds a coded error.
pub fn fail(code: u8, message: impl fmt::Display) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code,
        message: message.to_string(),
    })
}

/// The code and one-line message for any error.
pub fn classify(e: &anyhow::Error) -> (u8, String) {
    use edgebench_bench::Error as B;
    let code = match (e.downcast_ref::<Coded>(), e.downcast_ref::<B>()) {
        (Some(c), _) => c.code,
        (None, Some(B::Usage(_))) => USAGE,
        (None, Some(B::BadModel(_))) => BAD_MODEL,
        (None, Some(B::Unavailable(_))) => UNAVAILABLE,
        (None, Some(B::Backend(_))) => BACKEND_FAILED,
        (None, Some(B::Variant(_))) => VARIANT_FAILED,
        (None, Some(B::Interrupted(_))) => INTERRUPTED,
        (None, None) => INTERNAL,
    };
    (code, format!("{e:#}").replace('\n', " "))
}
