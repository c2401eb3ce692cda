//! The ONNX conformance node tests, and edgebench's own TFLite suite ([`make_tflite_suite`]), as cells: one test run
//! in this process ([`run_test`], what `probe-one` does in its child) and a child's end read into the test's outcome
//! ([`classify`]). A test folder holds `model.onnx` or `model.tflite` and `test_data_set_0/{input,output}_N.pb`.

use crate::Error;
use crate::cell::{Ended, Finished, crash_message, last_error};
use edgebench_backend_api::{Backend, HostTensor, InputSpec};
use edgebench_compat::probe::{Status, TestOutcome, summary_line, table_from_probe};
use edgebench_compat::table::{Header, SupportTable};
use edgebench_graph::{DataType, ValueType};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Outputs match when |got - want| <= ATOL + RTOL * |want| everywhere (NaN matches NaN). A quantized TFLite
/// output (int8/uint8 with a scale) may also differ by one step: kernels round differently (XNNPACK against the
/// reference kernels).
pub const RTOL: f64 = 1e-3;
pub const ATOL: f64 = 1e-5;

/// The model file of a test folder: `model.onnx` or `model.tflite`.
pub fn model_file(dir: &Path) -> Option<PathBuf> {
    ["model.onnx", "model.tflite"]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

fn host_dtype(dt: DataType) -> bool {
    matches!(
        dt,
        DataType::Float
            | DataType::Double
            | DataType::Float16
            | DataType::Int64
            | DataType::Int32
            | DataType::Int16
            | DataType::Int8
            | DataType::Uint8
            | DataType::Bool
    )
}

/// The op a single-node test exercises, the model's opset for its domain, and its first input's element type.
pub fn meta(
    model: &edgebench_graph::Model,
) -> (Option<(String, String)>, Option<i64>, Option<String>) {
    // A TFLite test's float16 weights come through DEQUANTIZE nodes of constants: the op under test is the other one.
    let consts: std::collections::HashSet<&str> =
        model.graph.initializers.iter().map(|t| t.name()).collect();
    let helper = |n: &&edgebench_graph::Node| {
        model.format == edgebench_graph::Format::Tflite
            && n.op_type == "DEQUANTIZE"
            && n.inputs
                .first()
                .is_some_and(|i| consts.contains(i.as_str()))
            && model.graph.nodes.len() > 1
    };
    let principal: Vec<&edgebench_graph::Node> =
        model.graph.nodes.iter().filter(|n| !helper(n)).collect();
    let node = (principal.len() == 1).then(|| principal[0]);
    let op = node.map(|n| {
        (
            edgebench_compat::table::domain_name(&n.domain).to_string(),
            n.op_type.clone(),
        )
    });
    let opset = node
        .or(model.graph.nodes.first())
        .and_then(|n| model.node_opset(n));
    if node.is_some() && principal.len() < model.graph.nodes.len() {
        return (op, opset, Some("float16".into()));
    }
    let first = node
        .or(model.graph.nodes.first())
        .and_then(|n| n.inputs.first())
        .cloned()
        .unwrap_or_default();
    let dtype = model
        .graph
        .inputs
        .iter()
        .chain(&model.graph.value_info)
        .find(|v| v.name == first)
        .and_then(|v| v.ty.as_ref())
        .and_then(ValueType::as_tensor)
        .map(|(d, _)| d)
        .or_else(|| {
            model
                .graph
                .initializers
                .iter()
                .find(|t| t.name() == first)
                .map(|t| t.dtype())
        })
        .map(|d| d.name());
    (op, opset, dtype)
}

fn read_tensors(dir: &Path, prefix: &str) -> Result<Vec<HostTensor>, String> {
    let mut out = vec![];
    for i in 0.. {
        let p = dir.join(format!("{prefix}_{i}.pb"));
        if !p.exists() {
            break;
        }
        let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let t = edgebench_graph::decode_tensor(bytes.into(), &p).map_err(|e| e.to_string())?;
        out.push(HostTensor::from_onnx(&t).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    Ok(out)
}

/// What a backend is told about named tensors it will be fed.
fn specs_of(feed: &[(String, HostTensor)]) -> Vec<InputSpec> {
    feed.iter()
        .map(|(n, t)| InputSpec {
            name: n.clone(),
            dtype: t.dtype(),
            shape: t.shape.clone(),
        })
        .collect()
}

/// Runs one test in this process and classifies it (what the `probe-one` child does).
pub fn run_test(dir: &Path, backend: &dyn Backend) -> Result<TestOutcome, Error> {
    let test = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let model_path = model_file(dir).unwrap_or_else(|| dir.join("model.onnx"));
    let model = edgebench_graph::load(&model_path).map_err(|e| Error::BadModel(e.to_string()))?;
    let (op, opset, dtype) = meta(&model);
    let inputs = model.graph.runtime_inputs();
    let mut outcome = TestOutcome {
        test,
        op,
        opset,
        dtype,
        status: Status::NotRun,
        detail: String::new(),
    };
    // Types the host cannot feed or read are reported, not guessed.
    for v in inputs.iter().copied().chain(model.graph.outputs.iter()) {
        let ok = matches!(&v.ty, Some(ValueType::Tensor { dtype, .. }) if host_dtype(*dtype));
        if !ok {
            let what = match &v.ty {
                Some(ValueType::Tensor { dtype, .. }) => dtype.name(),
                Some(ValueType::Sequence { .. }) => "sequence".into(),
                Some(ValueType::Optional { .. }) => "optional".into(),
                Some(ValueType::Map { .. }) => "map".into(),
                Some(ValueType::SparseTensor { .. }) => "sparse tensor".into(),
                None => "untyped".into(),
            };
            outcome.detail = format!("type: `{}` is {what}", v.name);
            return Ok(outcome);
        }
    }
    let data = dir.join("test_data_set_0");
    let (feed, want) = match (read_tensors(&data, "input"), read_tensors(&data, "output")) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), _) | (_, Err(e)) => {
            outcome.detail = format!("type: {e}");
            return Ok(outcome);
        }
    };
    let feed: Vec<(String, HostTensor)> = inputs.iter().map(|v| v.name.clone()).zip(feed).collect();
    let specs = specs_of(&feed);
    let got = match backend
        .load(&model_path, &specs)
        .and_then(|mut s| s.run(&feed))
    {
        Ok(g) => g,
        Err(first) => match with_params_baked(&model, backend, &feed) {
            // Tests feed weights, axes, shapes and scales as runtime inputs; real models hold them as initializers.
            Some(Ok(g)) => {
                outcome.detail = "passes with its parameter inputs as initializers".into();
                g
            }
            retry => {
                outcome.status = Status::Unsupported;
                outcome.detail = match retry {
                    Some(Err(e)) if e != first.to_string() => {
                        format!("{first}; with its parameter inputs as initializers: {e}")
                    }
                    _ => first.to_string(),
                };
                return Ok(outcome);
            }
        },
    };
    outcome.status = Status::Pass;
    let mut worst = 0f64;
    for (k, w) in want.iter().enumerate() {
        let Some((name, g)) = got.get(k) else {
            outcome.status = Status::Mismatch;
            outcome.detail = format!("output {k} missing");
            break;
        };
        if g.shape != w.shape {
            outcome.status = Status::Mismatch;
            outcome.detail = format!(
                "output `{name}`: shape {:?}, expected {:?}",
                g.shape, w.shape
            );
            break;
        }
        let step = quantized_output(&model, k);
        for (x, y) in g.to_f64().iter().zip(w.to_f64()) {
            if x.is_nan() && y.is_nan() || x == &y {
                continue;
            }
            let d = (x - y).abs();
            let excess = if d.is_nan() {
                f64::INFINITY
            } else {
                d - (ATOL + RTOL * y.abs()).max(step)
            };
            if excess > 0.0 {
                outcome.status = Status::Mismatch;
                worst = worst.max(d);
                outcome.detail = format!("output `{name}`: worst |got - expected| = {worst:.3e}");
            }
        }
        if outcome.status == Status::Mismatch {
            break;
        }
    }
    Ok(outcome)
}

