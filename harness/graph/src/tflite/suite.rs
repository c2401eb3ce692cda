//! The TFLite conformance suite edgebench makes itself: single-op `.tflite` models per (builtin op, version, element
//! type) — float32, float16 weights behind DEQUANTIZE, int8 and uint8 quantized — with their inputs. Expected
//! outputs are not here: the probe computes them on LiteRT's reference kernels (`litert-ref`), which knows no backend
//! of this crate. Every model and input is deterministic.

use super::fixtures::weights;
use super::write::{ModelSpec, OpSpec, OptField, TensorSpec, f32_bytes, i32_bytes};
use crate::DataType;

/// One test: a model and the values of its runtime inputs.
#[derive(Clone, Debug)]
pub struct Case {
    /// Folder name: `test_tflite_<op>_v<version>_<form>`.
    pub name: String,
    pub model: Vec<u8>,
    pub inputs: Vec<Input>,
}

/// A runtime input's value (little-endian bytes).
#[derive(Clone, Debug)]
pub struct Input {
    pub name: String,
    pub dtype: DataType,
    pub shape: Vec<i64>,
    pub data: Vec<u8>,
}

/// How a case's tensors are typed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Form {
    F32,
    /// float32 activations, float16 weights each behind a DEQUANTIZE.
    F16W,
    I8,
    U8,
}

impl Form {
    fn label(self) -> &'static str {
        match self {
            Form::F32 => "float32",
            Form::F16W => "float16w",
            Form::I8 => "int8",
            Form::U8 => "uint8",
        }
    }
    fn code(self) -> u8 {
        match self {
            Form::F32 | Form::F16W => 0,
            Form::I8 => 9,
            Form::U8 => 3,
        }
    }
}

/// What the values of a float input must avoid.
#[derive(Clone, Copy, PartialEq)]
enum Range {
    Signed,
    Positive,
}

struct Spec {
    op: &'static str,
    code: i32,
    version: i32,
    form: Form,
    /// Runtime inputs (shape), then constants, in the op's input order: `None` marks where the runtime inputs go.
    ins: Vec<Option<TensorSpec>>,
    runtime: Vec<Vec<i32>>,
    range: Range,
    /// Output shape and TFLite type code (`None`: the form's type).
    out: (Vec<i32>, Option<u8>),
    options: Option<(u8, Vec<(u16, OptField)>)>,
    /// Quantization of runtime inputs and the output (int8/uint8 forms): (scale, zero point) each.
    quant_in: (f32, i64),
    quant_out: (f32, i64),
}

fn spec(op: &'static str, code: i32, shape: &[i32]) -> Spec {
    Spec {
        op,
        code,
        version: 1,
        form: Form::F32,
        ins: vec![None],
        runtime: vec![shape.to_vec()],
        range: Range::Signed,
        out: (shape.to_vec(), None),
        options: None,
        quant_in: (2.0 / 255.0, 0),
        quant_out: (2.0 / 255.0, 0),
    }
}

fn konst(name: &str, dtype: u8, shape: Vec<i32>, data: Vec<u8>) -> Option<TensorSpec> {
    Some(TensorSpec {
        name: name.into(),
        dtype,
        shape,
        data: Some(data),
        ..Default::default()
    })
}

fn i32_const(name: &str, v: &[i32]) -> Option<TensorSpec> {
    konst(name, 2, vec![v.len() as i32], i32_bytes(v))
}

fn bytes_for(form: Form, range: Range, seed: u32, n: usize) -> Vec<u8> {
    let w = weights(seed, n);
    match form {
        Form::F32 | Form::F16W => f32_bytes(
            &w.iter()
                .map(|x| match range {
                    Range::Signed => 2.0 * x,
                    Range::Positive => x + 0.6,
                })
                .collect::<Vec<_>>(),
        ),
        Form::I8 => w.iter().map(|x| ((x * 250.0) as i8) as u8).collect(),
        Form::U8 => w.iter().map(|x| ((x + 0.5) * 250.0) as u8).collect(),
    }
}

