//! tract-onnx: pure Rust, every target; the numeric reference where ONNX Runtime is absent.

use edgebench_backend_api::*;
use edgebench_graph::DataType;
use std::collections::HashMap;
use std::path::Path;
use tract_onnx::prelude::*;

/// The tract-onnx backend.
#[derive(Debug, Default)]
pub struct Tract;

const NAME: &str = "tract";
/// tract-onnx's version, as resolved in Cargo.lock (kept in sync by a test).
pub const VERSION: &str = "0.23.9";

fn err_load(e: impl std::fmt::Display) -> BackendError {
    BackendError::Load {
        backend: NAME.into(),
        message: format!("{e:#}"),
    }
}

fn msg(e: &BackendError) -> String {
    match e {
        BackendError::Load { message, .. }
        | BackendError::Run { message, .. }
        | BackendError::Unsupported { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn datum(dt: DataType) -> Option<DatumType> {
    Some(match dt {
        DataType::Float => f32::datum_type(),
        DataType::Double => f64::datum_type(),
        DataType::Float16 => f16::datum_type(),
        DataType::Int64 => i64::datum_type(),
        DataType::Int32 => i32::datum_type(),
        DataType::Int16 => i16::datum_type(),
        DataType::Int8 => i8::datum_type(),
        DataType::Uint8 => u8::datum_type(),
        DataType::Bool => bool::datum_type(),
        _ => return None,
    })
}

/// tract's ONNX framework (its op registry), built once per process for each setting: building it costs more than
/// loading a small model, and `check` asks tract's shape inference once per model.
fn framework(concrete: bool) -> &'static tract_onnx::Onnx {
    static FRAMEWORKS: std::sync::LazyLock<[tract_onnx::Onnx; 2]> =
        std::sync::LazyLock::new(|| {
            [false, true].map(|c| {
                tract_onnx::onnx()
                    .with_ignore_output_shapes(c)
                    .with_ignore_value_info(c)
            })
        });
    &FRAMEWORKS[usize::from(concrete)]
}

/// Where a model comes from: a file, or the bytes of a self-contained one (no external data).
#[derive(Clone, Copy)]
enum Source<'a> {
    File(&'a Path),
    Bytes(&'a [u8]),
}

fn inference_model(src: Source, inputs: &[InputSpec]) -> Result<InferenceModel, BackendError> {
    // Annotated shapes of outputs and intermediates often use other symbols than the inputs (`sequence` vs
    // `batch`), which tract cannot unify once inputs are concrete; they are recomputed from the inputs anyway.
    let concrete = !inputs.is_empty();
    let onnx = framework(concrete);
    let mut model = match src {
        Source::File(path) => onnx.model_for_path(path),
        Source::Bytes(b) => onnx.model_for_read(&mut std::io::Cursor::new(b)),
    }
    .map_err(err_load)?;
    let names: Vec<String> = model
        .input_outlets()
        .map_err(err_load)?
        .iter()
        .map(|o| model.node(o.node).name.clone())
        .collect();
    for (ix, name) in names.iter().enumerate() {
        let Some(spec) = inputs.iter().find(|s| &s.name == name) else {
            continue;
        };
        let dt = datum(spec.dtype).ok_or_else(|| BackendError::Unsupported {
            backend: NAME.into(),
            message: format!(
                "input `{name}`: dtype {} is not supported by this adapter",
                spec.dtype
            ),
        })?;
        model
            .set_input_fact(ix, InferenceFact::dt_shape(dt, &spec.shape))
            .map_err(err_load)?;
    }
    Ok(model)
}

impl Backend for Tract {
    fn name(&self) -> &'static str {
        NAME
    }

    fn availability(&self) -> Availability {
        Availability::Available {
            version: VERSION.into(),
            details: vec![("kind".into(), "pure Rust, CPU".into())],
        }
    }

    fn load(&self, path: &Path, inputs: &[InputSpec]) -> Result<Box<dyn Session>, BackendError> {
        Ok(Box::new(session(path, inputs)?))
    }

    fn profile(
        &self,
        path: &Path,
        inputs: &[InputSpec],
        feed: &[(String, HostTensor)],
        warmup: usize,
        runs: usize,
    ) -> Result<OpProfile, BackendError> {
        let mut p = session(path, inputs)?.profile(feed, warmup, runs)?;
        // Weights for the nodes tract's optimiser fused into their neighbours.
        if let Ok(s) = session_with(path, inputs, false)
            && let Ok(u) = s.profile(feed, warmup.min(2), runs)
        {
            p.unfused = u.nodes;
            p.notes
                .push("a second pass of tract's typed, unoptimised plan weighs fused nodes".into());
        }
        Ok(p)
    }

    fn infer_shapes(
        &self,
        path: &Path,
        inputs: &[InputSpec],
    ) -> Option<Result<HashMap<String, Vec<u64>>, BackendError>> {
        Some(typed_facts(Source::File(path), inputs).map(|facts| {
            facts
                .into_iter()
                .filter_map(|(label, _, shape)| Some((label, shape?)))
                .collect()
        }))
    }

    fn infer_facts(
        &self,
        path: &Path,
        inputs: &[InputSpec],
    ) -> Option<Result<HashMap<String, (DataType, Vec<u64>)>, BackendError>> {
        Some(facts_of(typed_facts(Source::File(path), inputs)))
    }

    fn infer_facts_bytes(
        &self,
        onnx: &[u8],
        inputs: &[InputSpec],
    ) -> Option<Result<HashMap<String, (DataType, Vec<u64>)>, BackendError>> {
        Some(facts_of(typed_facts(Source::Bytes(onnx), inputs)))
    }
}

/// Every labelled value of the typed model for these inputs: its element type (when a host tensor can hold it) and
/// concrete shape (when known).
fn typed_facts(
    src: Source,
    inputs: &[InputSpec],
) -> Result<Vec<(String, Option<DataType>, Option<Vec<u64>>)>, BackendError> {
    let typed = inference_model(src, inputs)?
        .into_typed()
        .map_err(err_load)?;
    let mut out = vec![];
    for node in typed.nodes() {
        for (slot, o) in node.outputs.iter().enumerate() {
            if let Some(label) = typed.outlet_label(OutletId::new(node.id, slot)) {
                let shape = o
                    .fact
                    .shape
                    .as_concrete()
                    .map(|s| s.iter().map(|d| *d as u64).collect());
                out.push((label.to_string(), ours(o.fact.datum_type), shape));
            }
        }
    }
    Ok(out)
}

type Labelled = Vec<(String, Option<DataType>, Option<Vec<u64>>)>;

/// The values whose type and shape are both known.
fn facts_of(
    r: Result<Labelled, BackendError>,
) -> Result<HashMap<String, (DataType, Vec<u64>)>, BackendError> {
    r.map(|facts| {
        facts
            .into_iter()
            .filter_map(|(label, dt, shape)| Some((label, (dt?, shape?))))
            .collect()
    })
}

/// Our element type for a tract datum type (the types a host tensor can hold).
fn ours(dt: DatumType) -> Option<DataType> {
    [
        DataType::Float,
        DataType::Double,
        DataType::Float16,
        DataType::Int64,
        DataType::Int32,
        DataType::Int16,
        DataType::Int8,
        DataType::Uint8,
        DataType::Bool,
    ]
    .into_iter()
    .find(|d| datum(*d) == Some(dt.unquantized()))
}

/// A prepared session: with the fed shapes, else with the model's own.
fn session(path: &Path, inputs: &[InputSpec]) -> Result<TractSession, BackendError> {
    session_with(path, inputs, true)
}

/// [`session`], optimised by tract or only typed (one plan node per ONNX node, as far as tract can: the unfused
/// pass of a profile).
fn session_with(
    path: &Path,
    inputs: &[InputSpec],
    optimise: bool,
) -> Result<TractSession, BackendError> {
    match prepare(path, inputs, optimise) {
        Ok(s) => Ok(s),
        // Concrete shapes make tract analyse every If branch with them; a branch that is never taken for
        // this feed (silero's 8 kHz path) can then fail. The model's own symbolic shapes may still work.
        Err(first) if !inputs.is_empty() => {
            prepare(path, &[], optimise).map_err(|second| BackendError::Load {
                backend: NAME.into(),
                message: format!(
                    "with the fed shapes: {}; with the model's own shapes: {}",
                    msg(&first),
                    msg(&second)
                ),
            })
        }
        Err(e) => Err(e),
    }
}

/// Loads, optimises and plans a model; `inputs` empty keeps the model's own input facts.
fn prepare(
    path: &Path,
    inputs: &[InputSpec],
    optimise: bool,
) -> Result<TractSession, BackendError> {
    let model = inference_model(Source::File(path), inputs)?;
    let input_names: Vec<String> = model
        .input_outlets()
        .map_err(err_load)?
        .iter()
        .map(|o| model.node(o.node).name.clone())
        .collect();
    let output_names: Vec<String> = model
        .output_outlets()
        .map_err(err_load)?
        .iter()
        .map(|o| {
            model
                .outlet_label(*o)
                .map(str::to_string)
                .unwrap_or_else(|| model.node(o.node).name.clone())
        })
        .collect();
    let onnx_names: Vec<String> = model.nodes().iter().map(|n| n.name.clone()).collect();
    let typed = if optimise {
        model.into_optimized()
    } else {
        model.into_typed()
    };
    let plan = typed.map_err(err_load)?.into_runnable().map_err(err_load)?;
    Ok(TractSession {
        plan,
        input_names,
        output_names,
        onnx_names,
        quantized_inputs: vec![],
    })
}

struct TractSession {
    plan: std::sync::Arc<TypedRunnableModel>,
    input_names: Vec<String>,
    output_names: Vec<String>,
    /// Node names of the model as read (the ONNX names), to map the optimised plan's nodes back.
    onnx_names: Vec<String>,
    /// tract-tflite: the quantized type (QI8, QU8 with scale and zero point) of each input that has one; the host
    /// feeds plain int8/uint8 bytes.
    quantized_inputs: Vec<Option<DatumType>>,
}

impl TractSession {
    /// Fresh tract values in input order (owned, so in-place ops keep their in-place path).
    fn values(&self, inputs: &[(String, HostTensor)]) -> Result<TVec<TValue>, BackendError> {
        let run_err = |m: String| BackendError::Run {
            backend: NAME.into(),
            message: m,
        };
        let mut values: TVec<TValue> = tvec![];
        for (i, name) in self.input_names.iter().enumerate() {
            let (_, t) = inputs
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| run_err(format!("no value fed for input `{name}`")))?;
            let mut t = to_tract(t).map_err(|e| run_err(format!("{e:#}")))?;
            if let Some(Some(q)) = self.quantized_inputs.get(i)
                && t.datum_type() == q.unquantized()
            {
                // SAFETY: a quantized type has the storage of its unquantized one (same size and layout).
                unsafe { t.set_datum_type(*q) };
            }
            values.push(t.into_tvalue());
        }
        Ok(values)
    }

    /// Per-node wall time around each node's evaluation (what `tract dump --profile` does), over `runs` runs after
    /// `warmup`; plan nodes are mapped to the ONNX node whose name they carry (tract adds dotted suffixes when it
    /// lowers a node).
    fn profile(
        &self,
        feed: &[(String, HostTensor)],
        warmup: usize,
        runs: usize,
    ) -> Result<OpProfile, BackendError> {
        use tract_onnx::tract_core::plan::{SimpleState, eval};
        let run_err = |m: String| BackendError::Run {
            backend: NAME.into(),
            message: m,
        };
        let mut state = SimpleState::new(&self.plan).map_err(|e| run_err(format!("{e:#}")))?;
        for _ in 0..warmup {
            let v = self.values(feed)?;
            state.run(v).map_err(|e| run_err(format!("{e:#}")))?;
        }
        let n = self.plan.model().nodes().len();
        let mut us: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); n];
        let mut called = vec![false; n];
        let mut run_us = Vec::with_capacity(runs);
        for _ in 0..runs {
            let v = self.values(feed)?;
            let mut t = vec![0f64; n];
            let start = std::time::Instant::now();
            state
                .run_plan_with_eval(v, |ctx, st, node, input| {
                    let s = std::time::Instant::now();
                    let r = eval(ctx, st, node, input);
                    t[node.id] += s.elapsed().as_secs_f64() * 1e6;
                    called[node.id] = true;
                    r
                })
                .map_err(|e| run_err(format!("{e:#}")))?;
            run_us.push(start.elapsed().as_secs_f64() * 1e6);
            for (i, x) in t.into_iter().enumerate() {
                us[i].push(x);
            }
        }
        let onnx: std::collections::HashSet<&str> =
            self.onnx_names.iter().map(String::as_str).collect();
        let nodes = self
            .plan
            .model()
            .nodes()
            .iter()
            .filter(|node| called[node.id] && node.op().name() != "Source")
            .map(|node| NodeTime {
                name: node.name.clone(),
                op: node.op().name().to_string(),
                onnx: onnx_of(&node.name, &onnx).into_iter().collect(),
                us: std::mem::take(&mut us[node.id]),
                provider: None,
            })
            .collect();
        Ok(OpProfile {
            run_us,
            nodes,
            notes: vec![format!(
                "tract: wall time around each plan node's evaluation, {runs} runs after {warmup} warm-up"
            )],
            ..Default::default()
        })
    }
}

