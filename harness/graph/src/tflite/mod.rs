//! TFLite flatbuffers (schema v3, `TFL3`) -> IR.
//!
//! TFLite ops become nodes of their own domain, [`DOMAIN`] (custom ops: [`CUSTOM_DOMAIN`]), with the operator
//! code's version as the node's [`Node::version`] — the op's "opset", which is per op in TFLite, not per model.
//! Tensors become values (every tensor's shape is known, so each gets a value-info); tensors with data become
//! initializers whose bytes are slices of the file. Quantization and sparsity are kept as value-info metadata.
//! Subgraphs called by IF / WHILE / CALL_ONCE become graph attributes, so walks and op counts reach them.
//! Nodes are named `OP#index` (TFLite ops have no names; the index is the one LiteRT's profiler reports).

mod fb;
pub mod fixtures;
pub mod ops;
pub mod suite;
pub mod write;

use crate::error::{GraphError, Result};
use crate::ir::*;
use crate::pb;
use bytes::Bytes;
use fb::Table;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The IR domain of TFLite builtin operators.
pub const DOMAIN: &str = "tflite";
/// The IR domain of TFLite custom operators (op type = the custom code).
pub const CUSTOM_DOMAIN: &str = "tflite.custom";
/// The schema's file identifier, at bytes 4..8.
pub const IDENTIFIER: &[u8; 4] = b"TFL3";

/// Whether the bytes carry TFLite's file identifier.
pub fn has_identifier(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(IDENTIFIER)
}

/// Decodes a TFLite flatbuffer. `path` is used in messages.
pub fn decode(bytes: Bytes, path: &Path) -> Result<Model> {
    let bad = |reason: String| GraphError::Tflite {
        path: path.into(),
        reason,
    };
    if bytes.len() < 8 {
        return Err(bad(format!(
            "truncated: {} bytes, shorter than a flatbuffer header",
            bytes.len()
        )));
    }
    if !has_identifier(&bytes) {
        let id = String::from_utf8_lossy(&bytes[4..8])
            .escape_debug()
            .to_string();
        return Err(bad(format!(
            "wrong file identifier `{id}` (expected `TFL3`)"
        )));
    }
    Reader {
        buf: &bytes,
        bytes: &bytes,
    }
    .model()
    .map_err(bad)
}

struct Reader<'a> {
    buf: &'a [u8],
    bytes: &'a Bytes,
}

struct OpCode {
    op_type: String,
    domain: &'static str,
    version: i64,
}

struct BufferRef {
    /// Byte range in the file; empty for a buffer without data.
    range: std::ops::Range<usize>,
}

struct Ctx<'a> {
    codes: Vec<OpCode>,
    buffers: Vec<BufferRef>,
    subgraphs: Vec<Table<'a>>,
    /// Subgraphs being converted (cycle detection).
    stack: Vec<usize>,
}

const CUSTOM: i32 = 32;