impl Spec {
    fn version(mut self, v: i32) -> Self {
        self.version = v;
        self
    }
    fn form(mut self, f: Form) -> Self {
        self.form = f;
        self
    }
    fn range(mut self, r: Range) -> Self {
        self.range = r;
        self
    }
    fn out(mut self, shape: &[i32], dtype: Option<u8>) -> Self {
        self.out = (shape.to_vec(), dtype);
        self
    }
    fn opts(mut self, ty: u8, fields: Vec<(u16, OptField)>) -> Self {
        self.options = Some((ty, fields));
        self
    }
    fn with(mut self, c: Option<TensorSpec>) -> Self {
        self.ins.push(c);
        self
    }
    fn binary(mut self, other: &[i32]) -> Self {
        self.ins.push(None);
        self.runtime.push(other.to_vec());
        self
    }
    fn quant(mut self, input: (f32, i64), output: (f32, i64)) -> Self {
        self.quant_in = input;
        self.quant_out = output;
        self
    }

    fn build(self, seed: u32) -> Case {
        let mut m = ModelSpec {
            description: format!(
                "edgebench TFLite conformance: {} v{} {}",
                self.op,
                self.version,
                self.form.label()
            ),
            ..Default::default()
        };
        let q = |form: Form, (scale, zero): (f32, i64)| {
            matches!(form, Form::I8 | Form::U8).then(|| (vec![scale], vec![zero], 0))
        };
        let mut inputs = vec![];
        let mut op_inputs = vec![];
        let mut runtime = self.runtime.iter();
        let mut pre_ops = vec![];
        for (k, slot) in self.ins.into_iter().enumerate() {
            match slot {
                None => {
                    let shape = runtime.next().cloned().unwrap_or_default();
                    let name = format!("x{k}");
                    m.tensors.push(TensorSpec {
                        name: name.clone(),
                        dtype: self.form.code(),
                        shape: shape.clone(),
                        quant: q(self.form, self.quant_in),
                        ..Default::default()
                    });
                    let idx = (m.tensors.len() - 1) as i32;
                    m.inputs.push(idx);
                    op_inputs.push(idx);
                    let n: usize = shape.iter().map(|d| *d as usize).product();
                    inputs.push(Input {
                        name,
                        dtype: super::ops::tensor_type(self.form.code()).unwrap_or(DataType::Float),
                        shape: shape.iter().map(|d| *d as i64).collect(),
                        data: bytes_for(self.form, self.range, seed + k as u32, n),
                    });
                }
                Some(t) if self.form == Form::F16W && t.dtype == 0 && t.shape.len() > 1 => {
                    // float16 weights, dequantized in the graph (as MediaPipe ships them)
                    let data: Vec<f32> = t
                        .data
                        .as_deref()
                        .unwrap_or_default()
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    m.tensors.push(TensorSpec {
                        name: format!("{}_fp16", t.name),
                        dtype: 1,
                        shape: t.shape.clone(),
                        data: Some(
                            data.iter()
                                .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                                .collect(),
                        ),
                        ..Default::default()
                    });
                    let h = (m.tensors.len() - 1) as i32;
                    m.tensors.push(TensorSpec { data: None, ..t });
                    let f = (m.tensors.len() - 1) as i32;
                    pre_ops.push(OpSpec {
                        builtin: 6,
                        version: 3,
                        inputs: vec![h],
                        outputs: vec![f],
                        ..Default::default()
                    });
                    op_inputs.push(f);
                }
                Some(t) => {
                    m.tensors.push(t);
                    op_inputs.push((m.tensors.len() - 1) as i32);
                }
            }
        }
        let out_type = self.out.1.unwrap_or(self.form.code());
        m.tensors.push(TensorSpec {
            name: "y".into(),
            dtype: out_type,
            shape: self.out.0,
            quant: if out_type == self.form.code() {
                q(self.form, self.quant_out)
            } else {
                None
            },
            ..Default::default()
        });
        let y = (m.tensors.len() - 1) as i32;
        m.outputs = vec![y];
        m.ops = pre_ops;
        m.ops.push(OpSpec {
            builtin: self.code,
            version: self.version,
            inputs: op_inputs,
            outputs: vec![y],
            options: self.options,
            ..Default::default()
        });
        Case {
            name: format!(
                "test_tflite_{}_v{}_{}",
                self.op.to_ascii_lowercase(),
                self.version,
                self.form.label()
            ),
            model: m.encode(),
            inputs,
        }
    }
}

