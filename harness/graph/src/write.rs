//! IR -> ONNX protobuf, and atomic writing of model files.

use crate::error::{GraphError, Result};
use crate::ir::*;
use crate::pb;
use prost::Message;
use std::path::Path;

/// Encodes a model. Tensors with external data are written inline (their bytes are read now), so the result is
/// self-contained wherever it is saved.
pub fn encode(model: &Model) -> std::io::Result<Vec<u8>> {
    Ok(to_proto(model)?.encode_to_vec())
}

/// Encodes a tensor as a `TensorProto` (the conformance suites' `.pb` files).
pub fn encode_tensor(t: &Tensor) -> Vec<u8> {
    t.proto.encode_to_vec()
}

/// Writes a model to `path` atomically: a temp file in the same folder, then a rename. An existing file at `path`
/// is replaced only once the new one is complete.
pub fn save(model: &Model, path: &Path) -> Result<()> {
    let io = |source| GraphError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = encode(model).map_err(io)?;
    write_atomic(path, &bytes).map_err(io)
}

/// Writes bytes to `path` via a temp file in the same folder and a rename; on error nothing is left behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// IR -> `ModelProto`.
pub fn to_proto(m: &Model) -> std::io::Result<pb::ModelProto> {
    if m.format == Format::Tflite {
        return Err(std::io::Error::other(
            "a TFLite model cannot be written as ONNX (rewrites and variants of .tflite models are not supported)",
        ));
    }
    Ok(pb::ModelProto {
        ir_version: Some(m.ir_version),
        opset_import: m
            .opset_imports
            .iter()
            .map(|(d, v)| pb::OperatorSetIdProto {
                domain: Some(d.clone()),
                version: Some(*v),
            })
            .collect(),
        producer_name: Some(m.producer_name.clone()),
        producer_version: Some(m.producer_version.clone()),
        domain: Some(m.domain.clone()),
        model_version: Some(m.model_version),
        doc_string: non_empty(&m.doc_string),
        graph: Some(graph(&m.graph)?),
        metadata_props: m
            .metadata
            .iter()
            .map(|(k, v)| pb::StringStringEntryProto {
                key: Some(k.clone()),
                value: Some(v.clone()),
            })
            .collect(),
        training_info: m.training_info.clone(),
        functions: m.functions.clone(),
        configuration: m.configuration.clone(),
    })
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn graph(g: &Graph) -> std::io::Result<pb::GraphProto> {
    Ok(pb::GraphProto {
        node: g.nodes.iter().map(node).collect::<std::io::Result<_>>()?,
        name: Some(g.name.clone()),
        initializer: g
            .initializers
            .iter()
            .map(tensor)
            .collect::<std::io::Result<_>>()?,
        sparse_initializer: g.sparse_initializers.clone(),
        doc_string: non_empty(&g.doc_string),
        input: g.inputs.iter().map(value_info).collect(),
        output: g.outputs.iter().map(value_info).collect(),
        value_info: g.value_info.iter().map(value_info).collect(),
        quantization_annotation: g.quantization_annotation.clone(),
        metadata_props: g.metadata.clone(),
    })
}

fn node(n: &Node) -> std::io::Result<pb::NodeProto> {
    Ok(pb::NodeProto {
        input: n.inputs.clone(),
        output: n.outputs.clone(),
        name: non_empty(&n.name),
        op_type: Some(n.op_type.clone()),
        domain: non_empty(&n.domain),
        overload: n.overload.clone(),
        attribute: n
            .attributes
            .iter()
            .map(attribute)
            .collect::<std::io::Result<_>>()?,
        doc_string: non_empty(&n.doc_string),
        metadata_props: n.metadata.clone(),
        device_configurations: n.device_configurations.clone(),
    })
}

fn tensor(t: &Tensor) -> std::io::Result<pb::TensorProto> {
    let mut p = t.proto.clone();
    if t.external.is_some() {
        p.raw_data = Some(t.data_bytes()?);
        p.external_data.clear();
        p.data_location = None;
    }
    Ok(p)
}

fn attribute(a: &Attribute) -> std::io::Result<pb::AttributeProto> {
    use pb::attribute_proto::AttributeType as T;
    let mut p = pb::AttributeProto {
        name: Some(a.name.clone()),
        doc_string: non_empty(&a.doc_string),
        ..Default::default()
    };
    let ty = match &a.value {
        AttrValue::Float(f) => {
            p.f = Some(*f);
            T::Float
        }
        AttrValue::Int(i) => {
            p.i = Some(*i);
            T::Int
        }
        AttrValue::String(s) => {
            p.s = Some(s.clone());
            T::String
        }
        AttrValue::Tensor(t) => {
            p.t = Some(tensor(t)?);
            T::Tensor
        }
        AttrValue::Graph(g) => {
            p.g = Some(graph(g)?);
            T::Graph
        }
        AttrValue::SparseTensor(s) => {
            p.sparse_tensor = Some((**s).clone());
            T::SparseTensor
        }
        AttrValue::TypeProto(t) => {
            p.tp = Some((**t).clone());
            T::TypeProto
        }
        AttrValue::Floats(v) => {
            p.floats = v.clone();
            T::Floats
        }
        AttrValue::Ints(v) => {
            p.ints = v.clone();
            T::Ints
        }
        AttrValue::Strings(v) => {
            p.strings = v.clone();
            T::Strings
        }
        AttrValue::Tensors(v) => {
            p.tensors = v.iter().map(tensor).collect::<std::io::Result<_>>()?;
            T::Tensors
        }
        AttrValue::Graphs(v) => {
            p.graphs = v.iter().map(graph).collect::<std::io::Result<_>>()?;
            T::Graphs
        }
        AttrValue::SparseTensors(v) => {
            p.sparse_tensors = v.clone();
            T::SparseTensors
        }
        AttrValue::TypeProtos(v) => {
            p.type_protos = v.clone();
            T::TypeProtos
        }
        AttrValue::Ref {
            ref_attr_name,
            type_code,
        } => {
            p.ref_attr_name = Some(ref_attr_name.clone());
            p.r#type = Some(*type_code);
            return Ok(p);
        }
    };
    p.r#type = Some(ty as i32);
    Ok(p)
}

fn value_info(v: &ValueInfo) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: Some(v.name.clone()),
        r#type: v.ty.as_ref().map(value_type),
        doc_string: non_empty(&v.doc_string),
        metadata_props: v.metadata.clone(),
    }
}