impl<'a> Reader<'a> {
    fn model(&self) -> fb::R<Model> {
        let root = fb::root(self.buf)?;
        let version = root.u32(0, 0, "model.version")?;
        let mut codes = vec![];
        for (i, c) in root.tables(1, "operator_codes")?.iter().enumerate() {
            let w = format!("operator_codes[{i}]");
            let deprecated = c.i8(0, 0, &w)? as i32;
            let builtin = c.i32(3, 0, &w)?;
            let code = deprecated.max(builtin);
            let version = c.i32(2, 1, &w)? as i64;
            let (op_type, domain) = if code == CUSTOM {
                let name = c
                    .string(1, &w)?
                    .ok_or_else(|| format!("{w}: a CUSTOM operator without a custom code"))?;
                (name, CUSTOM_DOMAIN)
            } else {
                let name = ops::builtin_name(code)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("BUILTIN_{code}"));
                (name, DOMAIN)
            };
            codes.push(OpCode {
                op_type,
                domain,
                version,
            });
        }
        let mut buffers = vec![];
        for (i, b) in root.tables(4, "buffers")?.iter().enumerate() {
            let w = format!("buffers[{i}]");
            let offset = b.u64(1, 0, &w)?;
            let range = if offset > 1 {
                let size = b.u64(2, 0, &w)?;
                let end = offset
                    .checked_add(size)
                    .filter(|e| *e <= self.buf.len() as u64)
                    .ok_or_else(|| {
                        format!(
                            "{w}: data at offset {offset}, {size} bytes, is out of range (file is {} bytes)",
                            self.buf.len()
                        )
                    })?;
                offset as usize..end as usize
            } else {
                match b.bytes(0, &w)? {
                    Some((s, n)) => s..s + n,
                    None => 0..0,
                }
            };
            buffers.push(BufferRef { range });
        }
        let subgraphs = root.tables(2, "subgraphs")?;
        if subgraphs.is_empty() {
            return Err("the model has no subgraph".into());
        }
        let mut ctx = Ctx {
            codes,
            buffers,
            subgraphs,
            stack: vec![],
        };
        let graph = self.subgraph(&mut ctx, 0)?;
        let mut metadata = vec![];
        for (i, m) in root.tables(6, "metadata")?.iter().enumerate() {
            let w = format!("metadata[{i}]");
            let name = m.string(0, &w)?.unwrap_or_default();
            let idx = m.u32(1, 0, &w)? as usize;
            let value = match ctx.buffers.get(idx) {
                None => {
                    return Err(format!(
                        "{w} (`{name}`): buffer {idx} out of range ({} buffers)",
                        ctx.buffers.len()
                    ));
                }
                Some(b) => {
                    let data = &self.buf[b.range.clone()];
                    let text = data.strip_suffix(&[0]).unwrap_or(data);
                    match std::str::from_utf8(text) {
                        Ok(s) if s.len() <= 64 && !s.contains('\0') => s.to_string(),
                        _ => format!("<{} bytes>", data.len()),
                    }
                }
            };
            metadata.push((name, value));
        }
        for (i, s) in root.tables(7, "signature_defs")?.iter().enumerate() {
            let key = s.string(2, &format!("signature_defs[{i}]"))?;
            metadata.push(("signature".into(), key.unwrap_or_default()));
        }
        let max_version = ctx.codes.iter().map(|c| c.version).max().unwrap_or(1);
        let mut opset_imports = BTreeMap::new();
        if ctx.codes.iter().any(|c| c.domain == DOMAIN) {
            opset_imports.insert(DOMAIN.to_string(), max_version);
        }
        if ctx.codes.iter().any(|c| c.domain == CUSTOM_DOMAIN) {
            opset_imports.insert(CUSTOM_DOMAIN.to_string(), 1);
        }
        Ok(Model {
            format: Format::Tflite,
            ir_version: 0,
            producer_name: root.string(3, "model.description")?.unwrap_or_default(),
            producer_version: format!("TFLite schema v{version}"),
            domain: String::new(),
            model_version: version as i64,
            doc_string: String::new(),
            opset_imports,
            duplicate_imports: vec![],
            metadata,
            graph,
            functions: vec![],
            training_info: vec![],
            configuration: vec![],
        })
    }

    fn subgraph(&self, ctx: &mut Ctx<'a>, index: usize) -> fb::R<Graph> {
        if let Some(at) = ctx.stack.iter().position(|s| *s == index) {
            let chain: Vec<String> = ctx.stack[at..]
                .iter()
                .chain(std::iter::once(&index))
                .map(|s| s.to_string())
                .collect();
            return Err(format!("subgraph cycle: {}", chain.join(" -> ")));
        }
        let Some(sg) = ctx.subgraphs.get(index).copied() else {
            return Err(format!(
                "subgraph {index} out of range ({} subgraphs)",
                ctx.subgraphs.len()
            ));
        };
        ctx.stack.push(index);
        let w = format!("subgraphs[{index}]");
        let tensors = sg.tables(0, &format!("{w}.tensors"))?;
        let mut names: Vec<String> = vec![];
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut values = vec![];
        let mut initializers = vec![];
        for (ti, t) in tensors.iter().enumerate() {
            let tw = format!("{w}.tensors[{ti}]");
            let raw = t.string(3, &tw)?.unwrap_or_default();
            let name = if raw.is_empty() || seen.contains_key(&raw) {
                format!("{raw}#{ti}")
            } else {
                raw
            };
            seen.insert(name.clone(), ti);
            names.push(name.clone());
            let code = t.u8(1, 0, &tw)?;
            let dtype = ops::tensor_type(code).unwrap_or(crate::DataType::Unknown(-(code as i32)));
            let shape = t.i32s(0, &tw)?;
            let signature = t.i32s(7, &tw)?;
            let dims: Vec<Dim> = if signature.len() == shape.len() && !signature.is_empty() {
                signature
                    .iter()
                    .zip(&shape)
                    .map(|(s, d)| {
                        if *s < 0 {
                            Dim::Unknown
                        } else {
                            Dim::Value(*d as i64)
                        }
                    })
                    .collect()
            } else {
                shape
                    .iter()
                    .map(|d| {
                        if *d < 0 {
                            Dim::Unknown
                        } else {
                            Dim::Value(*d as i64)
                        }
                    })
                    .collect()
            };
            let mut meta = vec![];
            if let Some(q) = t.table(4, &tw)? {
                let qw = format!("{tw}.quantization");
                let scale = q.f32s(2, &qw)?;
                let zero = q.i64s(3, &qw)?;
                if !scale.is_empty() {
                    let axis = q.i32(6, 0, &qw)?;
                    let v = if scale.len() == 1 {
                        format!(
                            "scale={} zero_point={}",
                            scale[0],
                            zero.first().copied().unwrap_or(0)
                        )
                    } else {
                        format!("per-axis {axis}: {} scales", scale.len())
                    };
                    meta.push(pb::StringStringEntryProto {
                        key: Some("quantization".into()),
                        value: Some(v),
                    });
                }
            }
            let sparse = t.table(6, &tw)?.is_some();
            if sparse {
                meta.push(pb::StringStringEntryProto {
                    key: Some("sparsity".into()),
                    value: Some("sparse (block/dim metadata)".into()),
                });
            }
            if t.bool(5, &tw)? {
                meta.push(pb::StringStringEntryProto {
                    key: Some("variable".into()),
                    value: Some("true".into()),
                });
            }
            let bi = t.u32(2, 0, &tw)? as usize;
            let buffer = ctx.buffers.get(bi).ok_or_else(|| {
                format!(
                    "{tw} (`{name}`): buffer {bi} out of range ({} buffers)",
                    ctx.buffers.len()
                )
            })?;
            if bi > 0 && !buffer.range.is_empty() {
                let have = buffer.range.len() as u64;
                let numel: Option<u64> = shape
                    .iter()
                    .try_fold(1u64, |a, d| (*d >= 0).then(|| a.saturating_mul(*d as u64)));
                if let Some(n) = numel
                    && !sparse
                    && dtype.bits() > 0
                {
                    let want = dtype.bytes_for(n);
                    if have < want {
                        return Err(format!(
                            "{tw} (`{name}`): buffer {bi} is too short: {have} bytes for {} {} ({want} expected)",
                            dtype,
                            shape_string(Some(&dims))
                        ));
                    }
                }
                initializers.push(Tensor {
                    proto: pb::TensorProto {
                        name: Some(name.clone()),
                        data_type: Some(dtype.code()),
                        dims: shape.iter().map(|d| *d as i64).collect(),
                        raw_data: Some(self.bytes.slice(buffer.range.clone())),
                        ..Default::default()
                    },
                    external: None,
                });
            }
            values.push(ValueInfo {
                name,
                ty: Some(ValueType::Tensor {
                    dtype,
                    shape: (!shape.is_empty() || t.bool(8, &tw)? || signature.is_empty())
                        .then_some(dims),
                }),
                doc_string: String::new(),
                metadata: meta,
            });
        }
        let tensor_name = |i: i32, what: &str| -> fb::R<String> {
            if i < 0 {
                return Ok(String::new());
            }
            names.get(i as usize).cloned().ok_or_else(|| {
                format!(
                    "{what}: tensor index {i} out of range ({} tensors)",
                    names.len()
                )
            })
        };
        let inputs: Vec<String> = sg
            .i32s(1, &w)?
            .into_iter()
            .map(|i| tensor_name(i, &format!("{w}.inputs")))
            .collect::<fb::R<_>>()?;
        let outputs: Vec<String> = sg
            .i32s(2, &w)?
            .into_iter()
            .map(|i| tensor_name(i, &format!("{w}.outputs")))
            .collect::<fb::R<_>>()?;
        let mut nodes = vec![];
        for (oi, op) in sg.tables(3, &format!("{w}.operators"))?.iter().enumerate() {
            let ow = format!("{w}.operators[{oi}]");
            let ci = op.u32(0, 0, &ow)? as usize;
            let code = ctx.codes.get(ci).ok_or_else(|| {
                format!(
                    "{ow}: opcode index {ci} out of range ({} operator codes)",
                    ctx.codes.len()
                )
            })?;
            let (op_type, domain, version) = (code.op_type.clone(), code.domain, code.version);
            let ins = op
                .i32s(1, &ow)?
                .into_iter()
                .map(|i| tensor_name(i, &ow))
                .collect::<fb::R<Vec<_>>>()?;
            let outs = op
                .i32s(2, &ow)?
                .into_iter()
                .map(|i| tensor_name(i, &ow))
                .collect::<fb::R<Vec<_>>>()?;
            let mut attributes = vec![];
            let options_type = op.u8(3, 0, &ow)?;
            if let Some(opts) = op.table(4, &ow)? {
                for (name, value) in options(options_type, &opts, &ow)? {
                    let value = match value {
                        Opt::Int(v) => AttrValue::Int(v),
                        Opt::Subgraph(s) => {
                            let g = self.subgraph(ctx, s)?;
                            AttrValue::Graph(Box::new(g))
                        }
                    };
                    attributes.push(Attribute {
                        name: name.into(),
                        value,
                        doc_string: String::new(),
                    });
                }
            }
            nodes.push(Node {
                name: format!("{op_type}#{oi}"),
                op_type,
                domain: domain.into(),
                version: Some(version),
                inputs: ins,
                outputs: outs,
                attributes,
                ..Default::default()
            });
        }
        ctx.stack.pop();
        let by_name: HashMap<&str, &ValueInfo> =
            values.iter().map(|v| (v.name.as_str(), v)).collect();
        let pick = |n: &String| -> ValueInfo {
            by_name
                .get(n.as_str())
                .map(|v| (*v).clone())
                .unwrap_or(ValueInfo {
                    name: n.clone(),
                    ty: None,
                    doc_string: String::new(),
                    metadata: vec![],
                })
        };
        let graph_inputs: Vec<ValueInfo> = inputs.iter().map(pick).collect();
        let graph_outputs: Vec<ValueInfo> = outputs.iter().map(pick).collect();
        let value_info = values
            .iter()
            .filter(|v| !inputs.contains(&v.name) && !outputs.contains(&v.name))
            .cloned()
            .collect();
        Ok(Graph {
            name: sg
                .string(4, &w)?
                .unwrap_or_else(|| format!("subgraph{index}")),
            inputs: graph_inputs,
            outputs: graph_outputs,
            value_info,
            initializers,
            nodes,
            ..Default::default()
        })
    }
}

