//! ONNX tensor element types, every one named (including float8, int4 and friends).

use serde::{Serialize, Serializer};
use std::fmt;

/// An ONNX `TensorProto.DataType`. Codes this build does not know are kept as `Unknown(code)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataType {
    Undefined,
    Float,
    Uint8,
    Int8,
    Uint16,
    Int16,
    Int32,
    Int64,
    String,
    Bool,
    Float16,
    Double,
    Uint32,
    Uint64,
    Complex64,
    Complex128,
    Bfloat16,
    Float8e4m3fn,
    Float8e4m3fnuz,
    Float8e5m2,
    Float8e5m2fnuz,
    Uint4,
    Int4,
    Float4e2m1,
    Float8e8m0,
    Uint2,
    Int2,
    Unknown(i32),
}

const TABLE: &[(DataType, i32, &str, u32)] = &[
    (DataType::Undefined, 0, "undefined", 0),
    (DataType::Float, 1, "float32", 32),
    (DataType::Uint8, 2, "uint8", 8),
    (DataType::Int8, 3, "int8", 8),
    (DataType::Uint16, 4, "uint16", 16),
    (DataType::Int16, 5, "int16", 16),
    (DataType::Int32, 6, "int32", 32),
    (DataType::Int64, 7, "int64", 64),
    (DataType::String, 8, "string", 0),
    (DataType::Bool, 9, "bool", 8),
    (DataType::Float16, 10, "float16", 16),
    (DataType::Double, 11, "float64", 64),
    (DataType::Uint32, 12, "uint32", 32),
    (DataType::Uint64, 13, "uint64", 64),
    (DataType::Complex64, 14, "complex64", 64),
    (DataType::Complex128, 15, "complex128", 128),
    (DataType::Bfloat16, 16, "bfloat16", 16),
    (DataType::Float8e4m3fn, 17, "float8e4m3fn", 8),
    (DataType::Float8e4m3fnuz, 18, "float8e4m3fnuz", 8),
    (DataType::Float8e5m2, 19, "float8e5m2", 8),
    (DataType::Float8e5m2fnuz, 20, "float8e5m2fnuz", 8),
    (DataType::Uint4, 21, "uint4", 4),
    (DataType::Int4, 22, "int4", 4),
    (DataType::Float4e2m1, 23, "float4e2m1", 4),
    (DataType::Float8e8m0, 24, "float8e8m0", 8),
    (DataType::Uint2, 25, "uint2", 2),
    (DataType::Int2, 26, "int2", 2),
];

impl DataType {
    /// From the protobuf code; unknown codes are preserved.
    pub fn from_code(code: i32) -> Self {
        TABLE
            .iter()
            .find(|(_, c, _, _)| *c == code)
            .map(|(d, _, _, _)| *d)
            .unwrap_or(DataType::Unknown(code))
    }

    /// The protobuf code.
    pub fn code(self) -> i32 {
        match self {
            DataType::Unknown(c) => c,
            d => TABLE
                .iter()
                .find(|(x, ..)| *x == d)
                .map(|(_, c, ..)| *c)
                .unwrap_or(-1),
        }
    }

    /// Lower-case name as used on the command line and in reports (`float32`, `int64`, `float8e5m2`...).
    pub fn name(self) -> String {
        match self {
            DataType::Unknown(c) => format!("unknown({c})"),
            d => TABLE
                .iter()
                .find(|(x, ..)| *x == d)
                .map(|(_, _, n, _)| n.to_string())
                .unwrap_or_default(),
        }
    }

    /// Parses a name (`float32`, also the ONNX aliases `float`, `double`, `half`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        let alias = match s.as_str() {
            "float" | "f32" => "float32",
            "double" | "f64" => "float64",
            "half" | "f16" => "float16",
            "i64" => "int64",
            "i32" => "int32",
            "i8" => "int8",
            "u8" => "uint8",
            other => other,
        };
        TABLE
            .iter()
            .find(|(_, _, n, _)| *n == alias)
            .map(|(d, ..)| *d)
    }

    /// Bits per element; 0 for strings, undefined and unknown codes.
    pub fn bits(self) -> u32 {
        TABLE
            .iter()
            .find(|(x, ..)| *x == self)
            .map(|(.., b)| *b)
            .unwrap_or(0)
    }

    /// Bytes for `n` elements (sub-byte types packed, rounded up).
    pub fn bytes_for(self, n: u64) -> u64 {
        u64::try_from((n as u128 * self.bits() as u128).div_ceil(8)).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for DataType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_is_named() {
        for code in 0..=26 {
            let d = DataType::from_code(code);
            assert!(!matches!(d, DataType::Unknown(_)), "code {code} unnamed");
            assert_eq!(d.code(), code);
            assert_eq!(DataType::parse(&d.name()), Some(d));
        }
        assert_eq!(DataType::from_code(99), DataType::Unknown(99));
        assert_eq!(DataType::Int4.bytes_for(3), 2);
        assert_eq!(DataType::parse("float"), Some(DataType::Float));
    }
}
