//! `edgebench report` and `edgebench gate` on real runs: the gate catches an injected slowdown through the real
//! sampling path and keeps quiet on the same run; reports render from saved results; bad inputs get one line and
//! their exit code; nothing is overwritten.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// One bench run of tiny_mlp and attention_block on tract.
fn bench(out: &Path, env: &[(&str, &str)]) -> PathBuf {
    bench_with(out, env, &[])
}

fn bench_with(out: &Path, env: &[(&str, &str)], extra: &[&str]) -> PathBuf {
    let mut c = edgebench();
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c
        .args([
            "bench",
            "tiny_mlp",
            "attention_block",
            "--backend",
            "tract",
            "--max-time",
            "0.4",
            "--warmup",
            "0.05",
            "--json",
            "--out",
        ])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    out.join(j["run_id"].as_str().unwrap())
}

fn gate(base: &Path, cand: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "gate".to_string(),
        "--baseline".into(),
        base.display().to_string(),
        "--candidate".into(),
        cand.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

/// The gate JSON's verdict of `model`'s cell.
fn verdict_of<'a>(g: &'a serde_json::Value, model: &str) -> &'a serde_json::Value {
    g["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["model"] == model)
        .unwrap_or_else(|| panic!("no cell of {model} in {g}"))
}

#[test]
fn the_gate_flags_an_injected_slowdown_and_not_the_same_run() {
    let t = tempfile::tempdir().unwrap();
    let base = bench(t.path(), &[]);
    // 3x: beyond anything this machine's own speed changes (up to 2x between processes) can produce.
    let slow = bench(t.path(), &[("EDGEBENCH_FAULT", "slow:3.0")]);

    // The same run against itself: identical samples, ratio 1, nothing fails.
    let (code, out, err) = gate(&base, &base, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let g: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(g["failures"], 0);
    for c in g["cells"].as_array().unwrap() {
        assert!(
            ["unchanged", "inconclusive"].contains(&c["verdict"].as_str().unwrap()),
            "{c}"
        );
        assert_eq!(c["ratio"], 1.0);
    }

    // 3x the timed region of every sample: regressed, exit 10.
    let md = t.path().join("summary.md");
    let junit = t.path().join("junit.xml");
    let (code, out, err) = gate(
        &base,
        &slow,
        &[
            "--json",
            "--markdown",
            md.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 10, "{err}");
    assert_eq!(error_lines(&err).len(), 1, "{err}");
    let g: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tiny = verdict_of(&g, "tiny_mlp");
    assert_eq!(tiny["verdict"], "regressed", "{tiny}");
    let r = tiny["ratio"].as_f64().unwrap();
    assert!(r > 1.3, "{tiny}");
    // The verdicts are reproducible: same seed, same numbers.
    let (_, again, _) = gate(&base, &slow, &["--json"]);
    let g2: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(g["cells"], g2["cells"]);
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("**regressed**"), "{md}");
    let junit = std::fs::read_to_string(junit).unwrap();
    assert!(junit.contains("<failure type=\"regressed\""), "{junit}");

    // The HTML report of the slow run against the baseline: self-contained, every section, the verdicts.
    let html = t.path().join("r.html");
    let (code, _, err) = run(&[
        "report",
        slow.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&html).unwrap();
    for id in [
        "run", "compat", "rewrites", "cells", "latency", "cold", "variants", "memory", "energy",
        "roofline", "gate", "failures",
    ] {
        assert!(
            text.contains(&format!("<section id=\"{id}\">")),
            "section {id}"
        );
    }
    assert!(text.contains("<svg"), "charts are inline SVG");
    assert!(text.contains("REGRESSION"));
    for external in ["http://", "https://", "src=\"//", "@import", "url("] {
        assert!(
            !text.contains(external),
            "the page must not refer to anything outside itself: {external}"
        );
    }
    // Never over an existing file without --force; never over the input.
    let (code, _, err) = run(&[
        "report",
        slow.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already exists"), "{err}");
    let input = slow.join("results.json");
    let before = std::fs::read(&input).unwrap();
    let (code, _, err) = run(&[
        "report",
        input.to_str().unwrap(),
        "-o",
        input.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(std::fs::read(&input).unwrap(), before);
    // The default HTML output is report.html in the run folder; Markdown and JUnit go to stdout.
    let (code, _, err) = run(&["report", base.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(base.join("report.html").is_file());
    let (code, out, _) = run(&["report", base.to_str().unwrap(), "--format", "junit"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("<?xml") && out.contains("<testcase"),
        "{out}"
    );
    let (code, out, _) = run(&["report", base.to_str().unwrap(), "--format", "markdown"]);
    assert_eq!(code, 0);
    assert!(out.contains("| model | variant |"), "{out}");
}

#[test]
fn cells_of_several_processes_are_compared_by_their_best_process() {
    let t = tempfile::tempdir().unwrap();
    let procs = ["--processes", "3"];
    let base = bench_with(t.path(), &[], &procs);
    let slow = bench_with(t.path(), &[("EDGEBENCH_FAULT", "slow:3.0")], &procs);
    let r = edgebench_report::load(&base.join("results.json")).unwrap();
    assert_eq!(r.settings.processes, 3);
    for c in &r.cells {
        assert_eq!(c.processes.len(), 3, "{c:?}");
        let lines = std::fs::read_to_string(base.join(c.samples_file.as_ref().unwrap()))
            .unwrap()
            .lines()
            .count();
        assert_eq!(lines, c.processes.iter().map(|p| p.samples).sum::<usize>());
        assert_eq!(c.latency.as_ref().unwrap().count, lines);
    }
    // No per-process files are left behind.
    let extra: Vec<_> = std::fs::read_dir(base.join("samples"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".p"))
        .collect();
    assert!(extra.is_empty(), "{extra:?}");
    let (code, out, err) = gate(&base, &slow, &["--json"]);
    assert_eq!(code, 10, "{err}");
    let g: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tiny = verdict_of(&g, "tiny_mlp");
    assert_eq!(tiny["verdict"], "regressed", "{tiny}");
    let (code, _, err) = gate(&base, &base, &[]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn unusable_inputs_are_one_line_errors_with_exit_3() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("nope.json");
    let (code, _, err) = gate(&missing, &missing, &[]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(error_lines(&err).len(), 1, "{err}");
    assert!(err.contains("nope.json"), "{err}");

    let old = t.path().join("old.json");
    std::fs::write(&old, r#"{"format-version": 1, "cells": []}"#).unwrap();
    let (code, _, err) = gate(&old, &old, &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("format-version 1"), "{err}");

    let junk = t.path().join("junk.json");
    std::fs::write(&junk, "not json").unwrap();
    let (code, _, err) = run(&["report", junk.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("junk.json"), "{err}");

    // Two real runs with nothing in common.
    let a = bench(t.path(), &[]);
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("results.json")).unwrap()).unwrap();
    for c in other["cells"].as_array_mut().unwrap() {
        c["target"] = "elsewhere".into();
    }
    let b = t.path().join("other.json");
    std::fs::write(&b, other.to_string()).unwrap();
    let (code, _, err) = gate(&a, &b, &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no cell in common"), "{err}");

    let (code, _, err) = gate(&a, &a, &["--threshold", "lots"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn an_interleaved_session_is_judged_turn_by_turn() {
    let t = tempfile::tempdir().unwrap();
    let ab = ["--ab", "--b-env", "EDGEBENCH_FAULT=slow:3.0"];
    let a_dir = bench_with(t.path(), &[], &ab);
    let a = edgebench_report::load(&a_dir.join("results.json")).unwrap();
    let pa = a
        .settings
        .paired
        .clone()
        .expect("side a records its session");
    assert_eq!(pa.side, "a");
    assert_eq!(pa.b_env, vec!["EDGEBENCH_FAULT=slow:3.0".to_string()]);
    // Cells stop once the gate's default threshold decides them.
    assert_eq!(pa.threshold, Some(0.05));
    let b_dir = t.path().join(&pa.other_run);
    let b = edgebench_report::load(&b_dir.join("results.json")).unwrap();
    let pb = b
        .settings
        .paired
        .clone()
        .expect("side b records its session");
    assert_eq!(
        (pb.side.as_str(), pb.session.as_str()),
        ("b", pa.session.as_str())
    );
    assert_eq!(pb.other_run, a.run_id);
    assert_eq!(a.cells.len(), b.cells.len());
    for (ca, cb) in a.cells.iter().zip(&b.cells) {
        assert_eq!((&ca.model, &ca.backend), (&cb.model, &cb.backend));
        // Turns alternate, so both sides took as many; at least 8 each.
        assert_eq!(ca.turns.len(), cb.turns.len(), "{ca:?}");
        assert!(ca.turns.len() >= 8, "{ca:?}");
        for (dir, c) in [(&a_dir, ca), (&b_dir, cb)] {
            let lines = std::fs::read_to_string(dir.join(c.samples_file.as_ref().unwrap()))
                .unwrap()
                .lines()
                .count();
            assert_eq!(lines, c.turns.iter().map(|p| p.samples).sum::<usize>());
            assert_eq!(c.latency.as_ref().unwrap().count, lines);
        }
        // tract is its own reference here (one backend): no agreement, but the outcome is ok on both sides.
        assert_eq!(ca.outcome, edgebench_report::Outcome::Ok);
        assert_eq!(cb.outcome, edgebench_report::Outcome::Ok);
    }
    // Side b is 3x slower in every turn: regressed, compared turn by turn.
    let (code, out, err) = gate(&a_dir, &b_dir, &["--json"]);
    assert_eq!(code, 10, "{err}");
    let g: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(g["interleaved"], true);
    assert_eq!(g["single_process_cells"], 0);
    for c in g["cells"].as_array().unwrap() {
        assert_eq!(c["verdict"], "regressed", "{c}");
        assert!(c["ratio"].as_f64().unwrap() > 2.0, "{c}");
        assert!(
            c["reason"].as_str().unwrap().contains("interleaved turns"),
            "{c}"
        );
    }
    // The other way round: improved, and nothing fails.
    let (code, out, err) = gate(&b_dir, &a_dir, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("improved"), "{out}");
    assert!(out.contains("interleaved session"), "{out}");

    // An A/A session: side b as is. Far from any 50 % limit; the gate says the session stopped on another one.
    let aa = bench_with(t.path(), &[], &["--ab"]);
    let r = edgebench_report::load(&aa.join("results.json")).unwrap();
    let other = t.path().join(&r.settings.paired.unwrap().other_run);
    let (code, out, err) = gate(&aa, &other, &["--threshold", "50%"]);
    assert_eq!(code, 0, "{err}\n{out}");
    assert!(!out.contains("regressed"), "{out}");
    assert!(
        format!("{out}{err}").contains("decided at a 5.0 % threshold"),
        "{out}{err}"
    );
    // Without a threshold only --ci and --max-time stop a cell, and none is recorded.
    let plain = bench_with(t.path(), &[], &["--ab", "--threshold", "none"]);
    let r = edgebench_report::load(&plain.join("results.json")).unwrap();
    assert_eq!(r.settings.paired.unwrap().threshold, None);
}

#[test]
fn bad_interleaved_sessions_are_one_line_usage_errors() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().to_str().unwrap();
    for (args, says) in [
        (vec!["--ab", "--b-env", "NOEQUALS"], "KEY=VALUE"),
        (
            vec!["--ab", "--b-exe", "/nonexistent/edgebench"],
            "/nonexistent/edgebench",
        ),
        (vec!["--ab", "--processes", "2"], "--processes"),
        (vec!["--ab", "--threshold", "lots"], "--threshold lots"),
        (vec!["--ab", "--target", "pi4-qemu"], "pi4-qemu"),
        (vec!["--b-env", "A=1"], "--ab"),
    ] {
        let mut a = vec!["bench", "tiny_mlp", "--backend", "tract", "--out", out];
        a.extend(args.iter());
        let (code, _, err) = run(&a);
        assert_eq!(code, 2, "{a:?}: {err}");
        assert!(err.contains(says), "{a:?}: {err}");
        if !args.contains(&"A=1") {
            assert_eq!(error_lines(&err).len(), 1, "{a:?}: {err}");
        }
    }
    // Nothing was created for the refused sessions.
    assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
}

#[test]
fn a_slowdown_injected_into_one_cell_slows_that_cell_only() {
    let t = tempfile::tempdir().unwrap();
    let base = bench(t.path(), &[]);
    // 6x on tract/tiny_mlp only: even with this machine's 2x swings between processes, tiny_mlp's ratio stays
    // above 3 and attention_block's below 2.5.
    let slow = bench(t.path(), &[("EDGEBENCH_FAULT", "slow:6@tract/tiny_mlp")]);
    let (_, out, err) = gate(&base, &slow, &["--json"]);
    let g: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    let ratio = |m: &str| verdict_of(&g, m)["ratio"].as_f64().unwrap();
    assert!(ratio("tiny_mlp") > 3.0, "{g}");
    assert!(ratio("attention_block") < 2.5, "{g}");
}
