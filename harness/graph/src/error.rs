use std::path::PathBuf;

/// Why a model could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an ONNX model ({reason})")]
    NotOnnx { path: PathBuf, reason: String },
    #[error("{path}: truncated ONNX file ({reason})")]
    Truncated { path: PathBuf, reason: String },
    #[error(
        "{path}: tensor `{tensor}` has external data at `{location}`, which escapes the model's folder; refused"
    )]
    ExternalEscapes {
        path: PathBuf,
        tensor: String,
        location: String,
    },
    #[error("{path}: tensor `{tensor}` has invalid external data: {reason}")]
    ExternalInvalid {
        path: PathBuf,
        tensor: String,
        reason: String,
    },
    #[error("{path}: invalid TFLite file: {reason}")]
    Tflite { path: PathBuf, reason: String },
    #[error("{path}: invalid model: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

pub type Result<T, E = GraphError> = std::result::Result<T, E>;