enum Opt {
    Int(i64),
    Subgraph(usize),
}

/// The builtin options edgebench reads, by `BuiltinOptions` union type: those support constraints test (padding,
/// strides, fused activation, dilation) and those naming subgraphs. Other options are not decoded.
fn options(ty: u8, t: &Table<'_>, w: &str) -> fb::R<Vec<(&'static str, Opt)>> {
    let i = |id: usize, default: i32| -> fb::R<Opt> { Ok(Opt::Int(t.i32(id, default, w)? as i64)) };
    let b = |id: usize| -> fb::R<Opt> { Ok(Opt::Int(t.i8(id, 0, w)? as i64)) };
    let sub = |id: usize| -> fb::R<Opt> {
        let s = t.i32(id, 0, w)?;
        if s < 0 {
            return Err(format!("{w}: negative subgraph index {s}"));
        }
        Ok(Opt::Subgraph(s as usize))
    };
    Ok(match ty {
        // Conv2DOptions
        1 => vec![
            ("padding", b(0)?),
            ("stride_w", i(1, 0)?),
            ("stride_h", i(2, 0)?),
            ("fused_activation_function", b(3)?),
            ("dilation_w_factor", i(4, 1)?),
            ("dilation_h_factor", i(5, 1)?),
        ],
        // DepthwiseConv2DOptions
        2 => vec![
            ("padding", b(0)?),
            ("stride_w", i(1, 0)?),
            ("stride_h", i(2, 0)?),
            ("depth_multiplier", i(3, 0)?),
            ("fused_activation_function", b(4)?),
            ("dilation_w_factor", i(5, 1)?),
            ("dilation_h_factor", i(6, 1)?),
        ],
        // Pool2DOptions
        5 => vec![
            ("padding", b(0)?),
            ("stride_w", i(1, 0)?),
            ("stride_h", i(2, 0)?),
            ("filter_width", i(3, 0)?),
            ("filter_height", i(4, 0)?),
            ("fused_activation_function", b(5)?),
        ],
        // FullyConnectedOptions
        8 => vec![
            ("fused_activation_function", b(0)?),
            ("keep_num_dims", b(2)?),
        ],
        // TransposeConvOptions
        49 => vec![
            ("padding", b(0)?),
            ("stride_w", i(1, 0)?),
            ("stride_h", i(2, 0)?),
            ("fused_activation_function", b(3)?),
        ],
        // IfOptions, WhileOptions, CallOnceOptions
        92 => vec![("then_subgraph", sub(0)?), ("else_subgraph", sub(1)?)],
        93 => vec![("cond_subgraph", sub(0)?), ("body_subgraph", sub(1)?)],
        103 => vec![("init_subgraph", sub(0)?)],
        _ => vec![],
    })
}

/// The format of a model file from its first bytes (TFLite's identifier) or, for a file too short or unreadable,
/// its extension. Everything else is taken for ONNX.
pub fn format_of(path: &Path) -> Format {
    let mut head = [0u8; 8];
    let read = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok();
    if (read && has_identifier(&head))
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tflite"))
    {
        Format::Tflite
    } else {
        Format::Onnx
    }
}
