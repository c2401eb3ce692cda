//! ONNX protobuf -> IR.

use crate::dtype::DataType;
use crate::error::{GraphError, Result};
use crate::ir::*;
use crate::pb;
use bytes::Bytes;
use prost::Message;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Loads a model file. The file is memory-mapped and tensor payloads stay slices of the mapping.
/// External data is resolved relative to the file's folder and refused if it would leave it.
pub fn load(path: &Path) -> Result<Model> {
    let io = |source| GraphError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(GraphError::NotOnnx {
            path: path.into(),
            reason: "is a directory".into(),
        });
    }
    let bytes = if meta.len() == 0 {
        Bytes::new()
    } else {
        // SAFETY: the mapping is read-only; a file truncated by another process while mapped can fault. Model
        // files are not expected to change under a run, and copying every weight defeats lazy loading.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Bytes::from_owner(map)
    };
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    decode(bytes, path, Some(&base))
}

/// Decodes a model from bytes. `path` is used in messages; `base_dir` resolves external data (None: refused).
pub fn decode(bytes: Bytes, path: &Path, base_dir: Option<&Path>) -> Result<Model> {
    if bytes.is_empty() {
        return Err(GraphError::NotOnnx {
            path: path.into(),
            reason: "the file is empty".into(),
        });
    }
    if crate::tflite::has_identifier(&bytes)
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tflite"))
    {
        return crate::tflite::decode(bytes, path);
    }
    let proto = pb::ModelProto::decode(bytes).map_err(|e| classify_decode_error(path, &e))?;
    let Some(graph) = proto.graph else {
        let reason = if proto.ir_version.is_none() && proto.opset_import.is_empty() {
            "no ModelProto fields found".to_string()
        } else {
            "the model has no graph".to_string()
        };
        return Err(GraphError::NotOnnx {
            path: path.into(),
            reason,
        });
    };
    let ctx = Ctx { path, base_dir };
    let mut opset_imports: BTreeMap<String, i64> = BTreeMap::new();
    let mut duplicate_imports = vec![];
    for o in &proto.opset_import {
        let d = o.domain.clone().unwrap_or_default();
        let d = if d == "ai.onnx" { String::new() } else { d };
        let v = o.version.unwrap_or(0);
        match opset_imports.get(&d).copied() {
            Some(prev) => {
                duplicate_imports.push((d.clone(), prev.min(v)));
                opset_imports.insert(d, prev.max(v));
            }
            None => {
                opset_imports.insert(d, v);
            }
        }
    }
    Ok(Model {
        format: Format::Onnx,
        ir_version: proto.ir_version.unwrap_or(0),
        producer_name: proto.producer_name.unwrap_or_default(),
        producer_version: proto.producer_version.unwrap_or_default(),
        domain: proto.domain.unwrap_or_default(),
        model_version: proto.model_version.unwrap_or(0),
        doc_string: proto.doc_string.unwrap_or_default(),
        opset_imports,
        duplicate_imports,
        metadata: proto
            .metadata_props
            .into_iter()
            .map(|e| (e.key.unwrap_or_default(), e.value.unwrap_or_default()))
            .collect(),
        graph: ctx.graph(graph)?,
        functions: proto.functions,
        training_info: proto.training_info,
        configuration: proto.configuration,
    })
}

fn classify_decode_error(path: &Path, e: &prost::DecodeError) -> GraphError {
    let msg = e.to_string();
    // prost reports running out of input as an underflow or an invalid varint at the end; both mean "cut short".
    if msg.contains("buffer underflow") || msg.contains("unexpected end") {
        GraphError::Truncated {
            path: path.into(),
            reason: msg,
        }
    } else {
        GraphError::NotOnnx {
            path: path.into(),
            reason: format!("protobuf decode failed: {msg}"),
        }
    }
}

struct Ctx<'a> {
    path: &'a Path,
    base_dir: Option<&'a Path>,
}