/// The ONNX node a tract node stands for: its own name, or the longest ONNX name it extends with a `.` suffix.
fn onnx_of(name: &str, onnx: &std::collections::HashSet<&str>) -> Option<String> {
    let mut cut = name;
    loop {
        if onnx.contains(cut) {
            return Some(cut.to_string());
        }
        cut = &cut[..cut.rfind('.')?];
    }
}

fn to_tract(t: &HostTensor) -> TractResult<Tensor> {
    Ok(match &t.data {
        Data::F32(v) => Tensor::from_shape(&t.shape, v)?,
        Data::F64(v) => Tensor::from_shape(&t.shape, v)?,
        Data::F16(v) => Tensor::from_shape(&t.shape, v)?,
        Data::I64(v) => Tensor::from_shape(&t.shape, v)?,
        Data::I32(v) => Tensor::from_shape(&t.shape, v)?,
        Data::I16(v) => Tensor::from_shape(&t.shape, v)?,
        Data::I8(v) => Tensor::from_shape(&t.shape, v)?,
        Data::U8(v) => Tensor::from_shape(&t.shape, v)?,
        Data::Bool(v) => Tensor::from_shape(&t.shape, v)?,
    })
}

fn from_tract(t: &Tensor) -> Result<HostTensor, String> {
    // Shape-like outputs (Shape, Size) come out as symbolic dims; they are concrete by now.
    let cast;
    let t = if t.datum_type() == TDim::datum_type() {
        cast = t.cast_to::<i64>().map_err(|e| e.to_string())?.into_owned();
        &cast
    } else if t.datum_type().is_quantized() {
        // The host reads a quantized tensor's stored integers (QI8 -> int8).
        let mut plain = t.clone();
        // SAFETY: as in `values`: same storage, the unquantized type.
        unsafe { plain.set_datum_type(t.datum_type().unquantized()) };
        cast = plain;
        &cast
    } else {
        t
    };
    let shape = t.shape().to_vec();
    let dt = t.datum_type();
    let t = t.try_as_plain_ram().map_err(|e| e.to_string())?;
    let data = if dt == f32::datum_type() {
        Data::F32(t.as_slice::<f32>().map_err(|e| e.to_string())?.to_vec())
    } else if dt == f64::datum_type() {
        Data::F64(t.as_slice::<f64>().map_err(|e| e.to_string())?.to_vec())
    } else if dt == f16::datum_type() {
        Data::F16(
            t.as_slice::<f16>()
                .map_err(|e| e.to_string())?
                .iter()
                .map(|x| half::f16::from_bits(x.to_bits()))
                .collect(),
        )
    } else if dt == i64::datum_type() {
        Data::I64(t.as_slice::<i64>().map_err(|e| e.to_string())?.to_vec())
    } else if dt == i32::datum_type() {
        Data::I32(t.as_slice::<i32>().map_err(|e| e.to_string())?.to_vec())
    } else if dt == i16::datum_type() {
        Data::I16(t.as_slice::<i16>().map_err(|e| e.to_string())?.to_vec())
    } else if dt == i8::datum_type() {
        Data::I8(t.as_slice::<i8>().map_err(|e| e.to_string())?.to_vec())
    } else if dt == u8::datum_type() {
        Data::U8(t.as_slice::<u8>().map_err(|e| e.to_string())?.to_vec())
    } else if dt == bool::datum_type() {
        Data::Bool(t.as_slice::<bool>().map_err(|e| e.to_string())?.to_vec())
    } else {
        return Err(format!(
            "output dtype {dt:?} is not supported by this adapter"
        ));
    };
    Ok(HostTensor { shape, data })
}

