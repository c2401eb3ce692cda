//! The in-memory model: an owned, walkable form of an ONNX `ModelProto`.
//!
//! Graph-valued attributes (If/Loop/Scan bodies) are converted to [`Graph`] so that walks reach them.
//! Initializer data stays a `Bytes` slice of the mapped file until someone asks for it.

use crate::dtype::DataType;
use crate::pb;
use bytes::Bytes;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The file format a model was read from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Onnx,
    Tflite,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Onnx => "onnx",
            Format::Tflite => "tflite",
        }
    }
}

/// One loaded model.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// ONNX or TFLite. A TFLite model's nodes are in the `tflite` domain (see [`crate::tflite`]); it cannot be
    /// written back as ONNX.
    pub format: Format,
    pub ir_version: i64,
    pub producer_name: String,
    pub producer_version: String,
    pub domain: String,
    pub model_version: i64,
    pub doc_string: String,
    /// Opset version per domain; the default domain `ai.onnx` is stored as `""`. A domain the file imports more
    /// than once (`""` and `ai.onnx` are one domain) is read at its highest version.
    pub opset_imports: BTreeMap<String, i64>,
    /// The other imports of a domain the file imports more than once (domain, version), for validation's note.
    pub duplicate_imports: Vec<(String, i64)>,
    pub metadata: Vec<(String, String)>,
    pub graph: Graph,
    /// Kept verbatim: model-local functions, training info, device configurations.
    pub functions: Vec<pb::FunctionProto>,
    pub training_info: Vec<pb::TrainingInfoProto>,
    pub configuration: Vec<pb::DeviceConfigurationProto>,
}

/// A graph: the main one or a subgraph held by a node attribute.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    pub name: String,
    pub doc_string: String,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    pub value_info: Vec<ValueInfo>,
    pub initializers: Vec<Tensor>,
    pub nodes: Vec<Node>,
    /// Kept verbatim.
    pub sparse_initializers: Vec<pb::SparseTensorProto>,
    pub quantization_annotation: Vec<pb::TensorAnnotation>,
    pub metadata: Vec<pb::StringStringEntryProto>,
}

/// A named, typed value (graph input, output or annotated intermediate).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValueInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: Option<ValueType>,
    #[serde(skip)]
    pub doc_string: String,
    #[serde(skip)]
    pub metadata: Vec<pb::StringStringEntryProto>,
}

/// The type of a value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValueType {
    Tensor {
        dtype: DataType,
        shape: Option<Vec<Dim>>,
    },
    SparseTensor {
        dtype: DataType,
        shape: Option<Vec<Dim>>,
    },
    Sequence {
        elem: Option<Box<ValueType>>,
    },
    Map {
        key: DataType,
        value: Option<Box<ValueType>>,
    },
    Optional {
        elem: Option<Box<ValueType>>,
    },
}

impl ValueType {
    /// Element type and shape when this is a dense tensor.
    pub fn as_tensor(&self) -> Option<(DataType, Option<&[Dim]>)> {
        match self {
            ValueType::Tensor { dtype, shape } => Some((*dtype, shape.as_deref())),
            _ => None,
        }
    }
}

/// One dimension of a shape. `dim_value: -1` (non-standard, seen in real exports) loads as `Unknown`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Value(i64),
    Param(String),
    Unknown,
}

impl Dim {
    pub fn value(&self) -> Option<u64> {
        match self {
            Dim::Value(v) if *v >= 0 => Some(*v as u64),
            _ => None,
        }
    }
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Value(v) => write!(f, "{v}"),
            Dim::Param(p) => f.write_str(p),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

impl Serialize for Dim {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Dim::Value(v) => s.serialize_i64(*v),
            Dim::Param(p) => s.serialize_str(p),
            Dim::Unknown => s.serialize_none(),
        }
    }
}

/// Formats a shape as `[1, N, 3]`.
pub fn shape_string(shape: Option<&[Dim]>) -> String {
    match shape {
        None => "[unranked]".into(),
        Some(d) => format!(
            "[{}]",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A computation node.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Node {
    pub name: String,
    pub op_type: String,
    /// `""` is the default ONNX domain.
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attributes: Vec<Attribute>,
    pub doc_string: String,
    /// The operator's own version where the format versions ops one by one (TFLite's operator-code version);
    /// `None` for ONNX nodes, whose version is their domain's opset.
    pub version: Option<i64>,
    /// Kept verbatim.
    pub overload: Option<String>,
    pub metadata: Vec<pb::StringStringEntryProto>,
    pub device_configurations: Vec<pb::NodeDeviceConfigurationProto>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.value)
    }
    pub fn attr_int(&self, name: &str) -> Option<i64> {
        match self.attr(name) {
            Some(AttrValue::Int(i)) => Some(*i),
            _ => None,
        }
    }
    pub fn attr_ints(&self, name: &str) -> Option<&[i64]> {
        match self.attr(name) {
            Some(AttrValue::Ints(i)) => Some(i),
            _ => None,
        }
    }
    /// Subgraphs held by this node's attributes, with the attribute name.
    pub fn subgraphs(&self) -> impl Iterator<Item = (&str, &Graph)> {
        self.attributes.iter().flat_map(|a| {
            let gs: Vec<&Graph> = match &a.value {
                AttrValue::Graph(g) => vec![g.as_ref()],
                AttrValue::Graphs(gs) => gs.iter().collect(),
                _ => vec![],
            };
            gs.into_iter().map(move |g| (a.name.as_str(), g))
        })
    }
}

/// A node attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub value: AttrValue,
    pub doc_string: String,
}