/// 1.0 when output `k` of a TFLite model is a quantized integer tensor (one step of difference allowed), else 0.
fn quantized_output(model: &edgebench_graph::Model, k: usize) -> f64 {
    let q = model.graph.outputs.get(k).is_some_and(|v| {
        model.format == edgebench_graph::Format::Tflite
            && v.metadata
                .iter()
                .any(|m| m.key.as_deref() == Some("quantization"))
            && matches!(
                v.ty.as_ref().and_then(ValueType::as_tensor),
                Some((DataType::Int8 | DataType::Uint8 | DataType::Int16, _))
            )
    });
    if q { 1.0 } else { 0.0 }
}

/// Reruns a test with every runtime input after the first (the data), and the first too when it is an integer
/// tensor (a shape, as for ConstantOfShape), turned into an initializer holding the test's values; None if that
/// changes nothing.
fn with_params_baked(
    model: &edgebench_graph::Model,
    backend: &dyn Backend,
    feed: &[(String, HostTensor)],
) -> Option<Result<Vec<(String, HostTensor)>, String>> {
    if model.format != edgebench_graph::Format::Onnx {
        return None;
    }
    let bake =
        |k: usize, t: &HostTensor| k > 0 || matches!(t.dtype(), DataType::Int64 | DataType::Int32);
    if !feed.iter().enumerate().any(|(k, (_, t))| bake(k, t)) {
        return None;
    }
    let mut m = model.clone();
    let mut rest = vec![];
    for (k, (n, t)) in feed.iter().enumerate() {
        if bake(k, t) {
            m.graph.inputs.retain(|v| &v.name != n);
            m.graph.initializers.push(t.to_onnx(n));
        } else {
            rest.push((n.clone(), t.clone()));
        }
    }
    Some((|| {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("model.onnx");
        edgebench_graph::save(&m, &path).map_err(|e| e.to_string())?;
        let specs = specs_of(&rest);
        backend
            .load(&path, &specs)
            .and_then(|mut s| s.run(&rest))
            .map_err(|e| e.to_string())
    })())
}

