//! TFLite models edgebench makes itself (through [`super::write`]): the `tflite_cnn` fixtures in three forms — float32,
//! float16 weights behind DEQUANTIZE (how MediaPipe ships its models), and int8 (QUANTIZE in, int8 convolutions and
//! fully-connected with per-channel scales, DEQUANTIZE out) — and small models for tests of placement.
//! Weights come from a fixed linear congruential sequence: the same bytes on every build and machine.

use super::write::{ModelSpec, OpSpec, OptField, TensorSpec, f32_bytes, i32_bytes};

/// Names of the TFLite fixtures (`fixture:NAME` on the command line).
pub const NAMES: &[&str] = &["tflite_cnn", "tflite_cnn_fp16", "tflite_cnn_int8"];

/// Builds a TFLite fixture's bytes by name.
pub fn build(name: &str) -> Option<Vec<u8>> {
    Some(match name {
        "tflite_cnn" => cnn(Form::F32),
        "tflite_cnn_fp16" => cnn(Form::F16),
        "tflite_cnn_int8" => cnn(Form::Int8),
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Form {
    F32,
    F16,
    Int8,
}

/// Values in [-0.5, 0.5), deterministic.
pub(crate) fn weights(seed: u32, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect()
}

fn f16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect()
}

const H: i32 = 64;
const C_IN: i32 = 3;
const C: i32 = 16;
const OUT: i32 = 10;

/// input [1,64,64,3] -> CONV_2D 3x3x16 (SAME, RELU) -> DEPTHWISE_CONV_2D 3x3 stride 2 (SAME, RELU6) -> RESHAPE
/// [1, 16384] -> FULLY_CONNECTED 10.
fn cnn(form: Form) -> Vec<u8> {
    let mut m = ModelSpec {
        description: format!(
            "edgebench fixture tflite_cnn ({})",
            match form {
                Form::F32 => "float32",
                Form::F16 => "float16 weights behind DEQUANTIZE",
                Form::Int8 => "int8",
            }
        ),
        ..Default::default()
    };
    let tensor = |m: &mut ModelSpec, t: TensorSpec| {
        m.tensors.push(t);
        (m.tensors.len() - 1) as i32
    };
    let act = |name: &str, shape: Vec<i32>| TensorSpec {
        name: name.into(),
        dtype: 0,
        shape,
        ..Default::default()
    };
    let flat = (H / 2) * (H / 2) * C;
    let conv_w = weights(1, (C * 3 * 3 * C_IN) as usize);
    let conv_b = weights(2, C as usize);
    let dw_w = weights(3, (3 * 3 * C) as usize);
    let dw_b = weights(4, C as usize);
    let fc_w: Vec<f32> = weights(5, (OUT * flat) as usize)
        .iter()
        .map(|w| w / 64.0)
        .collect();
    let fc_b = weights(6, OUT as usize);
    let input = tensor(&mut m, act("input", vec![1, H, H, C_IN]));
    let shape = tensor(
        &mut m,
        TensorSpec {
            name: "flat_shape".into(),
            dtype: 2,
            shape: vec![2],
            data: Some(i32_bytes(&[1, flat])),
            ..Default::default()
        },
    );
    let conv_opts = (
        1u8,
        vec![
            (0, OptField::I8(0)),
            (1, OptField::I32(1)),
            (2, OptField::I32(1)),
            (3, OptField::I8(1)),
        ],
    );
    let dw_opts = (
        2u8,
        vec![
            (0, OptField::I8(0)),
            (1, OptField::I32(2)),
            (2, OptField::I32(2)),
            (3, OptField::I32(1)),
            (4, OptField::I8(3)),
        ],
    );
    let fc_opts = (8u8, vec![(0, OptField::I8(0))]);
    let op = |builtin: i32, version: i32, inputs: Vec<i32>, output: i32, options| OpSpec {
        builtin,
        version,
        inputs,
        outputs: vec![output],
        options,
        ..Default::default()
    };
    if form != Form::Int8 {
        // Float weights: constants, or float16 constants each behind a DEQUANTIZE.
        let weight = |m: &mut ModelSpec, name: &str, shape: Vec<i32>, v: &[f32]| {
            if form == Form::F32 {
                return tensor(
                    m,
                    TensorSpec {
                        data: Some(f32_bytes(v)),
                        ..act(name, shape)
                    },
                );
            }
            let h = tensor(
                m,
                TensorSpec {
                    dtype: 1,
                    data: Some(f16_bytes(v)),
                    ..act(&format!("{name}_fp16"), shape.clone())
                },
            );
            let f = tensor(m, act(name, shape));
            m.ops.push(op(6, 3, vec![h], f, None));
            f
        };
        let cw = weight(&mut m, "conv_w", vec![C, 3, 3, C_IN], &conv_w);
        let cb = weight(&mut m, "conv_b", vec![C], &conv_b);
        let dw = weight(&mut m, "dw_w", vec![1, 3, 3, C], &dw_w);
        let db = weight(&mut m, "dw_b", vec![C], &dw_b);
        let fw = weight(&mut m, "fc_w", vec![OUT, flat], &fc_w);
        let fb = weight(&mut m, "fc_b", vec![OUT], &fc_b);
        let y1 = tensor(&mut m, act("conv", vec![1, H, H, C]));
        let y2 = tensor(&mut m, act("dw", vec![1, H / 2, H / 2, C]));
        let y3 = tensor(&mut m, act("flat", vec![1, flat]));
        let y4 = tensor(&mut m, act("logits", vec![1, OUT]));
        m.ops
            .push(op(3, 1, vec![input, cw, cb], y1, Some(conv_opts)));
        m.ops.push(op(4, 1, vec![y1, dw, db], y2, Some(dw_opts)));
        m.ops.push(op(22, 1, vec![y2, shape], y3, None));
        m.ops.push(op(9, 1, vec![y3, fw, fb], y4, Some(fc_opts)));
        m.inputs = vec![input];
        m.outputs = vec![y4];
        return m.encode();
    }
    // int8: per-channel symmetric weights, int32 biases at input scale x weight scale, activations asymmetric.
    let q8 = |name: &str, shape: Vec<i32>, scale: f32, zero: i64| TensorSpec {
        name: name.into(),
        dtype: 9,
        shape,
        quant: Some((vec![scale], vec![zero], 0)),
        ..Default::default()
    };
    let per_channel = |v: &[f32], channels: usize, axis_last: bool| -> (Vec<u8>, Vec<f32>) {
        let per = v.len() / channels;
        let ch = |i: usize| if axis_last { i % channels } else { i / per };
        let mut scales = vec![0f32; channels];
        for (i, w) in v.iter().enumerate() {
            scales[ch(i)] = scales[ch(i)].max(w.abs() / 127.0);
        }
        let q = v
            .iter()
            .enumerate()
            .map(|(i, w)| (w / scales[ch(i)]).round().clamp(-127.0, 127.0) as i8 as u8)
            .collect();
        (q, scales)
    };
    let bias = |name: &str, b: &[f32], scales: &[f32]| TensorSpec {
        name: name.into(),
        dtype: 2,
        shape: vec![b.len() as i32],
        data: Some(i32_bytes(
            &b.iter()
                .enumerate()
                .map(|(i, v)| (v / scales[i % scales.len()]).round() as i32)
                .collect::<Vec<_>>(),
        )),
        quant: Some((scales.to_vec(), vec![0; scales.len()], 0)),
        ..Default::default()
    };
    let s_in = 1.0 / 127.0;
    let s_act = 6.0 / 255.0;
    let q_in = tensor(&mut m, q8("input_q", vec![1, H, H, C_IN], s_in, 0));
    let (cw_q, cw_s) = per_channel(&conv_w, C as usize, false);
    let cw = tensor(
        &mut m,
        TensorSpec {
            name: "conv_w".into(),
            dtype: 9,
            shape: vec![C, 3, 3, C_IN],
            data: Some(cw_q),
            quant: Some((cw_s.clone(), vec![0; C as usize], 0)),
        },
    );
    let cb_s: Vec<f32> = cw_s.iter().map(|s| s * s_in).collect();
    let cb = tensor(&mut m, bias("conv_b", &conv_b, &cb_s));
    let y1 = tensor(&mut m, q8("conv", vec![1, H, H, C], s_act, -128));
    let (dw_q, dw_s) = per_channel(&dw_w, C as usize, true);
    let dw = tensor(
        &mut m,
        TensorSpec {
            name: "dw_w".into(),
            dtype: 9,
            shape: vec![1, 3, 3, C],
            data: Some(dw_q),
            quant: Some((dw_s.clone(), vec![0; C as usize], 3)),
        },
    );
    let db_s: Vec<f32> = dw_s.iter().map(|s| s * s_act).collect();
    let db = tensor(&mut m, bias("dw_b", &dw_b, &db_s));
    let y2 = tensor(&mut m, q8("dw", vec![1, H / 2, H / 2, C], s_act, -128));
    let y3 = tensor(&mut m, q8("flat", vec![1, flat], s_act, -128));
    let fw_s = fc_w.iter().fold(0f32, |a, w| a.max(w.abs())) / 127.0;
    let fw = tensor(
        &mut m,
        TensorSpec {
            name: "fc_w".into(),
            dtype: 9,
            shape: vec![OUT, flat],
            data: Some(
                fc_w.iter()
                    .map(|w| (w / fw_s).round().clamp(-127.0, 127.0) as i8 as u8)
                    .collect(),
            ),
            quant: Some((vec![fw_s], vec![0], 0)),
        },
    );
    let fb = tensor(&mut m, bias("fc_b", &fc_b, &[fw_s * s_act]));
    let y4 = tensor(&mut m, q8("logits_q", vec![1, OUT], 0.1, 0));
    let out = tensor(&mut m, act("logits", vec![1, OUT]));
    m.ops.push(op(114, 1, vec![input], q_in, None));
    m.ops
        .push(op(3, 3, vec![q_in, cw, cb], y1, Some(conv_opts)));
    m.ops.push(op(4, 3, vec![y1, dw, db], y2, Some(dw_opts)));
    m.ops.push(op(22, 1, vec![y2, shape], y3, None));
    m.ops.push(op(9, 4, vec![y3, fw, fb], y4, Some(fc_opts)));
    m.ops.push(op(6, 2, vec![y4], out, None));
    m.inputs = vec![input];
    m.outputs = vec![out];
    m.encode()
}

/// y = cumsum(a + b, axis 1) * 2 on [1, 8]: CUMSUM (node 1), which XNNPACK does not take, between ADD and MUL,
/// which it does (a test of placement: two partitions around one interpreter node).
pub fn add_cumsum_mul() -> Vec<u8> {
    let t = |name: &str| TensorSpec {
        name: name.into(),
        dtype: 0,
        shape: vec![1, 8],
        ..Default::default()
    };
    let axis = TensorSpec {
        name: "axis".into(),
        dtype: 2,
        shape: vec![],
        data: Some(i32_bytes(&[1])),
        ..Default::default()
    };
    let two = TensorSpec {
        data: Some(f32_bytes(&[2.0; 8])),
        ..t("two")
    };
    let op = |builtin, inputs: Vec<i32>, output| OpSpec {
        builtin,
        version: 1,
        inputs,
        outputs: vec![output],
        ..Default::default()
    };
    ModelSpec {
        description: "edgebench placement test".into(),
        tensors: vec![t("a"), t("b"), t("s"), axis, t("c"), two, t("y")],
        ops: vec![
            op(0, vec![0, 1], 2),
            op(128, vec![2, 3], 4),
            op(18, vec![4, 5], 6),
        ],
        inputs: vec![0, 1],
        outputs: vec![6],
    }
    .encode()
}

/// A CONV_2D whose filter is a graph input (computed at run time): XNNPACK needs filters static.
pub fn dynamic_filter_conv() -> Vec<u8> {
    let t = |name: &str, shape: Vec<i32>| TensorSpec {
        name: name.into(),
        dtype: 0,
        shape,
        ..Default::default()
    };
    let bias = TensorSpec {
        data: Some(f32_bytes(&[0.0; 3])),
        ..t("bias", vec![3])
    };
    ModelSpec {
        description: "edgebench placement test".into(),
        tensors: vec![
            t("x", vec![1, 4, 4, 2]),
            t("w", vec![3, 1, 1, 2]),
            t("y", vec![1, 4, 4, 3]),
            bias,
        ],
        ops: vec![OpSpec {
            builtin: 3,
            version: 1,
            inputs: vec![0, 1, 3],
            outputs: vec![2],
            options: Some((
                1,
                vec![
                    (0, OptField::I8(1)),
                    (1, OptField::I32(1)),
                    (2, OptField::I32(1)),
                ],
            )),
            ..Default::default()
        }],
        inputs: vec![0, 1],
        outputs: vec![2],
    }
    .encode()
}