/// An attribute value. Graphs are IR graphs; the rarer kinds stay protobuf messages.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Float(f32),
    Int(i64),
    String(Bytes),
    Tensor(Box<Tensor>),
    Graph(Box<Graph>),
    SparseTensor(Box<pb::SparseTensorProto>),
    TypeProto(Box<pb::TypeProto>),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Strings(Vec<Bytes>),
    Tensors(Vec<Tensor>),
    Graphs(Vec<Graph>),
    SparseTensors(Vec<pb::SparseTensorProto>),
    TypeProtos(Vec<pb::TypeProto>),
    /// A reference to an attribute of the enclosing function (`ref_attr_name`), with its declared type code.
    Ref {
        ref_attr_name: String,
        type_code: i32,
    },
}

/// Where a tensor's bytes live when they are outside the model file.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalData {
    /// The location as written in the model.
    pub location: String,
    /// Resolved against the model's folder, checked to stay inside it.
    pub resolved: PathBuf,
    pub offset: u64,
    pub length: Option<u64>,
}

/// An initializer (or a tensor-valued attribute). The protobuf is kept as is: `raw_data` is a slice of the
/// model file, not a copy.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub proto: pb::TensorProto,
    pub external: Option<ExternalData>,
}

impl Tensor {
    pub fn name(&self) -> &str {
        self.proto.name.as_deref().unwrap_or("")
    }
    pub fn dtype(&self) -> DataType {
        DataType::from_code(self.proto.data_type.unwrap_or(0))
    }
    pub fn dims(&self) -> &[i64] {
        &self.proto.dims
    }
    /// Number of elements.
    pub fn numel(&self) -> u64 {
        self.proto
            .dims
            .iter()
            .try_fold(1u64, |a, d| a.checked_mul((*d).max(0) as u64))
            .unwrap_or(u64::MAX)
    }
    /// Bytes of payload implied by dtype and shape (strings: 0).
    pub fn nbytes(&self) -> u64 {
        self.dtype().bytes_for(self.numel())
    }

    /// The tensor's payload as little-endian bytes: `raw_data` (no copy), the external file's slice, or the typed
    /// fields serialised.
    pub fn data_bytes(&self) -> std::io::Result<Bytes> {
        if let Some(ext) = &self.external {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = std::fs::File::open(&ext.resolved)?;
            f.seek(SeekFrom::Start(ext.offset))?;
            let len = match ext.length {
                Some(l) => l,
                None => f.metadata()?.len().saturating_sub(ext.offset),
            };
            let mut buf = vec![0u8; len as usize];
            f.read_exact(&mut buf)?;
            return Ok(Bytes::from(buf));
        }
        if let Some(raw) = &self.proto.raw_data {
            return Ok(raw.clone());
        }
        let p = &self.proto;
        let dt = self.dtype();
        let mut out = Vec::with_capacity(self.nbytes() as usize);
        match dt {
            DataType::Float => p
                .float_data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            DataType::Double => p
                .double_data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            DataType::Int64 => p
                .int64_data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            DataType::Uint64 => p
                .uint64_data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            DataType::Uint32 => p
                .uint64_data
                .iter()
                .for_each(|v| out.extend_from_slice(&(*v as u32).to_le_bytes())),
            DataType::Int32 => p
                .int32_data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            DataType::Int16 | DataType::Uint16 | DataType::Float16 | DataType::Bfloat16 => p
                .int32_data
                .iter()
                .for_each(|v| out.extend_from_slice(&(*v as u16).to_le_bytes())),
            DataType::Int8 | DataType::Uint8 | DataType::Bool => {
                p.int32_data.iter().for_each(|v| out.push(*v as u8))
            }
            _ => {
                return Err(std::io::Error::other(format!(
                    "tensor `{}`: reading typed-field data of {dt} is not supported",
                    self.name()
                )));
            }
        }
        Ok(Bytes::from(out))
    }

    /// The values of a float32 tensor; `None` for another dtype, unreadable data, or data that does not match the
    /// shape.
    pub fn as_f32(&self) -> Option<Vec<f32>> {
        self.values::<f32, 4>(DataType::Float, |c| {
            f32::from_le_bytes([c[0], c[1], c[2], c[3]])
        })
    }

    /// The values of an int64 tensor; `None` as for [`Tensor::as_f32`].
    pub fn as_i64(&self) -> Option<Vec<i64>> {
        self.values::<i64, 8>(DataType::Int64, |c| {
            i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
        })
    }

    /// The values of an int32 tensor; `None` as for [`Tensor::as_f32`].
    pub fn as_i32(&self) -> Option<Vec<i32>> {
        self.values::<i32, 4>(DataType::Int32, |c| {
            i32::from_le_bytes([c[0], c[1], c[2], c[3]])
        })
    }