const S: [i32; 4] = [1, 4, 4, 3];

fn f32w(name: &str, shape: Vec<i32>, seed: u32) -> Option<TensorSpec> {
    let n: usize = shape.iter().map(|d| *d as usize).product();
    konst(name, 0, shape, f32_bytes(&weights(seed, n)))
}

/// Per-channel int8 weights (symmetric) and the int32 bias at `input scale x weight scale`.
fn q8_weights(
    name: &str,
    shape: Vec<i32>,
    axis: usize,
    seed: u32,
    s_in: f32,
) -> (Option<TensorSpec>, Option<TensorSpec>) {
    let n: usize = shape.iter().map(|d| *d as usize).product();
    let w = weights(seed, n);
    let channels = shape[axis] as usize;
    let inner: usize = shape[axis + 1..].iter().map(|d| *d as usize).product();
    let ch = |i: usize| (i / inner) % channels;
    let mut scales = vec![1e-6f32; channels];
    for (i, x) in w.iter().enumerate() {
        scales[ch(i)] = scales[ch(i)].max(x.abs() / 127.0);
    }
    let data = w
        .iter()
        .enumerate()
        .map(|(i, x)| ((x / scales[ch(i)]).round() as i8) as u8)
        .collect();
    let bias_scales: Vec<f32> = scales.iter().map(|s| s * s_in).collect();
    let bias: Vec<i32> = weights(seed + 100, channels)
        .iter()
        .zip(&bias_scales)
        .map(|(b, s)| (b / s).round() as i32)
        .collect();
    (
        Some(TensorSpec {
            name: name.into(),
            dtype: 9,
            shape,
            data: Some(data),
            quant: Some((scales, vec![0; channels], axis as i32)),
        }),
        Some(TensorSpec {
            name: format!("{name}_bias"),
            dtype: 2,
            shape: vec![channels as i32],
            data: Some(i32_bytes(&bias)),
            quant: Some((bias_scales, vec![0; channels], 0)),
        }),
    )
}

fn conv_opts(stride: i32, act: i8) -> (u8, Vec<(u16, OptField)>) {
    (
        1,
        vec![
            (0, OptField::I8(0)),
            (1, OptField::I32(stride)),
            (2, OptField::I32(stride)),
            (3, OptField::I8(act)),
        ],
    )
}

fn dw_opts() -> (u8, Vec<(u16, OptField)>) {
    (
        2,
        vec![
            (0, OptField::I8(0)),
            (1, OptField::I32(1)),
            (2, OptField::I32(1)),
            (3, OptField::I32(1)),
            (4, OptField::I8(0)),
        ],
    )
}

fn pool_opts() -> (u8, Vec<(u16, OptField)>) {
    (
        5,
        vec![
            (0, OptField::I8(1)),
            (1, OptField::I32(2)),
            (2, OptField::I32(2)),
            (3, OptField::I32(2)),
            (4, OptField::I32(2)),
        ],
    )
}

