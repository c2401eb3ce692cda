//! The plan library without a backend: the cell protocol against real child processes, and the orchestrator driven
//! through a scripted runner (no child at all), checking outcomes, events, resume and sharding.

use edgebench_bench::cell::{self, CellRequest, Ended, Finished, Measured};
use edgebench_bench::events::{Event, Reporter, ResultsWriter};
use edgebench_bench::orchestrate::{RunInfo, Start, execute};
use edgebench_bench::plan::{CellKey, Plan, PlanModel, Site};
use edgebench_bench::runner::{Runner, RunnerError};
use edgebench_bench::{Error, targets};
use edgebench_measure::energy::PowerModel;
use edgebench_measure::stats::Stats;
use edgebench_report::{BackendFacts, ColdStart, Machine, Memory, Outcome, Partition, Settings};
use std::cell::RefCell;
use std::process::Command;
use std::rc::Rc;

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    c
}

#[test]
fn a_childs_end_is_one_outcome() {
    let ok = cell::spawn(sh("echo '{\"a\": 1}'"), 10);
    assert_eq!(ok.outcome(), Outcome::Ok);
    assert_eq!(ok.report::<serde_json::Value>().unwrap()["a"], 1);
    let failed = cell::spawn(
        sh("echo 'edgebench: error: m.onnx: no such file' >&2; exit 3"),
        10,
    );
    assert_eq!(
        failed.outcome(),
        Outcome::Failed {
            exit_code: 3,
            message: "m.onnx: no such file".into()
        }
    );
    let killed = cell::spawn(sh("kill -9 $$"), 10);
    assert!(
        matches!(killed.outcome(), Outcome::Crashed { signal: Some(9), ref message } if message.contains("SIGKILL")),
        "{:?}",
        killed.outcome()
    );
    let hung = cell::spawn(sh("sleep 30"), 1);
    assert_eq!(hung.outcome(), Outcome::Timeout { seconds: 1 });
    let garbage = cell::spawn(sh("echo not-json"), 10);
    assert!(matches!(
        garbage.report::<Measured>(),
        Err(Outcome::Failed { exit_code: 0, .. })
    ));
    let missing = cell::spawn(Command::new("/nonexistent/edgebench"), 10);
    assert!(matches!(
        missing.outcome(),
        Outcome::Failed { exit_code: -1, .. }
    ));
}

fn request() -> CellRequest {
    CellRequest {
        label: "it's a model".into(),
        model: "/tmp/m x.onnx".into(),
        feed: vec!["onnx::Flatten_0=float32[1,25,96]".into()],
        backend: "tract".into(),
        variant: "fp32".into(),
        seed: 7,
        target_rel_ci: 0.01,
        max_time_s: 1.0,
        warmup_s: 0.1,
        power: PowerModel {
            idle_watts: 1.0,
            active_watts_per_core: 2.0,
        },
        sensor: false,
        target: "host".into(),
        samples: "/tmp/s.txt".into(),
        outputs: "/tmp/o.pb".into(),
        address_space_bytes: Some(1 << 30),
        turns: false,
        threads: None,
    }
}

#[test]
fn a_cell_request_survives_its_command_line_and_a_remote_shell() {
    let req = request();
    let args = req.args();
    assert_eq!(args[0], "bench-cell");
    assert_eq!(CellRequest::parse(&args[2]).unwrap(), req);
    // What ssh hands to the board's shell is split back into exactly these arguments.
    let quoted = edgebench_bench::runner::remote::quote(&args);
    assert_eq!(shlex::split(&quoted).unwrap(), args);
    assert!(matches!(CellRequest::parse("{"), Err(Error::Usage(_))));
}

/// A runner that answers from a script: per backend, a latency in ns, or a failure.
struct Scripted {
    facts: Vec<BackendFacts>,
    calls: Rc<RefCell<Vec<String>>>,
}

fn facts(name: &str, available: bool) -> BackendFacts {
    BackendFacts {
        name: name.into(),
        compiled_in: true,
        available,
        version: available.then(|| "1.0".into()),
        reason: (!available).then(|| "not here".into()),
        details: vec![],
        device: Some(if name == "wonnx" { "gpu" } else { "cpu" }.into()),
        formats: vec![],
    }
}