    fn values<T, const N: usize>(&self, dtype: DataType, f: impl Fn(&[u8]) -> T) -> Option<Vec<T>> {
        if self.dtype() != dtype {
            return None;
        }
        let b = self.data_bytes().ok()?;
        if (b.len() as u64) != self.numel().checked_mul(N as u64)? {
            return None;
        }
        Some(b.chunks_exact(N).map(f).collect())
    }

    /// A tensor from little-endian bytes.
    pub fn from_raw(name: &str, dtype: DataType, dims: &[i64], raw: Vec<u8>) -> Self {
        Tensor {
            proto: pb::TensorProto {
                name: Some(name.to_string()),
                data_type: Some(dtype.code()),
                dims: dims.to_vec(),
                raw_data: Some(Bytes::from(raw)),
                ..Default::default()
            },
            external: None,
        }
    }

    /// A float32 tensor.
    pub fn from_f32(name: &str, dims: &[i64], values: &[f32]) -> Self {
        Self::from_raw(
            name,
            DataType::Float,
            dims,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        )
    }

    /// An int64 tensor.
    pub fn from_i64(name: &str, dims: &[i64], values: &[i64]) -> Self {
        Self::from_raw(
            name,
            DataType::Int64,
            dims,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        )
    }
}

/// Where a node sits: the chain of (node name, attribute) that leads from the main graph to its graph.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub path: Vec<String>,
}

impl Scope {
    pub fn depth(&self) -> usize {
        self.path.len()
    }
    pub fn is_main(&self) -> bool {
        self.path.is_empty()
    }
}

impl Graph {
    /// The node producing each value (by output name; the last one when a name is produced twice).
    pub fn producers(&self) -> std::collections::HashMap<&str, usize> {
        self.nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.outputs.iter().map(move |o| (o.as_str(), i)))
            .collect()
    }

    /// The initializer of this name.
    pub fn initializer(&self, name: &str) -> Option<&Tensor> {
        self.initializers.iter().find(|t| t.name() == name)
    }

    /// Visits every node, including those inside If/Loop/Scan bodies at any depth, parents before children.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&Scope, &'a Node)) {
        fn go<'a>(g: &'a Graph, scope: &mut Scope, f: &mut dyn FnMut(&Scope, &'a Node)) {
            for n in &g.nodes {
                f(scope, n);
                for (attr, sub) in n.subgraphs() {
                    scope.path.push(format!("{}.{}", n.name, attr));
                    go(sub, scope, f);
                    scope.path.pop();
                }
            }
        }
        go(self, &mut Scope::default(), f)
    }

    /// Visits this graph and every subgraph, with its scope.
    pub fn walk_graphs<'a>(&'a self, f: &mut dyn FnMut(&Scope, &'a Graph)) {
        fn go<'a>(g: &'a Graph, scope: &mut Scope, f: &mut dyn FnMut(&Scope, &'a Graph)) {
            f(scope, g);
            for n in &g.nodes {
                for (attr, sub) in n.subgraphs() {
                    scope.path.push(format!("{}.{}", n.name, attr));
                    go(sub, scope, f);
                    scope.path.pop();
                }
            }
        }
        go(self, &mut Scope::default(), f)
    }

    /// Graph inputs that are not initializers (what a caller must feed).
    pub fn runtime_inputs(&self) -> Vec<&ValueInfo> {
        let inits: std::collections::HashSet<&str> =
            self.initializers.iter().map(|t| t.name()).collect();
        self.inputs
            .iter()
            .filter(|i| !inits.contains(i.name.as_str()))
            .collect()
    }
}

impl Model {
    /// Opset of a domain (`""` and `"ai.onnx"` are the same domain).
    pub fn opset(&self, domain: &str) -> Option<i64> {
        let d = if domain == "ai.onnx" { "" } else { domain };
        self.opset_imports.get(d).copied()
    }

    /// The version a node's op is checked at: its own ([`Node::version`]) or its domain's opset.
    pub fn node_opset(&self, n: &Node) -> Option<i64> {
        n.version.or_else(|| self.opset(&n.domain))
    }
}

/// How many connected groups the nodes `member` selects form, two of them joined when one consumes a tensor the
/// other produces (union-find over the graph's edges; nodes outside `member` join nothing).
pub fn node_groups(nodes: &[Node], member: impl Fn(usize) -> bool) -> usize {
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut parent: Vec<usize> = (0..nodes.len()).collect();
    let producer: std::collections::HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.outputs.iter().map(move |o| (o.as_str(), i)))
        .collect();
    for (i, n) in nodes.iter().enumerate() {
        if !member(i) {
            continue;
        }
        for input in &n.inputs {
            if let Some(&j) = producer.get(input.as_str())
                && member(j)
            {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                parent[a] = b;
            }
        }
    }
    let mut roots: Vec<usize> = (0..nodes.len())
        .filter(|&i| member(i))
        .map(|i| root(&mut parent, i))
        .collect();
    roots.sort_unstable();
    roots.dedup();
    roots.len()
}
