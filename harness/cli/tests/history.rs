//! `edgebench history`: runs recorded in SQLite and read back as series; two jobs adding at once lose nothing.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn bench_run(out: &Path) -> PathBuf {
    let j = json(&[
        "bench",
        "tiny_mlp",
        "--backend",
        "tract",
        "--max-time",
        "0.1",
        "--warmup",
        "0.02",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    out.join(j["run_id"].as_str().unwrap())
}

#[test]
fn runs_are_added_once_and_shown_as_series() {
    let t = tempfile::tempdir().unwrap();
    let db = t.path().join("h.sqlite");
    let db = db.to_str().unwrap();
    let (a, b) = (
        bench_run(&t.path().join("a")),
        bench_run(&t.path().join("b")),
    );
    let (code, out, err) = run(&[
        "history",
        "add",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--db",
        db,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("1 cells added").count(), 2, "{out}");
    // again: nothing new
    let (code, out, _) = run(&["history", "add", a.to_str().unwrap(), "--db", db]);
    assert_eq!(code, 0);
    assert!(out.contains("already in"), "{out}");
    let s = json(&[
        "history", "show", "--model", "tiny_mlp", "--json", "--db", db,
    ]);
    assert_eq!(s.as_array().unwrap().len(), 1, "one series: {s}");
    assert!(
        s[0]["changes"].as_array().unwrap().is_empty(),
        "two points cannot show a change: {s}"
    );
    let points = s[0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 2, "{s}");
    for p in points {
        assert_eq!(
            (p["backend"].as_str(), p["variant"].as_str()),
            (Some("tract"), Some("fp32"))
        );
        assert!(p["median_ns"].as_f64().unwrap() > 0.0);
        assert!(
            p["ci_low_ns"].as_f64() <= p["median_ns"].as_f64()
                && p["median_ns"].as_f64() <= p["ci_high_ns"].as_f64()
        );
        assert_eq!(p["samples_sha256"].as_str().map(str::len), Some(64), "{p}");
    }
    assert!(
        json(&["history", "show", "--backend", "ort", "--json", "--db", db])
            .as_array()
            .unwrap()
            .is_empty()
    );
    // a bad run is one line, exit 3
    let (code, _, err) = run(&["history", "add", "/no/such/run", "--db", db]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(error_lines(&err).len(), 1, "{err}");
}

#[test]
fn two_jobs_adding_at_once_lose_no_row() {
    let t = tempfile::tempdir().unwrap();
    let db = t.path().join("h.sqlite");
    let runs: Vec<PathBuf> = (0..4)
        .map(|i| bench_run(&t.path().join(format!("r{i}"))))
        .collect();
    // Each run recorded under 8 copies (distinct run ids): two jobs, 16 adds each, at the same time.
    let mut copies = vec![];
    for (i, r) in runs.iter().enumerate() {
        for k in 0..8 {
            let dir = t.path().join(format!("copy-{i}-{k}"));
            std::fs::create_dir_all(&dir).unwrap();
            let text = std::fs::read_to_string(r.join("results.json")).unwrap();
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v["run_id"] = format!("copy-{i}-{k}").into();
            std::fs::write(dir.join("results.json"), v.to_string()).unwrap();
            copies.push(dir);
        }
    }
    let (left, right) = copies.split_at(copies.len() / 2);
    let spawn = |part: &[PathBuf]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_edgebench"))
            .args(["history", "add"])
            .args(part)
            .arg("--db")
            .arg(&db)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut x, mut y) = (spawn(left), spawn(right));
    assert!(x.wait().unwrap().success() && y.wait().unwrap().success());
    let all = json(&["history", "show", "--json", "--db", db.to_str().unwrap()]);
    assert_eq!(
        all[0]["points"].as_array().unwrap().len(),
        32,
        "every add of both jobs landed"
    );
}

#[test]
fn the_report_draws_a_trend_per_cell_from_the_history_and_never_writes_it() {
    let t = tempfile::tempdir().unwrap();
    let db = t.path().join("h.sqlite");
    let runs: Vec<PathBuf> = (0..3)
        .map(|i| bench_run(&t.path().join(format!("r{i}"))))
        .collect();
    let mut args = vec!["history".to_string(), "add".into()];
    args.extend(runs.iter().map(|r| r.display().to_string()));
    args.extend(["--db".into(), db.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(run(&args).0, 0);
    let before = std::fs::read(&db).unwrap();
    let html = t.path().join("r.html");
    let (code, _, err) = run(&[
        "report",
        runs[2].to_str().unwrap(),
        "--history",
        db.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(r#"<section id="trends">"#), "trend section");
    assert!(
        page.contains("host/tract/tiny_mlp/fp32</b> · 3 runs"),
        "one chart of 3 runs"
    );
    assert_eq!(page.matches(r#"<figure class="trend">"#).count(), 1);
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no URL in the page"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the history is only read"
    );
    // Trends are HTML only.
    let (code, _, err) = run(&[
        "report",
        runs[2].to_str().unwrap(),
        "--history",
        db.to_str().unwrap(),
        "--format",
        "markdown",
    ]);
    assert_eq!(code, 2, "{err}");
}