impl Ctx<'_> {
    fn graph(&self, g: pb::GraphProto) -> Result<Graph> {
        Ok(Graph {
            name: g.name.unwrap_or_default(),
            doc_string: g.doc_string.unwrap_or_default(),
            inputs: g.input.into_iter().map(value_info).collect(),
            outputs: g.output.into_iter().map(value_info).collect(),
            value_info: g.value_info.into_iter().map(value_info).collect(),
            initializers: g
                .initializer
                .into_iter()
                .map(|t| self.tensor(t))
                .collect::<Result<_>>()?,
            nodes: g
                .node
                .into_iter()
                .map(|n| self.node(n))
                .collect::<Result<_>>()?,
            sparse_initializers: g.sparse_initializer,
            quantization_annotation: g.quantization_annotation,
            metadata: g.metadata_props,
        })
    }

    fn node(&self, n: pb::NodeProto) -> Result<Node> {
        Ok(Node {
            name: n.name.unwrap_or_default(),
            op_type: n.op_type.unwrap_or_default(),
            domain: n
                .domain
                .map(|d| if d == "ai.onnx" { String::new() } else { d })
                .unwrap_or_default(),
            inputs: n.input,
            outputs: n.output,
            attributes: n
                .attribute
                .into_iter()
                .map(|a| self.attribute(a))
                .collect::<Result<_>>()?,
            doc_string: n.doc_string.unwrap_or_default(),
            version: None,
            overload: n.overload,
            metadata: n.metadata_props,
            device_configurations: n.device_configurations,
        })
    }

    fn attribute(&self, a: pb::AttributeProto) -> Result<Attribute> {
        use pb::attribute_proto::AttributeType as T;
        let ty = a.r#type.unwrap_or(0);
        let name = a.name.clone().unwrap_or_default();
        let value = if let Some(r) = a.ref_attr_name {
            AttrValue::Ref {
                ref_attr_name: r,
                type_code: ty,
            }
        } else {
            // Older exporters leave `type` unset; infer it from the field that is present.
            let t = T::try_from(ty).unwrap_or(T::Undefined);
            match t {
                T::Float => AttrValue::Float(a.f.unwrap_or(0.0)),
                T::Int => AttrValue::Int(a.i.unwrap_or(0)),
                T::String => AttrValue::String(a.s.unwrap_or_default()),
                T::Tensor => AttrValue::Tensor(Box::new(self.tensor(a.t.unwrap_or_default())?)),
                T::Graph => AttrValue::Graph(Box::new(self.graph(a.g.unwrap_or_default())?)),
                T::SparseTensor => {
                    AttrValue::SparseTensor(Box::new(a.sparse_tensor.unwrap_or_default()))
                }
                T::TypeProto => AttrValue::TypeProto(Box::new(a.tp.unwrap_or_default())),
                T::Floats => AttrValue::Floats(a.floats),
                T::Ints => AttrValue::Ints(a.ints),
                T::Strings => AttrValue::Strings(a.strings),
                T::Tensors => AttrValue::Tensors(
                    a.tensors
                        .into_iter()
                        .map(|t| self.tensor(t))
                        .collect::<Result<_>>()?,
                ),
                T::Graphs => AttrValue::Graphs(
                    a.graphs
                        .into_iter()
                        .map(|g| self.graph(g))
                        .collect::<Result<_>>()?,
                ),
                T::SparseTensors => AttrValue::SparseTensors(a.sparse_tensors),
                T::TypeProtos => AttrValue::TypeProtos(a.type_protos),
                T::Undefined => {
                    if let Some(f) = a.f {
                        AttrValue::Float(f)
                    } else if let Some(i) = a.i {
                        AttrValue::Int(i)
                    } else if let Some(s) = a.s {
                        AttrValue::String(s)
                    } else if let Some(t) = a.t {
                        AttrValue::Tensor(Box::new(self.tensor(t)?))
                    } else if let Some(g) = a.g {
                        AttrValue::Graph(Box::new(self.graph(g)?))
                    } else if !a.floats.is_empty() {
                        AttrValue::Floats(a.floats)
                    } else if !a.ints.is_empty() {
                        AttrValue::Ints(a.ints)
                    } else if !a.strings.is_empty() {
                        AttrValue::Strings(a.strings)
                    } else if !a.graphs.is_empty() {
                        AttrValue::Graphs(
                            a.graphs
                                .into_iter()
                                .map(|g| self.graph(g))
                                .collect::<Result<_>>()?,
                        )
                    } else {
                        return Err(GraphError::Invalid {
                            path: self.path.into(),
                            reason: format!("attribute `{name}` has no type and no value"),
                        });
                    }
                }
            }
        };
        Ok(Attribute {
            name,
            value,
            doc_string: a.doc_string.unwrap_or_default(),
        })
    }

    fn tensor(&self, t: pb::TensorProto) -> Result<Tensor> {
        let external = if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32) {
            Some(self.external(&t)?)
        } else {
            None
        };
        Ok(Tensor { proto: t, external })
    }

    fn external(&self, t: &pb::TensorProto) -> Result<ExternalData> {
        let tensor = t.name.clone().unwrap_or_default();
        let invalid = |reason: String| GraphError::ExternalInvalid {
            path: self.path.into(),
            tensor: tensor.clone(),
            reason,
        };
        let get = |k: &str| {
            t.external_data
                .iter()
                .find(|e| e.key.as_deref() == Some(k))
                .and_then(|e| e.value.clone())
        };
        let location = get("location").ok_or_else(|| invalid("no `location` key".into()))?;
        let num = |k: &str| -> Result<Option<u64>> {
            get(k)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| invalid(format!("`{k}` is not a number: {v}")))
                })
                .transpose()
        };
        let offset = num("offset")?.unwrap_or(0);
        let length = num("length")?;
        let escapes = || GraphError::ExternalEscapes {
            path: self.path.into(),
            tensor: tensor.clone(),
            location: location.clone(),
        };
        let rel = Path::new(&location);
        if location.is_empty() {
            return Err(invalid("empty `location`".into()));
        }
        if rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(escapes());
        }
        let base = self.base_dir.ok_or_else(|| {
            invalid(
                "the model was not read from a file, so external data cannot be resolved".into(),
            )
        })?;
        let resolved = base.join(rel);
        // A symlink inside the folder can still point out of it.
        let real = resolved
            .canonicalize()
            .map_err(|e| invalid(format!("`{}`: {e}", resolved.display())))?;
        let real_base = base
            .canonicalize()
            .map_err(|e| invalid(format!("`{}`: {e}", base.display())))?;
        if !real.starts_with(&real_base) {
            return Err(escapes());
        }
        Ok(ExternalData {
            location,
            resolved: real,
            offset,
            length,
        })
    }
}