impl Session for TractSession {
    fn run(
        &mut self,
        inputs: &[(String, HostTensor)],
    ) -> Result<Vec<(String, HostTensor)>, BackendError> {
        let run_err = |m: String| BackendError::Run {
            backend: NAME.into(),
            message: m,
        };
        let values = self.values(inputs)?;
        let outs = self
            .plan
            .run(values)
            .map_err(|e| run_err(format!("{e:#}")))?;
        self.output_names
            .iter()
            .zip(outs.iter())
            .map(|(n, t)| Ok((n.clone(), from_tract(t).map_err(run_err)?)))
            .collect()
    }
}

/// tract-tflite: tract's pure-Rust TFLite reader on the same tract-core, for `.tflite` models.
#[derive(Debug, Default)]
pub struct TractTflite;

impl Backend for TractTflite {
    fn name(&self) -> &'static str {
        "tract-tflite"
    }

    fn formats(&self) -> &'static [edgebench_graph::Format] {
        &[edgebench_graph::Format::Tflite]
    }

    fn availability(&self) -> Availability {
        Availability::Available {
            version: VERSION.into(),
            details: vec![("kind".into(), "pure Rust, CPU (tract-tflite)".into())],
        }
    }

    fn load(&self, path: &Path, _inputs: &[InputSpec]) -> Result<Box<dyn Session>, BackendError> {
        let load = |e: TractError| BackendError::Load {
            backend: "tract-tflite".into(),
            message: tflite_error(&format!("{e:#}")),
        };
        let model = tract_tflite::tflite().model_for_path(path).map_err(load)?;
        // tract names its nodes its own way: inputs and outputs keep the file's tensor names, in the file's order.
        let ir = edgebench_graph::load(path).map_err(|e| BackendError::Load {
            backend: "tract-tflite".into(),
            message: e.to_string(),
        })?;
        let input_names = ir.graph.inputs.iter().map(|v| v.name.clone()).collect();
        let output_names = ir.graph.outputs.iter().map(|v| v.name.clone()).collect();
        let onnx_names = model.nodes().iter().map(|n| n.name.clone()).collect();
        let quantized_inputs = model
            .input_outlets()
            .map_err(load)?
            .iter()
            .map(|o| {
                let dt = model.outlet_fact(*o).ok()?.datum_type;
                dt.is_quantized().then_some(dt)
            })
            .collect();
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(load)?;
        Ok(Box::new(TractSession {
            plan,
            input_names,
            output_names,
            onnx_names,
            quantized_inputs,
        }))
    }
}