fn measured(ns: f64) -> String {
    let m = Measured {
        backend_version: "1.0".into(),
        cold_start: ColdStart {
            load_ms: 1.0,
            first_inference_ms: 1.0,
            total_ms: 2.0,
        },
        latency: Stats::from_samples(&[ns; 40]),
        stopped_by: edgebench_measure::sampling::StoppedBy::Precision,
        warmup_iterations: 5,
        memory: Memory {
            baseline_rss_bytes: 1,
            peak_rss_bytes: 2,
            model_added_bytes: 1,
        },
        cpu_user_s: 0.1,
        cpu_sys_s: 0.0,
        energy: PowerModel {
            idle_watts: 1.0,
            active_watts_per_core: 1.0,
        }
        .estimate(1.0, 0.1, 40, "host"),
        split: vec![],
    };
    serde_json::to_string(&m).unwrap()
}

impl Runner for Scripted {
    fn kind(&self) -> &'static str {
        "local"
    }
    fn facts(&self) -> &[BackendFacts] {
        &self.facts
    }
    fn run_cell(
        &self,
        req: &CellRequest,
        _mi: usize,
        timeout_s: u64,
    ) -> Result<Finished, RunnerError> {
        self.calls
            .borrow_mut()
            .push(format!("{}/{}", req.label, req.backend));
        std::fs::write(&req.samples, "1000\n").map_err(|e| RunnerError::Connection {
            target: "scripted".into(),
            reason: e.to_string(),
        })?;
        let ended = match req.backend.as_str() {
            "good" => Ended::Exited {
                code: 0,
                stdout: measured(1000.0),
                stderr: String::new(),
            },
            _ => Ended::Exited {
                code: 5,
                stdout: String::new(),
                stderr: "edgebench: error: m: the backend refused".into(),
            },
        };
        Ok(Finished { ended, timeout_s })
    }
}

fn plan(calls: Rc<RefCell<Vec<String>>>, partition: Option<Partition>) -> Plan {
    let (target, _) = targets::find("host", None).unwrap();
    Plan {
        sites: vec![Site {
            name: "host".into(),
            target,
            runner: Box::new(Scripted {
                facts: vec![
                    facts("good", true),
                    facts("bad", true),
                    facts("gone", false),
                ],
                calls,
            }),
        }],
        requested: ["good", "bad", "gone"]
            .iter()
            .map(|b| (0, b.to_string()))
            .collect(),
        models: ["m1", "m2", "m3"]
            .iter()
            .map(|m| PlanModel {
                name: m.to_string(),
                path: format!("/models/{m}.onnx").into(),
                feed: vec![],
                notes: vec![],
                flops: 2000,
                variants: Default::default(),
                rewrites: Default::default(),
            })
            .collect(),
        variants: vec!["fp32".into()],
        variant_records: vec![],
        compat: vec![],
        settings: Settings {
            targets: vec!["host".into()],
            seed: 0,
            target_rel_ci: 0.01,
            max_time_s: 1.0,
            warmup_s: 0.1,
            cell_timeout_s: 10,
            cell_address_space_bytes: None,
            processes: 1,
            paired: None,
            threads: None,
            profile: false,
        },
        feed_flags: vec![],
        ab: None,
        partition,
    }
}

fn info() -> RunInfo {
    RunInfo {
        machine: Machine {
            cpu: "test".into(),
            logical_cores: 1,
            physical_cores: None,
            memory_bytes: 1,
            os: "test".into(),
            kernel: "test".into(),
            arch: "test".into(),
            governor: None,
            emulated: false,
            backends: vec![],
        },
        edgebench_version: "0".into(),
        git_commit: "test".into(),
    }
}

/// Records event names and the cell count of each results file seen on disk after a cell.
#[derive(Default)]
struct Log {
    events: Vec<String>,
    saved_cells: Vec<usize>,
}

impl Reporter for Log {
    fn report(&mut self, e: &Event<'_>) -> Result<(), Error> {
        self.events.push(match e {
            Event::Warning(w) => format!("warning {w}"),
            Event::PlanStarted { cells, .. } => format!("plan {cells}"),
            Event::CellStarted { key } => format!("start {}", key.id()),
            Event::CellFinished { cell, so_far } => {
                self.saved_cells.push(so_far.cells.len());
                format!("end {}/{}", cell.model, cell.backend)
            }
            Event::RowFinished { cells } => format!("row {}", cells.len()),
            Event::RunFinished { results } => format!("run {}", results.cells.len()),
            Event::Stage(s) => format!("stage {s}"),
        });
        Ok(())
    }
}