/// The test folders (with a model.onnx or model.tflite) under `dir` whose name contains `filter`, sorted.
pub fn list_tests(dir: &Path, filter: Option<&str>) -> Result<Vec<PathBuf>, Error> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| model_file(p).is_some())
        .filter(|p| {
            filter.is_none_or(|f| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(f))
            })
        })
        .collect();
    v.sort();
    Ok(v)
}

/// A probe child's end, as the test's outcome.
pub fn classify(dir: &Path, finished: Finished) -> TestOutcome {
    let timeout = finished.timeout_s;
    let test = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = |status, detail: String| {
        let (op, opset, dtype) =
            edgebench_graph::load(&model_file(dir).unwrap_or_else(|| dir.join("model.onnx")))
                .map(|m| meta(&m))
                .unwrap_or_default();
        TestOutcome {
            test: test.clone(),
            op,
            opset,
            dtype,
            status,
            detail,
        }
    };
    match finished.ended {
        Ended::Exited {
            code: 0, stdout, ..
        } => serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| base(Status::Crash, format!("unreadable child report: {e}"))),
        Ended::Exited { code, stderr, .. } => base(
            Status::Crash,
            format!("exit {code}: {}", last_error(&stderr)),
        ),
        Ended::Signalled { signal, stderr } => base(
            Status::Crash,
            format!(
                "signal {}: {}",
                signal.map(|s| s.to_string()).unwrap_or("?".into()),
                crash_message(signal, &stderr)
            ),
        ),
        Ended::TimedOut => base(Status::Timeout, format!("no result within {timeout} s")),
        Ended::Interrupted => base(Status::NotRun, "interrupted".into()),
    }
}

/// Runs every test in its own child (`command` builds it), `jobs` at a time, each with a timeout; `done` is called
/// after each test. Outcomes are sorted by test name.
pub fn run_all(
    tests: &[PathBuf],
    jobs: usize,
    timeout_s: u64,
    command: impl Fn(&Path) -> std::process::Command + Sync,
    done: impl Fn() + Sync,
) -> Vec<TestOutcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<TestOutcome>> = Mutex::new(vec![]);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    if crate::interrupted() {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(dir) = tests.get(i) else { break };
                    let outcome = classify(dir, crate::cell::spawn(command(dir), timeout_s));
                    if let Ok(mut r) = results.lock() {
                        r.push(outcome);
                    }
                    done();
                }
            });
        }
    });
    let mut outcomes = results.into_inner().unwrap_or_default();
    outcomes.sort_by(|a, b| a.test.cmp(&b.test));
    outcomes
}
/// The table a probe of `backend` starts from: the file at `out` when it exists (one that does not parse is a usage
/// error naming it), else the embedded one; its hand-kept constraints survive the probe.
pub fn previous_table(out: &Path, backend: &str) -> Result<Option<SupportTable>, Error> {
    match std::fs::read_to_string(out) {
        Ok(text) => SupportTable::parse(&text, &out.display().to_string())
            .map(Some)
            .map_err(|e| Error::Usage(e.to_string())),
        Err(_) => Ok(edgebench_compat::embedded(backend).and_then(Result::ok)),
    }
}

