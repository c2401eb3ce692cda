//! Interrupted runs (issue #10): Ctrl-C or SIGTERM of `bench` kills the running cell, saves a valid results.json
//! whose unfinished cells are `interrupted`, exits 130, and `--resume` finishes them; SIGKILL never leaves a
//! half-written results file or a cell running behind.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const INTERRUPTED: i32 = 130;

fn start_hanging_bench(out: &Path) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("edgebench"))
        .env("EDGEBENCH_FAULT", "hang")
        .args(["bench", "tiny_mlp", "small_cnn", "--backend", "tract"])
        .args(["--max-time", "0.2", "--warmup", "0.05", "--out"])
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The run folder once its first results.json exists is not known before; wait for the folder to appear.
fn run_dir(out: &Path) -> PathBuf {
    let t0 = Instant::now();
    loop {
        if let Some(d) = std::fs::read_dir(out)
            .ok()
            .and_then(|mut r| r.next())
            .and_then(|e| e.ok())
        {
            return d.path();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no run folder");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn sigterm_and_sigint_leave_interrupted_cells_that_resume_finishes() {
    for sig in ["-TERM", "-INT"] {
        let out = tempfile::tempdir().unwrap();
        let mut child = start_hanging_bench(out.path());
        let dir = run_dir(out.path());
        // The first cell's child is hanging now (or about to): interrupt the orchestrator.
        std::thread::sleep(Duration::from_millis(1500));
        signal(child.id(), sig);
        let t0 = Instant::now();
        let status = child.wait().unwrap();
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{sig}: slow to stop"
        );
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(INTERRUPTED), "{sig}: {err}");
        assert!(err.contains("--resume"), "{sig}: {err}");
        let r = edgebench_report::load(&dir.join("results.json")).unwrap();
        assert_eq!(r.cells.len(), 2, "{sig}");
        for c in &r.cells {
            assert_eq!(c.outcome, edgebench_report::Outcome::Interrupted, "{sig}");
        }
        // Resume without the fault: both cells run.
        let j = json(&[
            "bench",
            "tiny_mlp",
            "small_cnn",
            "--backend",
            "tract",
            "--max-time",
            "0.2",
            "--warmup",
            "0.05",
            "--resume",
            dir.to_str().unwrap(),
            "--json",
        ]);
        let cells = j["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 2);
        for c in cells {
            assert_eq!(c["outcome"]["status"], "ok", "{sig}: {c}");
        }
    }
}

#[test]
fn sigkill_never_leaves_a_half_written_results_file_or_a_cell_behind() {
    let out = tempfile::tempdir().unwrap();
    let mut child = start_hanging_bench(out.path());
    let dir = run_dir(out.path());
    std::thread::sleep(Duration::from_millis(1500));
    signal(child.id(), "-KILL");
    child.wait().unwrap();
    let p = dir.join("results.json");
    if p.exists() {
        edgebench_report::load(&p).expect("a complete results.json");
    }
    // The hanging cell died with its parent (PR_SET_PDEATHSIG).
    std::thread::sleep(Duration::from_millis(300));
    let ps = std::process::Command::new("pgrep")
        .args(["-f", &format!("bench-cell.*{}", dir.display())])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ps.stdout).trim().is_empty(),
        "a cell outlived its orchestrator"
    );
}
