//! `edgebench probe --backend B`: the ONNX conformance node suite on one backend, each test in its own child
//! process (`edgebench probe-one`), regenerating the probed part of the backend's support table.

use super::cells::{Ended, last_error, run_cell};
use super::{fetcher, manifest};
use crate::exit::{BAD_MODEL, USAGE, fail};
use anyhow::Result;
use edgebench_backend_api::{HostTensor, InputSpec, Registry};
use edgebench_compat::probe::{Status, TestOutcome, summary_line, table_from_probe};
use edgebench_compat::table::{Header, SupportTable};
use edgebench_graph::{DataType, ValueType};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Outputs match when |got - want| <= ATOL + RTOL * |want| everywhere (NaN matches NaN).
pub const RTOL: f64 = 1e-3;
pub const ATOL: f64 = 1e-5;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Backend to probe.
    #[arg(long, short)]
    backend: String,
    /// The node-test folder (default: the cached `onnx-conformance` data; `edgebench models fetch onnx-conformance`).
    #[arg(long, value_name = "DIR")]
    tests: Option<PathBuf>,
    /// Only tests whose folder name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Parallel child processes (default: the number of CPUs).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Seconds before a test is stopped and recorded as a timeout.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Where to write the regenerated table (default: backends/<B>/ops.toml under the current folder). Hand-kept
    /// constraints of the existing file are kept.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write every test's outcome as JSON lines here.
    #[arg(long, value_name = "FILE")]
    outcomes: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct OneArgs {
    #[arg(long, short)]
    backend: String,
    /// One conformance test folder (model.onnx + test_data_set_0/).
    dir: PathBuf,
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
fn meta(model: &edgebench_graph::Model) -> (Option<(String, String)>, Option<i64>, Option<String>) {
    let op = (model.graph.nodes.len() == 1).then(|| {
        let n = &model.graph.nodes[0];
        (
            edgebench_compat::table::domain_name(&n.domain).to_string(),
            n.op_type.clone(),
        )
    });
    let opset = model
        .graph
        .nodes
        .first()
        .and_then(|n| model.opset(&n.domain));
    let first = model
        .graph
        .nodes
        .first()
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

/// Runs one test in this process and classifies it (used by the child).
pub fn probe_one(a: OneArgs, registry: &Registry) -> Result<()> {
    super::injected_fault();
    let test = a
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let model_path = a.dir.join("model.onnx");
    let model = edgebench_graph::load(&model_path).map_err(|e| fail(BAD_MODEL, e))?;
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
    let emit = |o: &TestOutcome| -> Result<()> {
        println!("{}", serde_json::to_string(o)?);
        Ok(())
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
            return emit(&outcome);
        }
    }
    let data = a.dir.join("test_data_set_0");
    let (feed, want) = match (read_tensors(&data, "input"), read_tensors(&data, "output")) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), _) | (_, Err(e)) => {
            outcome.detail = format!("type: {e}");
            return emit(&outcome);
        }
    };
    let feed: Vec<(String, HostTensor)> = inputs.iter().map(|v| v.name.clone()).zip(feed).collect();
    let specs: Vec<InputSpec> = feed
        .iter()
        .map(|(n, t)| InputSpec {
            name: n.clone(),
            dtype: t.dtype(),
            shape: t.shape.clone(),
        })
        .collect();
    let (backend, _) = super::run::available(registry, &a.backend)?;
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
                return emit(&outcome);
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
        for (x, y) in g.to_f64().iter().zip(w.to_f64()) {
            if x.is_nan() && y.is_nan() || x == &y {
                continue;
            }
            let d = (x - y).abs();
            let excess = if d.is_nan() {
                f64::INFINITY
            } else {
                d - (ATOL + RTOL * y.abs())
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
    emit(&outcome)
}

/// Reruns a test with every runtime input after the first (the data), and the first too when it is an integer
/// tensor (a shape, as for ConstantOfShape), turned into an initializer holding the test's values; None if that
/// changes nothing.
fn with_params_baked(
    model: &edgebench_graph::Model,
    backend: &dyn edgebench_backend_api::Backend,
    feed: &[(String, HostTensor)],
) -> Option<Result<Vec<(String, HostTensor)>, String>> {
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
        let specs: Vec<InputSpec> = rest
            .iter()
            .map(|(n, t)| InputSpec {
                name: n.clone(),
                dtype: t.dtype(),
                shape: t.shape.clone(),
            })
            .collect();
        backend
            .load(&path, &specs)
            .and_then(|mut s| s.run(&rest))
            .map_err(|e| e.to_string())
    })())
}