/// The regenerated table of a probe of `backend` (at `version`) with the conformance suite `suite` (`onnx 1.22.0
/// node tests`, `edgebench TFLite suite v1`): its
/// header names the suite, this machine (CPU, cores, architecture, the GPU adapter when the backend reports one),
/// the tolerance and the outcome counts; `filtered` keeps the previous entries of ops no test ran.
pub fn probed_table(
    backend: &dyn Backend,
    version: String,
    suite: &str,
    outcomes: &[TestOutcome],
    previous: Option<&SupportTable>,
    filtered: bool,
) -> SupportTable {
    let host = crate::machine::host();
    let adapter = match backend.availability() {
        edgebench_backend_api::Availability::Available { details, .. } => details
            .iter()
            .find(|(k, _)| k == "adapter")
            .map(|(_, v)| format!(", adapter {v}"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let header = Header {
        backend: backend.name().into(),
        version,
        probed_with: format!("{suite} ({} run)", outcomes.len()),
        probed_on: format!(
            "{} ({} cores), {}{adapter}",
            host.cpu, host.logical_cores, host.arch
        ),
        tolerance: format!(
            "|got - expected| <= {ATOL:e} + {RTOL:e} * |expected|{}",
            if suite.contains("TFLite") {
                "; quantized outputs: or one step"
            } else {
                ""
            }
        ),
        probe_summary: summary_line(outcomes),
        max_opset: None,
    };
    table_from_probe(header, outcomes, previous, filtered)
}

/// Writes the table to `out` (its folder made first) and, when asked, every outcome as a JSON line; both atomically.
pub fn write_probe(
    out: &Path,
    table: &SupportTable,
    outcomes_file: Option<&Path>,
    outcomes: &[TestOutcome],
) -> Result<(), Error> {
    let usage = |p: &Path, e: std::io::Error| Error::Usage(format!("{}: {e}", p.display()));
    if let Some(p) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(p).map_err(|e| usage(p, e))?;
    }
    edgebench_graph::write_atomic(out, table.to_toml().as_bytes()).map_err(|e| usage(out, e))?;
    if let Some(p) = outcomes_file {
        let lines: Vec<String> = outcomes
            .iter()
            .filter_map(|o| serde_json::to_string(o).ok())
            .collect();
        edgebench_graph::write_atomic(p, (lines.join("\n") + "\n").as_bytes())
            .map_err(|e| usage(p, e))?;
    }
    Ok(())
}

/// Version of edgebench's TFLite suite ([`edgebench_graph::tflite::suite`]): bump it when cases change.
pub const TFLITE_SUITE_VERSION: u32 = 1;

/// What [`make_tflite_suite`] made.
#[derive(Debug)]
pub struct SuiteMade {
    pub dir: PathBuf,
    pub cases: usize,
    /// Cases the reference could not run (name, its error): left out of the suite, listed for the reader.
    pub dropped: Vec<(String, String)>,
}

/// Writes edgebench's TFLite suite under `root` (`tflite-conformance-v<N>/test_*/model.tflite` with
/// `test_data_set_0/{input,output}_N.pb`), the expected outputs computed on `reference` (LiteRT's reference
/// kernels). A complete suite already there is reused.
pub fn make_tflite_suite(root: &Path, reference: &dyn Backend) -> Result<SuiteMade, Error> {
    let dir = root.join(format!("tflite-conformance-v{TFLITE_SUITE_VERSION}"));
    let done = dir.join("complete.json");
    let io = |p: &Path, e: std::io::Error| Error::Usage(format!("{}: {e}", p.display()));
    if let Ok(text) = std::fs::read_to_string(&done) {
        let dropped: Vec<(String, String)> = serde_json::from_str(&text).unwrap_or_default();
        let cases = list_tests(&dir, None)?.len();
        return Ok(SuiteMade {
            dir,
            cases,
            dropped,
        });
    }
    let mut made = 0;
    let mut dropped = vec![];
    for case in edgebench_graph::tflite::suite::cases() {
        let t = dir.join(&case.name);
        let data = t.join("test_data_set_0");
        std::fs::create_dir_all(&data).map_err(|e| io(&data, e))?;
        let model = t.join("model.tflite");
        edgebench_graph::write_atomic(&model, &case.model).map_err(|e| io(&model, e))?;
        let feed: Vec<(String, HostTensor)> = case
            .inputs
            .iter()
            .map(|i| {
                let t =
                    edgebench_graph::Tensor::from_raw(&i.name, i.dtype, &i.shape, i.data.clone());
                HostTensor::from_onnx(&t).map(|h| (i.name.clone(), h))
            })
            .collect::<Result<_, _>>()
            .map_err(Error::Usage)?;
        let expected = reference
            .load(&model, &specs_of(&feed))
            .and_then(|mut s| s.run(&feed));
        match expected {
            Ok(outs) => {
                let tensors = feed
                    .iter()
                    .map(|(n, t)| ("input", n, t))
                    .chain(outs.iter().map(|(n, t)| ("output", n, t)));
                let mut k = (0, 0);
                for (side, name, t) in tensors {
                    let i = if side == "input" { &mut k.0 } else { &mut k.1 };
                    let p = data.join(format!("{side}_{i}.pb"));
                    *i += 1;
                    let bytes = edgebench_graph::encode_tensor(&t.to_onnx(name));
                    edgebench_graph::write_atomic(&p, &bytes).map_err(|e| io(&p, e))?;
                }
                made += 1;
            }
            Err(e) => {
                dropped.push((case.name.clone(), e.to_string()));
                let _ = std::fs::remove_dir_all(&t);
            }
        }
    }
    let text = serde_json::to_string(&dropped).unwrap_or_default();
    edgebench_graph::write_atomic(&done, text.as_bytes()).map_err(|e| io(&done, e))?;
    Ok(SuiteMade {
        dir,
        cases: made,
        dropped,
    })
}