#[test]
fn the_orchestrator_runs_every_cell_reports_every_event_and_saves_after_each_cell() {
    let root = tempfile::tempdir().unwrap();
    let calls = Rc::new(RefCell::new(vec![]));
    let mut p = plan(calls.clone(), None);
    let (mut writer, mut log) = (ResultsWriter::default(), Log::default());
    let (results, dir) = execute(
        &mut p,
        Start::New {
            root: root.path().into(),
        },
        info(),
        &mut [&mut writer, &mut log],
    )
    .unwrap();
    // The unavailable backend is a warning, never a cell; the failing one is a cell with its outcome.
    assert_eq!(
        log.events[0],
        "warning host: backend gone is unavailable: not here"
    );
    assert_eq!(log.events[1], "plan 6");
    assert_eq!(log.events[2], "start host/good/m1/fp32");
    assert_eq!(log.events.last().unwrap(), "run 6");
    assert_eq!(
        log.events.iter().filter(|e| e.starts_with("row")).count(),
        3
    );
    assert_eq!(log.saved_cells, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(calls.borrow().len(), 6);
    let good = results.cells.iter().find(|c| c.backend == "good").unwrap();
    assert_eq!(good.outcome, Outcome::Ok);
    assert_eq!(good.roofline.as_ref().unwrap().achieved_gflops, 2.0);
    let bad = results.cells.iter().find(|c| c.backend == "bad").unwrap();
    assert_eq!(
        bad.outcome,
        Outcome::Failed {
            exit_code: 5,
            message: "m: the backend refused".into()
        }
    );
    // What is on disk is what was returned.
    let saved = edgebench_report::load(&dir.join("results.json")).unwrap();
    assert_eq!(saved, results);
    assert_eq!(writer.path.unwrap(), dir.join("results.json"));

    // Resume: only the cells that did not end ok run again.
    calls.borrow_mut().clear();
    let mut again = plan(calls.clone(), None);
    let (resumed, dir2) = execute(
        &mut again,
        Start::Resume { dir: dir.clone() },
        info(),
        &mut [&mut ResultsWriter::default()],
    )
    .unwrap();
    assert_eq!(dir2, dir);
    assert_eq!(
        *calls.borrow(),
        vec!["m1/bad", "m2/bad", "m3/bad"],
        "ok cells are kept"
    );
    assert_eq!(resumed.cells.len(), 6);
    assert_eq!(resumed.run_id, results.run_id);

    // A different plan cannot resume this folder.
    let mut other = plan(calls.clone(), None);
    other.settings.seed = 1;
    let e = execute(&mut other, Start::Resume { dir }, info(), &mut []).unwrap_err();
    assert!(
        matches!(e, Error::Usage(ref m) if m.contains("another plan")),
        "{e}"
    );
}

#[test]
fn shards_split_the_plan_exactly_and_share_its_identity() {
    let calls = Rc::new(RefCell::new(vec![]));
    let whole = plan(calls.clone(), None);
    let mut seen = vec![];
    let shards: Vec<Plan> = (1..=3)
        .map(|i| plan(calls.clone(), Some(Partition { index: i, count: 3 })))
        .collect();
    assert!(shards.windows(2).all(|w| w[0].id() == w[1].id()));
    assert_ne!(
        shards[0].id(),
        whole.id(),
        "the shard count is part of the plan"
    );
    for m in ["m1", "m2", "m3"] {
        for b in ["good", "bad"] {
            let k = CellKey {
                target: "host".into(),
                backend: b.into(),
                model: m.into(),
                variant: "fp32".into(),
            };
            let owners = shards.iter().filter(|s| s.in_shard(&k)).count();
            assert_eq!(owners, 1, "{}", k.id());
            seen.push(k.id());
        }
    }
    assert_eq!(seen.len(), 6);
    let mut reseeded = plan(calls, None);
    assert_eq!(reseeded.id(), whole.id(), "the same plan, the same id");
    reseeded.settings.seed = 9;
    assert_ne!(reseeded.id(), whole.id());
}

#[test]
fn variants_are_checked_and_fp32_is_always_the_baseline() {
    use edgebench_bench::plan::variants;
    assert_eq!(variants(&[]).unwrap(), vec!["fp32"]);
    assert_eq!(variants(&["fp32".into()]).unwrap(), vec!["fp32"]);
    assert!(matches!(variants(&["fp64".into()]), Err(Error::Usage(_))));
}