fn list_tests(dir: &Path, filter: Option<&str>) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| fail(USAGE, format!("{}: {e}", dir.display())))?;
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("model.onnx").is_file())
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

pub fn run(a: Args, registry: &Registry, ort_lib: Option<&Path>) -> Result<()> {
    let (backend, version) = super::run::available(registry, &a.backend)?;
    let name = backend.name();
    let tests_dir = match &a.tests {
        Some(d) => d.clone(),
        None => {
            let c = fetcher()
                .fetch_conformance(&manifest().conformance)
                .map_err(|e| fail(crate::exit::FETCH_FAILED, e))?;
            c.node_dir
        }
    };
    let tests = list_tests(&tests_dir, a.filter.as_deref())?;
    if tests.is_empty() {
        return Err(fail(
            USAGE,
            format!(
                "{}: no conformance tests (model.onnx folders) match",
                tests_dir.display()
            ),
        ));
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("backends/{name}/ops.toml")));
    let previous = match std::fs::read_to_string(&out) {
        Ok(text) => Some(
            SupportTable::parse(&text, &out.display().to_string()).map_err(|e| fail(USAGE, e))?,
        ),
        Err(_) => edgebench_compat::embedded(name).and_then(Result::ok),
    };
    let jobs = a
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let exe = std::env::current_exe()?;
    let bar = indicatif::ProgressBar::new(tests.len() as u64);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "probe {msg} [{bar:30}] {pos}/{len} {elapsed} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(name.to_string());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<TestOutcome>> = Mutex::new(vec![]);
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(dir) = tests.get(i) else { break };
                    let mut cmd = Command::new(&exe);
                    cmd.args(["probe-one", "--backend", name]).arg(dir);
                    if let Some(l) = ort_lib {
                        cmd.arg("--ort-lib").arg(l);
                    }
                    let outcome = classify(dir, run_cell(cmd, a.timeout).0, a.timeout);
                    if let Ok(mut r) = results.lock() {
                        r.push(outcome);
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut outcomes = results.into_inner().unwrap_or_default();
    outcomes.sort_by(|a, b| a.test.cmp(&b.test));
    let host = super::doctor::host();
    let adapter = match backend.availability() {
        edgebench_backend_api::Availability::Available { details, .. } => details
            .iter()
            .find(|(k, _)| k == "adapter")
            .map(|(_, v)| format!(", adapter {v}"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let header = Header {
        backend: name.into(),
        version,
        probed_with: format!(
            "onnx {} node tests ({} run)",
            manifest().conformance.version,
            outcomes.len()
        ),
        probed_on: format!(
            "{} ({} cores), {}{adapter}",
            host.cpu, host.logical_cores, host.arch
        ),
        tolerance: format!("|got - expected| <= {ATOL:e} + {RTOL:e} * |expected|"),
        probe_summary: summary_line(&outcomes),
        max_opset: None,
    };
    let table = table_from_probe(header, &outcomes, previous.as_ref(), a.filter.is_some());
    if let Some(p) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(p).map_err(|e| fail(USAGE, format!("{}: {e}", p.display())))?;
    }
    edgebench_graph::write_atomic(&out, table.to_toml().as_bytes())
        .map_err(|e| fail(USAGE, format!("{}: {e}", out.display())))?;
    if let Some(p) = &a.outcomes {
        let lines: Vec<String> = outcomes
            .iter()
            .filter_map(|o| serde_json::to_string(o).ok())
            .collect();
        edgebench_graph::write_atomic(p, (lines.join("\n") + "\n").as_bytes())
            .map_err(|e| fail(USAGE, format!("{}: {e}", p.display())))?;
    }
    let supported = table.op.iter().filter(|e| e.supported).count();
    println!(
        "{name}: {} tests in {:.0} s: {}\n{}: {supported} of {} ops supported; table written to {}",
        outcomes.len(),
        started.elapsed().as_secs_f64(),
        summary_line(&outcomes),
        name,
        table.op.len(),
        out.display()
    );
    Ok(())
}

fn classify(dir: &Path, ended: Ended, timeout: u64) -> TestOutcome {
    let test = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = |status, detail: String| {
        let (op, opset, dtype) = edgebench_graph::load(&dir.join("model.onnx"))
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
    match ended {
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
                super::cells::crash_message(signal, &stderr)
            ),
        ),
        Ended::TimedOut => base(Status::Timeout, format!("no result within {timeout} s")),
    }
}