/// Every case of the suite.
pub fn cases() -> Vec<Case> {
    let mut specs: Vec<Spec> = vec![];
    // Unary element-wise, float32.
    for (op, code, range) in [
        ("ABS", 101, Range::Signed),
        ("CEIL", 104, Range::Signed),
        ("COS", 108, Range::Signed),
        ("ELU", 111, Range::Signed),
        ("EXP", 47, Range::Signed),
        ("FLOOR", 8, Range::Signed),
        ("GELU", 150, Range::Signed),
        ("HARD_SWISH", 117, Range::Signed),
        ("LOG", 73, Range::Positive),
        ("LOGISTIC", 14, Range::Signed),
        ("NEG", 59, Range::Signed),
        ("RELU", 19, Range::Signed),
        ("RELU6", 21, Range::Signed),
        ("RELU_N1_TO_1", 20, Range::Signed),
        ("ROUND", 116, Range::Signed),
        ("RSQRT", 76, Range::Positive),
        ("SIGN", 158, Range::Signed),
        ("SIN", 66, Range::Signed),
        ("SQRT", 75, Range::Positive),
        ("SQUARE", 92, Range::Signed),
        ("TANH", 28, Range::Signed),
        ("ZEROS_LIKE", 93, Range::Signed),
    ] {
        specs.push(spec(op, code, &S).range(range));
    }
    specs.push(spec("LEAKY_RELU", 98, &S).opts(75, vec![(0, OptField::F32(0.2))]));
    // Binary element-wise, float32, with the options table the converter writes (fused activation NONE).
    for (op, code, range, options) in [
        ("ADD", 0, Range::Signed, Some(11)),
        ("SUB", 41, Range::Signed, Some(28)),
        ("MUL", 18, Range::Signed, Some(21)),
        ("DIV", 42, Range::Positive, Some(29)),
        ("MAXIMUM", 55, Range::Signed, None),
        ("MINIMUM", 57, Range::Signed, None),
        ("POW", 78, Range::Positive, None),
        ("SQUARED_DIFFERENCE", 99, Range::Signed, None),
        ("FLOOR_DIV", 90, Range::Positive, None),
    ] {
        let mut b = spec(op, code, &S).binary(&S).range(range);
        if let Some(ty) = options {
            b = b.opts(ty, vec![(0, OptField::I8(0))]);
        }
        specs.push(b);
    }
    for (op, code) in [("LESS", 58), ("GREATER", 61), ("EQUAL", 71)] {
        specs.push(spec(op, code, &S).binary(&S).out(&S, Some(6)));
    }
    // Shapes and layout.
    specs.push(
        spec("RESHAPE", 22, &S)
            .with(i32_const("shape", &[1, 48]))
            .out(&[1, 48], None),
    );
    specs.push(
        spec("TRANSPOSE", 39, &S)
            .with(i32_const("perm", &[0, 3, 1, 2]))
            .out(&[1, 3, 4, 4], None),
    );
    specs.push(
        spec("SQUEEZE", 43, &[1, 4, 1, 3])
            .out(&[4, 3], None)
            .opts(30, vec![]),
    );
    specs.push(
        spec("EXPAND_DIMS", 70, &[4, 3])
            .with(konst("axis", 2, vec![], i32_bytes(&[0])))
            .out(&[1, 4, 3], None),
    );
    specs.push(
        spec("CONCATENATION", 2, &S)
            .binary(&S)
            .out(&[1, 4, 4, 6], None)
            .opts(10, vec![(0, OptField::I32(3))]),
    );
    specs.push(
        spec("PAD", 34, &S)
            .with(konst(
                "pads",
                2,
                vec![4, 2],
                i32_bytes(&[0, 0, 1, 1, 1, 1, 0, 0]),
            ))
            .out(&[1, 6, 6, 3], None),
    );
    specs.push(
        spec("SLICE", 65, &S)
            .with(i32_const("begin", &[0, 1, 1, 0]))
            .with(i32_const("size", &[1, 2, 2, 3]))
            .out(&[1, 2, 2, 3], None),
    );
    specs.push(
        spec("STRIDED_SLICE", 45, &S)
            .with(i32_const("begin", &[0, 0, 0, 0]))
            .with(i32_const("end", &[1, 4, 4, 3]))
            .with(i32_const("strides", &[1, 2, 2, 1]))
            .out(&[1, 2, 2, 3], None)
            .opts(32, vec![]),
    );
    specs.push(
        spec("GATHER", 36, &[4, 3])
            .with(i32_const("idx", &[3, 0]))
            .out(&[2, 3], None)
            .opts(23, vec![(0, OptField::I32(0))]),
    );
    specs.push(
        spec("SPACE_TO_DEPTH", 26, &S)
            .out(&[1, 2, 2, 12], None)
            .opts(19, vec![(0, OptField::I32(2))]),
    );
    specs.push(
        spec("DEPTH_TO_SPACE", 5, &[1, 2, 2, 12])
            .out(&[1, 4, 4, 3], None)
            .opts(94, vec![(0, OptField::I32(2))]),
    );
    specs.push(
        spec("RESIZE_BILINEAR", 23, &S)
            .with(i32_const("size", &[8, 8]))
            .out(&[1, 8, 8, 3], None)
            .opts(15, vec![]),
    );
    specs.push(
        spec("RESIZE_NEAREST_NEIGHBOR", 97, &S)
            .with(i32_const("size", &[8, 8]))
            .out(&[1, 8, 8, 3], None)
            .opts(74, vec![]),
    );
    // Reductions, softmax, pooling.
    for (op, code) in [
        ("MEAN", 40),
        ("SUM", 74),
        ("REDUCE_MAX", 82),
        ("REDUCE_MIN", 89),
        ("REDUCE_PROD", 81),
    ] {
        specs.push(
            spec(op, code, &S)
                .with(i32_const("axes", &[1, 2]))
                .out(&[1, 3], None)
                .opts(27, vec![(0, OptField::Bool(false))]),
        );
    }
    specs.push(
        spec("SOFTMAX", 25, &[1, 10])
            .out(&[1, 10], None)
            .opts(9, vec![(0, OptField::F32(1.0))]),
    );
    specs.push(spec("LOG_SOFTMAX", 50, &[1, 10]).out(&[1, 10], None));
    specs.push(
        spec("ARG_MAX", 56, &[1, 10])
            .with(konst("axis", 2, vec![], i32_bytes(&[1])))
            .out(&[1], Some(2))
            .opts(40, vec![(0, OptField::I8(2))]),
    );
    specs.push(
        spec("CUMSUM", 128, &[1, 8])
            .with(konst("axis", 2, vec![], i32_bytes(&[1])))
            .out(&[1, 8], None),
    );
    for (op, code) in [("AVERAGE_POOL_2D", 1), ("MAX_POOL_2D", 17)] {
        specs.push(
            spec(op, code, &[1, 8, 8, 3])
                .out(&[1, 4, 4, 3], None)
                .opts(pool_opts().0, pool_opts().1),
        );
    }
    // Convolutions and matrix products: float32 and float16 weights.
    for form in [Form::F32, Form::F16W] {
        specs.push(
            spec("CONV_2D", 3, &[1, 8, 8, 3])
                .form(form)
                .with(f32w("w", vec![4, 3, 3, 3], 11))
                .with(f32w("b", vec![4], 12))
                .out(&[1, 8, 8, 4], None)
                .opts(conv_opts(1, 1).0, conv_opts(1, 1).1),
        );
        specs.push(
            spec("DEPTHWISE_CONV_2D", 4, &[1, 8, 8, 3])
                .form(form)
                .with(f32w("w", vec![1, 3, 3, 3], 13))
                .with(f32w("b", vec![3], 14))
                .out(&[1, 8, 8, 3], None)
                .opts(dw_opts().0, dw_opts().1),
        );
        specs.push(
            spec("FULLY_CONNECTED", 9, &[1, 16])
                .form(form)
                .with(f32w("w", vec![8, 16], 15))
                .with(f32w("b", vec![8], 16))
                .out(&[1, 8], None)
                .opts(8, vec![]),
        );
        specs.push(
            spec("TRANSPOSE_CONV", 67, &[1, 4, 4, 3])
                .form(form)
                .with(f32w("w", vec![2, 3, 3, 3], 17))
                .out(&[1, 8, 8, 2], None)
                .opts(
                    49,
                    vec![
                        (0, OptField::I8(0)),
                        (1, OptField::I32(2)),
                        (2, OptField::I32(2)),
                    ],
                ),
        );
    }
    // TRANSPOSE_CONV takes (output shape, weights, input): fixed up in `order` below.
    specs.push(
        spec("BATCH_MATMUL", 126, &[1, 4, 8])
            .binary(&[1, 8, 5])
            .out(&[1, 4, 5], None)
            .opts(
                101,
                vec![(0, OptField::Bool(false)), (1, OptField::Bool(false))],
            ),
    );
    // Quantized forms.
    let s_in = 2.0 / 255.0;
    for form in [Form::I8, Form::U8] {
        let zp = if form == Form::U8 { 128 } else { 0 };
        let v = if form == Form::I8 { 2 } else { 1 };
        for (op, code, options) in [
            ("ADD", 0, Some(11)),
            ("SUB", 41, Some(28)),
            ("MUL", 18, Some(21)),
            ("MAXIMUM", 55, None),
            ("MINIMUM", 57, None),
        ] {
            let mut b = spec(op, code, &S)
                .form(form)
                .version(v)
                .binary(&S)
                .quant((s_in, zp), (4.0 / 255.0, zp));
            if let Some(ty) = options {
                b = b.opts(ty, vec![(0, OptField::I8(0))]);
            }
            specs.push(b);
        }
        specs.push(
            spec("RESHAPE", 22, &S)
                .form(form)
                .with(i32_const("shape", &[1, 48]))
                .out(&[1, 48], None)
                .quant((s_in, zp), (s_in, zp)),
        );
        specs.push(
            spec("CONCATENATION", 2, &S)
                .form(form)
                .version(v)
                .binary(&S)
                .out(&[1, 4, 4, 6], None)
                .opts(10, vec![(0, OptField::I32(3))])
                .quant((s_in, zp), (s_in, zp)),
        );
        for (op, code) in [("AVERAGE_POOL_2D", 1), ("MAX_POOL_2D", 17)] {
            specs.push(
                spec(op, code, &[1, 8, 8, 3])
                    .form(form)
                    .version(v)
                    .out(&[1, 4, 4, 3], None)
                    .opts(pool_opts().0, pool_opts().1)
                    .quant((s_in, zp), (s_in, zp)),
            );
        }
        specs.push(spec("LOGISTIC", 14, &S).form(form).version(v).quant(
            (s_in, zp),
            (1.0 / 256.0, if form == Form::I8 { -128 } else { 0 }),
        ));
        specs.push(
            spec("SOFTMAX", 25, &[1, 10])
                .form(form)
                .version(v)
                .out(&[1, 10], None)
                .opts(9, vec![(0, OptField::F32(1.0))])
                .quant(
                    (s_in, zp),
                    (1.0 / 256.0, if form == Form::I8 { -128 } else { 0 }),
                ),
        );
        specs.push(
            spec("MEAN", 40, &S)
                .form(form)
                .version(v)
                .with(i32_const("axes", &[1, 2]))
                .out(&[1, 3], None)
                .opts(27, vec![(0, OptField::Bool(false))])
                .quant((s_in, zp), (s_in, zp)),
        );
        specs.push(
            spec("DEQUANTIZE", 6, &S)
                .form(form)
                .version(v)
                .out(&S, Some(0))
                .quant((s_in, zp), (1.0, 0)),
        );
    }
    // int8 convolutions with per-channel weights.
    let (w, b) = q8_weights("w", vec![4, 3, 3, 3], 0, 21, s_in);
    specs.push(
        spec("CONV_2D", 3, &[1, 8, 8, 3])
            .form(Form::I8)
            .version(3)
            .with(w)
            .with(b)
            .out(&[1, 8, 8, 4], None)
            .opts(conv_opts(1, 0).0, conv_opts(1, 0).1)
            .quant((s_in, 0), (0.05, 0)),
    );
    let (w, b) = q8_weights("w", vec![1, 3, 3, 3], 3, 22, s_in);
    specs.push(
        spec("DEPTHWISE_CONV_2D", 4, &[1, 8, 8, 3])
            .form(Form::I8)
            .version(3)
            .with(w)
            .with(b)
            .out(&[1, 8, 8, 3], None)
            .opts(dw_opts().0, dw_opts().1)
            .quant((s_in, 0), (0.05, 0)),
    );
    let (w, b) = q8_weights("w", vec![8, 16], 0, 23, s_in);
    specs.push(
        spec("FULLY_CONNECTED", 9, &[1, 16])
            .form(Form::I8)
            .version(4)
            .with(w)
            .with(b)
            .out(&[1, 8], None)
            .opts(8, vec![])
            .quant((s_in, 0), (0.05, 0)),
    );
    let mut out: Vec<Case> = specs
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let transpose_conv = s.op == "TRANSPOSE_CONV";
            let mut c = s.build(i as u32 * 7 + 1);
            if transpose_conv {
                c = order_transpose_conv(c);
            }
            c
        })
        .collect();
    // QUANTIZE: float32 in, int8 / uint8 out (the output carries the quantization).
    for (form, zp) in [(Form::I8, 0), (Form::U8, 128)] {
        let c = spec("QUANTIZE", 114, &S).build(90);
        out.push(Case {
            name: format!(
                "test_tflite_quantize_v{}_{}",
                if form == Form::I8 { 2 } else { 1 },
                form.label()
            ),
            model: quantize_model(form.code(), s_in, zp),
            inputs: c.inputs,
        });
    }
    out
}