/// tract-tflite's errors quote whole flatbuffer tables (Debug, many lines); keep the operator it refused.
fn tflite_error(m: &str) -> String {
    let flat = m.split_whitespace().collect::<Vec<_>>().join(" ");
    let field = |key: &str| {
        let at = flat.rfind(key)? + key.len();
        Some(
            flat[at..]
                .split([',', ' ', '}'])
                .find(|s| !s.is_empty())?
                .to_string(),
        )
    };
    match (field("builtin_code: "), field("version: ")) {
        (Some(op), Some(v)) if flat.contains("Unsupported") => {
            format!("tract-tflite does not support operator {op} (version {v})")
        }
        (Some(op), Some(v)) => {
            // "...Opcode is OperatorCode { ... }: <reason> for operator Operator { ... }": keep the reason.
            let reason = flat
                .find("Opcode is")
                .and_then(|at| flat[at..].find("}: ").map(|e| &flat[at + e + 3..]))
                .map(|r| r.split(" Operator {").next().unwrap_or(r))
                .map(|r| r.trim_end_matches(" for operator").trim())
                .unwrap_or("");
            let reason: String = reason.chars().take(200).collect();
            format!("tract-tflite could not translate operator {op} (version {v}): {reason}")
        }
        _ => flat.chars().take(400).collect(),
    }
}
