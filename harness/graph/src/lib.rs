//! ONNX and TFLite -> IR, and ONNX back. Knows no backend.
//!
//! [`load`] reads a model file (memory-mapped; weights are not copied), [`save`] writes one atomically,
//! [`stats::summarize`] gives what `inspect` prints, [`fixtures`] builds the models edgebench generates itself.

mod dtype;
mod error;
pub mod fixtures;
mod ir;
mod load;
pub mod pb;
pub mod stats;
pub mod tflite;
pub mod validate;
mod write;

pub use dtype::DataType;
pub use error::{GraphError, Result};
pub use ir::*;
pub use load::{decode, decode_tensor, load};
pub use write::{encode, encode_tensor, save, to_proto, write_atomic};
