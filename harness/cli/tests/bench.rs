//! `edgebench bench`: results that can be trusted and re-read, isolated cells, clear errors.

mod common;
use common::*;
use std::path::Path;

fn bench(out: &Path, extra: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let mut c = edgebench();
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c
        .args([
            "bench",
            "--json",
            "--max-time",
            "0.5",
            "--warmup",
            "0.05",
            "--out",
        ])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code().unwrap_or(-1), v, err)
}

#[test]
fn a_run_is_saved_with_raw_samples_and_never_overwrites_another() {
    let out = tempfile::tempdir().unwrap();
    let (code, j, err) = bench(
        out.path(),
        &[
            "tiny_mlp",
            "small_cnn",
            "--backend",
            "tract",
            "--backend",
            "ort",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(j["format-version"], 2);
    let run_dir = out.path().join(j["run_id"].as_str().unwrap());
    let saved = edgebench_report::load(&run_dir.join("results.json")).unwrap();
    assert_eq!(
        serde_json::to_value(&saved).unwrap(),
        j,
        "stdout and the saved file agree"
    );
    let m = &saved.machine;
    assert!(
        !m.cpu.is_empty() && m.logical_cores >= 1 && m.memory_bytes > 0 && !m.kernel.is_empty()
    );
    assert!(!m.emulated);
    assert!(m.backends.iter().any(|b| b.name == "tract" && b.available));
    assert!(!saved.git_commit.is_empty());
    let with_ort = backend_available("ort");
    assert_eq!(saved.cells.len(), if with_ort { 4 } else { 2 });
    for c in &saved.cells {
        assert_eq!(c.outcome, edgebench_report::Outcome::Ok, "{c:?}");
        let l = c.latency.as_ref().unwrap();
        assert!(
            l.count >= 30 && l.min_ns <= l.p50_ns && l.p50_ns <= l.p99_ns && l.p99_ns <= l.max_ns,
            "{l:?}"
        );
        assert!(l.median_ci95_ns[0] <= l.p50_ns && l.p50_ns <= l.median_ci95_ns[1]);
        // raw samples: one per line, as many as the statistics say; recomputing them gives the same statistics
        let text = std::fs::read_to_string(run_dir.join(c.samples_file.as_ref().unwrap())).unwrap();
        let samples: Vec<f64> = text.lines().map(|s| s.parse().unwrap()).collect();
        assert_eq!(samples.len(), l.count);
        assert_eq!(
            edgebench_measure::stats::Stats::from_samples(&samples).p50_ns,
            l.p50_ns
        );
        let cs = c.cold_start.as_ref().unwrap();
        assert!(cs.total_ms >= cs.load_ms && cs.load_ms > 0.0);
        let mem = c.memory.as_ref().unwrap();
        assert!(mem.peak_rss_bytes >= mem.baseline_rss_bytes && mem.baseline_rss_bytes > 0);
        let e = c.energy.as_ref().unwrap();
        assert!(e.joules_per_inference > 0.0);
        let r = c.roofline.as_ref().unwrap();
        assert!(r.model_flops > 0 && r.achieved_gflops > 0.0 && r.peak_gflops > 0.0);
        if with_ort && c.backend == "tract" {
            assert!(c.agreement.as_ref().unwrap().agree, "{c:?}");
        }
    }
    let (code, j2, err) = bench(out.path(), &["tiny_mlp", "--backend", "tract"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_ne!(j2["run_id"], j["run_id"]);
    assert!(
        run_dir.join("results.json").is_file(),
        "the first run is still there"
    );
}

#[test]
fn crashing_hanging_and_failing_cells_are_outcomes_and_the_run_goes_on() {
    let out = tempfile::tempdir().unwrap();
    for (fault, status) in [
        ("abort", "crashed"),
        ("hang", "timeout"),
        ("exit", "failed"),
    ] {
        let (code, j, err) = bench(
            out.path(),
            &[
                "tiny_mlp",
                "small_cnn",
                "--backend",
                "tract",
                "--timeout",
                "3",
            ],
            &[("EDGEBENCH_FAULT", fault)],
        );
        assert_eq!(code, 0, "{fault}: {err}");
        let cells = j["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 2);
        for c in cells {
            assert_eq!(c["outcome"]["status"], status, "{fault}: {c}");
        }
    }
    // a model the backend cannot load is that cell's outcome; the other models are measured
    let mut m = edgebench_graph::fixtures::tiny_mlp();
    m.graph.nodes[2].op_type = "NoSuchOp".into();
    let bad = out.path().join("unknown_op.onnx");
    edgebench_graph::save(&m, &bad).unwrap();
    let (code, j, err) = bench(
        out.path(),
        &[bad.to_str().unwrap(), "tiny_mlp", "--backend", "tract"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let cells = j["cells"].as_array().unwrap();
    assert_eq!(cells[0]["outcome"]["status"], "failed", "{}", cells[0]);
    assert!(
        cells[0]["outcome"]["message"]
            .as_str()
            .unwrap()
            .contains("NoSuchOp"),
        "{}",
        cells[0]
    );
    assert_eq!(cells[1]["outcome"]["status"], "ok");
    assert!(cells[1]["latency"]["count"].as_u64().unwrap() >= 30);
    if backend_available("wonnx") {
        let (code, j, err) = bench(
            out.path(),
            &[
                "attention_block",
                "--backend",
                "wonnx",
                "--backend",
                "tract",
            ],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        let cells = j["cells"].as_array().unwrap();
        assert_eq!(cells[0]["outcome"]["status"], "failed");
        assert!(
            cells[0]["outcome"]["message"]
                .as_str()
                .unwrap()
                .contains("MatMul")
        );
        assert_eq!(cells[1]["outcome"]["status"], "ok");
    }
}

#[test]
fn target_errors_are_one_line_and_coded() {
    let out = tempfile::tempdir().unwrap();
    let bad = out.path().join("targets.toml");
    std::fs::write(&bad, "[target.x]\ntriple = \"a\"\ncores = \"many\"\n").unwrap();
    let riscv = out.path().join("riscv.toml");
    std::fs::write(
        &riscv,
        "[target.board]\ntriple = \"riscv64gc-unknown-linux-gnu\"\ncores = 4\nbackends = [\"tract\"]\nrunner = \"ssh\"\n\
         power = { idle_watts = 1.0, active_watts_per_core = 1.0 }\npeak_gflops = 1.0\nmem_bandwidth_gbs = 1.0\n\
         ssh = { host = \"board.invalid\" }\n\n[target.emu]\ntriple = \"riscv64gc-unknown-linux-gnu\"\ncores = 4\n\
         backends = [\"tract\"]\nrunner = \"qemu\"\npower = { idle_watts = 1.0, active_watts_per_core = 1.0 }\n\
         peak_gflops = 1.0\nmem_bandwidth_gbs = 1.0\n",
    )
    .unwrap();
    for (args, code, needle) in [
        (
            vec!["--targets", riscv.to_str().unwrap(), "--target", "board"],
            4,
            "edgebench build --target board",
        ),
        (
            vec!["--targets", riscv.to_str().unwrap(), "--target", "emu"],
            4,
            "no qemu-user runner",
        ),
        (vec!["--target", "mars"], 2, "mars"),
        (
            vec!["--targets", bad.to_str().unwrap(), "--target", "x"],
            2,
            "targets.toml:3",
        ),
        (
            vec!["tiny_mlp", "small_cnn", "--feed", "x=float32[1,64]"],
            2,
            "exactly one model",
        ),
        (vec!["/no/model.onnx"], 3, "/no/model.onnx"),
    ] {
        let (c, _, err) = bench(out.path(), &args, &[]);
        let lines = error_lines(&err);
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(lines[0].contains(needle), "{args:?}: {}", lines[0]);
        assert_eq!(c, code, "{args:?}: {}", lines[0]);
    }
    let dirs = std::fs::read_dir(out.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(dirs, 0, "no run folder for a run that did not start");
}

#[test]
fn shards_of_a_plan_cover_it_once_and_merge_and_other_plans_are_refused() {
    let out = tempfile::tempdir().unwrap();
    let models = ["tiny_mlp", "small_cnn", "attention_block"];
    let mut files = vec![];
    let mut seen = vec![];
    for k in 1..=2 {
        let shard = format!("hash:{k}/2");
        let mut args: Vec<&str> = models.to_vec();
        args.extend(["--backend", "tract", "--partition", &shard]);
        let (code, j, err) = bench(out.path(), &args, &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(j["partition"]["index"], k);
        for c in j["cells"].as_array().unwrap() {
            seen.push(c["model"].as_str().unwrap().to_string());
        }
        files.push(
            out.path()
                .join(j["run_id"].as_str().unwrap())
                .join("results.json"),
        );
    }
    seen.sort();
    let mut all: Vec<String> = models.iter().map(|s| s.to_string()).collect();
    all.sort();
    assert_eq!(seen, all, "every cell in exactly one shard");
    let merged = out.path().join("all.json");
    let o = edgebench()
        .arg("merge")
        .args(&files)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = edgebench_report::load(&merged).unwrap();
    assert_eq!(m.cells.len(), 3);
    assert_eq!(m.merged_from.len(), 2);
    for c in &m.cells {
        assert!(
            out.path().join(c.samples_file.as_ref().unwrap()).is_file(),
            "{c:?}"
        );
    }
    // a run of another plan, an existing output, and the same shard twice are refused with one line each
    let (_, j, _) = bench(out.path(), &["tiny_mlp", "--backend", "tract"], &[]);
    let other = out
        .path()
        .join(j["run_id"].as_str().unwrap())
        .join("results.json");
    for (args, needle) in [
        (vec![files[0].clone(), other], "another plan"),
        (vec![files[0].clone(), files[0].clone()], "also in"),
    ] {
        let o = edgebench()
            .arg("merge")
            .args(&args)
            .arg("-o")
            .arg(out.path().join("x.json"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(error_lines(&err)[0].contains(needle), "{err}");
    }
    let o = edgebench()
        .arg("merge")
        .args(&files)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("not overwriting"));
}