fn value_info(v: pb::ValueInfoProto) -> ValueInfo {
    ValueInfo {
        name: v.name.unwrap_or_default(),
        ty: v.r#type.and_then(value_type),
        doc_string: v.doc_string.unwrap_or_default(),
        metadata: v.metadata_props,
    }
}

fn value_type(t: pb::TypeProto) -> Option<ValueType> {
    use pb::type_proto::Value;
    Some(match t.value? {
        Value::TensorType(t) => ValueType::Tensor {
            dtype: DataType::from_code(t.elem_type.unwrap_or(0)),
            shape: t.shape.map(shape),
        },
        Value::SparseTensorType(t) => ValueType::SparseTensor {
            dtype: DataType::from_code(t.elem_type.unwrap_or(0)),
            shape: t.shape.map(shape),
        },
        Value::SequenceType(s) => ValueType::Sequence {
            elem: s.elem_type.and_then(|e| value_type(*e)).map(Box::new),
        },
        Value::MapType(m) => ValueType::Map {
            key: DataType::from_code(m.key_type.unwrap_or(0)),
            value: m.value_type.and_then(|e| value_type(*e)).map(Box::new),
        },
        Value::OptionalType(o) => ValueType::Optional {
            elem: o.elem_type.and_then(|e| value_type(*e)).map(Box::new),
        },
    })
}

fn shape(s: pb::TensorShapeProto) -> Vec<Dim> {
    use pb::tensor_shape_proto::dimension::Value;
    s.dim
        .into_iter()
        .map(|d| match d.value {
            Some(Value::DimValue(v)) if v >= 0 => Dim::Value(v),
            Some(Value::DimParam(p)) if !p.is_empty() => Dim::Param(p),
            _ => Dim::Unknown,
        })
        .collect()
}

/// Decodes a serialised `TensorProto` (the conformance suite's `input_0.pb`, `output_0.pb`).
pub fn decode_tensor(bytes: Bytes, path: &Path) -> Result<Tensor> {
    let proto = pb::TensorProto::decode(bytes).map_err(|e| classify_decode_error(path, &e))?;
    Ok(Tensor {
        proto,
        external: None,
    })
}
