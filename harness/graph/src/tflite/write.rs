//! A TFLite flatbuffer writer (through `flatbuffers::FlatBufferBuilder`): edgebench makes its own single-op models
//! and test fixtures with it. One subgraph; what it writes, [`super::decode`] and LiteRT read back.

use flatbuffers::{FlatBufferBuilder, WIPOffset};

/// A tensor of the model being written.
#[derive(Clone, Debug, Default)]
pub struct TensorSpec {
    pub name: String,
    /// TFLite `TensorType` code (0 float32, 1 float16, 2 int32, 3 uint8, 9 int8...).
    pub dtype: u8,
    pub shape: Vec<i32>,
    /// Constant data (little-endian); `None` for activations and inputs.
    pub data: Option<Vec<u8>>,
    /// Per-tensor or per-axis quantization: scales, zero points, axis.
    pub quant: Option<(Vec<f32>, Vec<i64>, i32)>,
}

/// A scalar field of a builtin-options table.
#[derive(Clone, Copy, Debug)]
pub enum OptField {
    I8(i8),
    I32(i32),
    F32(f32),
    Bool(bool),
}

/// One operator: builtin code and version, tensor indices (-1: an omitted optional input) and options.
#[derive(Clone, Debug, Default)]
pub struct OpSpec {
    pub builtin: i32,
    pub version: i32,
    /// Set for a CUSTOM op (builtin 32).
    pub custom_code: Option<String>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    /// `BuiltinOptions` union type and its fields by field id.
    pub options: Option<(u8, Vec<(u16, OptField)>)>,
}

/// A one-subgraph model.
#[derive(Clone, Debug, Default)]
pub struct ModelSpec {
    pub description: String,
    pub tensors: Vec<TensorSpec>,
    pub ops: Vec<OpSpec>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
}

fn slot(id: u16) -> u16 {
    4 + 2 * id
}

impl ModelSpec {
    /// Serialises the model (file identifier `TFL3`, schema version 3).
    pub fn encode(&self) -> Vec<u8> {
        let mut fb = FlatBufferBuilder::with_capacity(1024);
        // Operator codes: one per distinct (builtin, version, custom code).
        let mut codes: Vec<(i32, i32, Option<String>)> = vec![];
        let op_code_index: Vec<u32> = self
            .ops
            .iter()
            .map(|o| {
                let key = (o.builtin, o.version.max(1), o.custom_code.clone());
                match codes.iter().position(|c| *c == key) {
                    Some(i) => i as u32,
                    None => {
                        codes.push(key);
                        (codes.len() - 1) as u32
                    }
                }
            })
            .collect();
        let code_offsets: Vec<_> = codes
            .iter()
            .map(|(b, v, custom)| {
                let custom = custom.as_deref().map(|c| fb.create_string(c));
                let t = fb.start_table();
                fb.push_slot::<i8>(slot(0), (*b).min(127) as i8, 0);
                if let Some(c) = custom {
                    fb.push_slot_always(slot(1), c);
                }
                fb.push_slot::<i32>(slot(2), *v, 1);
                fb.push_slot::<i32>(slot(3), *b, 0);
                fb.end_table(t)
            })
            .collect();
        // Buffer 0 is the empty sentinel; each constant tensor gets its own.
        let mut buffers = vec![{
            let t = fb.start_table();
            fb.end_table(t)
        }];
        let mut tensor_buffer = vec![0u32; self.tensors.len()];
        for (i, t) in self.tensors.iter().enumerate() {
            if let Some(d) = &t.data {
                let v = fb.create_vector(d);
                let b = fb.start_table();
                fb.push_slot_always(slot(0), v);
                buffers.push(fb.end_table(b));
                tensor_buffer[i] = (buffers.len() - 1) as u32;
            }
        }
        let tensors: Vec<_> = self
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let shape = fb.create_vector(&t.shape);
                let name = fb.create_string(&t.name);
                let quant = t.quant.as_ref().map(|(s, z, axis)| {
                    let s = fb.create_vector(s);
                    let z = fb.create_vector(z);
                    let q = fb.start_table();
                    fb.push_slot_always(slot(2), s);
                    fb.push_slot_always(slot(3), z);
                    fb.push_slot::<i32>(slot(6), *axis, 0);
                    fb.end_table(q)
                });
                let x = fb.start_table();
                fb.push_slot_always(slot(0), shape);
                fb.push_slot::<u8>(slot(1), t.dtype, 0);
                fb.push_slot::<u32>(slot(2), tensor_buffer[i], 0);
                fb.push_slot_always(slot(3), name);
                if let Some(q) = quant {
                    fb.push_slot_always(slot(4), q);
                }
                fb.end_table(x)
            })
            .collect();
        let ops: Vec<_> = self
            .ops
            .iter()
            .zip(&op_code_index)
            .map(|(o, ci)| {
                let ins = fb.create_vector(&o.inputs);
                let outs = fb.create_vector(&o.outputs);
                let opts = o.options.as_ref().map(|(ty, fields)| {
                    let t = fb.start_table();
                    for (id, f) in fields {
                        match *f {
                            OptField::I8(v) => fb.push_slot_always::<i8>(slot(*id), v),
                            OptField::I32(v) => fb.push_slot_always::<i32>(slot(*id), v),
                            OptField::F32(v) => fb.push_slot_always::<f32>(slot(*id), v),
                            OptField::Bool(v) => fb.push_slot_always::<bool>(slot(*id), v),
                        }
                    }
                    (*ty, fb.end_table(t))
                });
                let t = fb.start_table();
                fb.push_slot::<u32>(slot(0), *ci, 0);
                fb.push_slot_always(slot(1), ins);
                fb.push_slot_always(slot(2), outs);
                if let Some((ty, off)) = opts {
                    fb.push_slot::<u8>(slot(3), ty, 0);
                    fb.push_slot_always(slot(4), off);
                }
                fb.end_table(t)
            })
            .collect();
        let tensors = fb.create_vector(&tensors);
        let inputs = fb.create_vector(&self.inputs);
        let outputs = fb.create_vector(&self.outputs);
        let ops = fb.create_vector(&ops);
        let name = fb.create_string("main");
        let sg = fb.start_table();
        fb.push_slot_always(slot(0), tensors);
        fb.push_slot_always(slot(1), inputs);
        fb.push_slot_always(slot(2), outputs);
        fb.push_slot_always(slot(3), ops);
        fb.push_slot_always(slot(4), name);
        let sg = fb.end_table(sg);
        let subgraphs = fb.create_vector(&[sg]);
        let codes = fb.create_vector(&code_offsets);
        let buffers = fb.create_vector(&buffers);
        let description = fb.create_string(&self.description);
        let m = fb.start_table();
        fb.push_slot::<u32>(slot(0), 3, 0);
        fb.push_slot_always(slot(1), codes);
        fb.push_slot_always(slot(2), subgraphs);
        fb.push_slot_always(slot(3), description);
        fb.push_slot_always(slot(4), buffers);
        let root: WIPOffset<_> = fb.end_table(m);
        fb.finish(root, Some("TFL3"));
        fb.finished_data().to_vec()
    }
}

/// Little-endian bytes of f32 values (constant tensor data).
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian bytes of i32 values.
pub fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