/// float32 -> QUANTIZE -> int8 (code 9) or uint8 (code 3) with this scale and zero point.
fn quantize_model(code: u8, scale: f32, zero: i64) -> Vec<u8> {
    ModelSpec {
        description: "edgebench TFLite conformance: QUANTIZE".into(),
        tensors: vec![
            TensorSpec {
                name: "x0".into(),
                dtype: 0,
                shape: S.to_vec(),
                ..Default::default()
            },
            TensorSpec {
                name: "y".into(),
                dtype: code,
                shape: S.to_vec(),
                quant: Some((vec![scale], vec![zero], 0)),
                ..Default::default()
            },
        ],
        ops: vec![OpSpec {
            builtin: 114,
            version: if code == 9 { 2 } else { 1 },
            inputs: vec![0],
            outputs: vec![1],
            ..Default::default()
        }],
        inputs: vec![0],
        outputs: vec![1],
    }
    .encode()
}

/// TRANSPOSE_CONV's inputs are (output shape, weights, activations): the spec put the activations first.
fn order_transpose_conv(mut c: Case) -> Case {
    let f16 = c.name.ends_with("float16w");
    let w: Vec<f32> = weights(17, 2 * 3 * 3 * 3);
    let mut tensors = vec![
        TensorSpec {
            name: "x0".into(),
            dtype: 0,
            shape: vec![1, 4, 4, 3],
            ..Default::default()
        },
        TensorSpec {
            name: "out_shape".into(),
            dtype: 2,
            shape: vec![4],
            data: Some(i32_bytes(&[1, 8, 8, 2])),
            ..Default::default()
        },
    ];
    let mut ops = vec![];
    let weight = if f16 {
        tensors.push(TensorSpec {
            name: "w_fp16".into(),
            dtype: 1,
            shape: vec![2, 3, 3, 3],
            data: Some(
                w.iter()
                    .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                    .collect(),
            ),
            ..Default::default()
        });
        tensors.push(TensorSpec {
            name: "w".into(),
            dtype: 0,
            shape: vec![2, 3, 3, 3],
            ..Default::default()
        });
        ops.push(OpSpec {
            builtin: 6,
            version: 3,
            inputs: vec![2],
            outputs: vec![3],
            ..Default::default()
        });
        3
    } else {
        tensors.push(TensorSpec {
            name: "w".into(),
            dtype: 0,
            shape: vec![2, 3, 3, 3],
            data: Some(f32_bytes(&w)),
            ..Default::default()
        });
        2
    };
    tensors.push(TensorSpec {
        name: "y".into(),
        dtype: 0,
        shape: vec![1, 8, 8, 2],
        ..Default::default()
    });
    let y = (tensors.len() - 1) as i32;
    ops.push(OpSpec {
        builtin: 67,
        version: 1,
        inputs: vec![1, weight, 0],
        outputs: vec![y],
        options: Some((
            49,
            vec![
                (0, OptField::I8(0)),
                (1, OptField::I32(2)),
                (2, OptField::I32(2)),
            ],
        )),
        ..Default::default()
    });
    c.model = ModelSpec {
        description: "edgebench TFLite conformance: TRANSPOSE_CONV".into(),
        tensors,
        ops,
        inputs: vec![0],
        outputs: vec![y],
    }
    .encode();
    c
}
