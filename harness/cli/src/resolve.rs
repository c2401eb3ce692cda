//! Turns command-line words into things: a model argument into a file, `--feed` flags into tensors that fit it.

use crate::exit::{BAD_MODEL, USAGE, fail};
use anyhow::Result;
use edgebench_graph::Model;
use edgebench_models::fit::Fitted;
use edgebench_models::{Fetcher, Manifest};

pub use edgebench_models::resolve::ModelRef;

/// Resolves a model word (`edgebench_models::resolve::model`); a word that names nothing usable is a bad model.
pub fn model(arg: &str, fetcher: &Fetcher, manifest: &Manifest) -> Result<ModelRef> {
    edgebench_models::resolve::model(arg, fetcher, manifest).map_err(|e| fail(BAD_MODEL, e))
}

/// Loads the IR, mapping loader errors to the bad-model exit code.
pub fn load(m: &ModelRef) -> Result<Model> {
    edgebench_graph::load(&m.path).map_err(|e| fail(BAD_MODEL, e))
}

/// Refuses a TFLite model for a command that writes ONNX (`rewrite`, `variants`): out of scope, said plainly.
pub fn onnx_only(m: &ModelRef, command: &str) -> Result<()> {
    if edgebench_graph::tflite::format_of(&m.path) == edgebench_graph::Format::Tflite {
        return Err(fail(
            USAGE,
            format!(
                "{}: a TFLite model: `{command}` works on ONNX models only",
                m.label
            ),
        ));
    }
    Ok(())
}

/// The feed for a model (`edgebench_models::fit::fit`): `--feed` flags, then the zoo manifest's feed, then the
/// model's declared shapes with symbolic dims from `--dim NAME=VALUE`, leading batch dims defaulting to 1 (each such
/// default is a note in the result). A feed that cannot be made is a usage error (exit 2).
pub fn feed(model: &Model, m: &ModelRef, flags: &[String], dims: &[String]) -> Result<Fitted> {
    edgebench_models::fit::fit(model, &m.label, flags, dims, &m.default_feed)
        .map_err(|e| fail(USAGE, e))
}

/// Prints the notes of a fitted feed on stderr.
pub fn print_notes(f: &Fitted) {
    for n in &f.notes {
        eprintln!("edgebench: note: {n}");
    }
}

pub use edgebench_models::fit::input_specs;
