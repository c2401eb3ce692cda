//! Shared helpers for the CLI tests.
#![allow(dead_code)]

use assert_cmd::Command;
use std::path::PathBuf;

/// In CI (`EDGEBENCH_CI=1`, set by ci/test.sh) every capability must be present: a missing one fails the test.
/// Elsewhere a test that needs it says loudly that it did not run.
pub fn require(what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    if std::env::var("EDGEBENCH_CI").is_ok_and(|v| v == "1") {
        panic!("EDGEBENCH_CI=1 but {what} is not available here");
    }
    eprintln!("NOT RUN: {what} is not available (set up with ci/setup.sh; CI requires it)");
    false
}

pub fn edgebench() -> Command {
    let mut c = Command::cargo_bin("edgebench").unwrap();
    c.env_remove("EDGEBENCH_LOG");
    c
}

/// Runs and returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = edgebench().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "edgebench {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("edgebench {args:?}: {e}: {out}"))
}

pub fn backend_available(name: &str) -> bool {
    let d = json(&["doctor", "--json"]);
    d["backends"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["name"] == name && b["available"] == true)
}

/// The error lines edgebench printed (ignoring driver chatter such as Mesa's XDG_RUNTIME_DIR notice).
pub fn error_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("edgebench:"))
        .map(str::to_string)
        .collect()
}

pub fn zoo_path(name: &str) -> Option<PathBuf> {
    let list = json(&["models", "list", "--json"]);
    list.as_array()?.iter().find(|m| m["name"] == name)?["cached"]
        .as_str()
        .map(PathBuf::from)
}