fn value_type(t: &ValueType) -> pb::TypeProto {
    use pb::type_proto::{self as tp, Value};
    let value = match t {
        ValueType::Tensor { dtype, shape: s } => Value::TensorType(tp::Tensor {
            elem_type: Some(dtype.code()),
            shape: s.as_deref().map(shape),
        }),
        ValueType::SparseTensor { dtype, shape: s } => Value::SparseTensorType(tp::SparseTensor {
            elem_type: Some(dtype.code()),
            shape: s.as_deref().map(shape),
        }),
        ValueType::Sequence { elem } => Value::SequenceType(Box::new(tp::Sequence {
            elem_type: elem.as_deref().map(|e| Box::new(value_type(e))),
        })),
        ValueType::Map { key, value } => Value::MapType(Box::new(tp::Map {
            key_type: Some(key.code()),
            value_type: value.as_deref().map(|e| Box::new(value_type(e))),
        })),
        ValueType::Optional { elem } => Value::OptionalType(Box::new(tp::Optional {
            elem_type: elem.as_deref().map(|e| Box::new(value_type(e))),
        })),
    };
    pb::TypeProto {
        denotation: None,
        value: Some(value),
    }
}

fn shape(dims: &[Dim]) -> pb::TensorShapeProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    pb::TensorShapeProto {
        dim: dims
            .iter()
            .map(|d| Dimension {
                denotation: None,
                value: match d {
                    Dim::Value(v) => Some(Value::DimValue(*v)),
                    Dim::Param(p) => Some(Value::DimParam(p.clone())),
                    Dim::Unknown => None,
                },
            })
            .collect(),
    }
}
