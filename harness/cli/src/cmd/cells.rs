//! Running one unit of work in its own child process of `edgebench`, with a timeout: a crash, hang or abort of a
//! backend is that cell's outcome, not the end of the run.

use serde::Serialize;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;
use wait_timeout::ChildExt;

/// How a child ended.
#[derive(Debug)]
pub enum Ended {
    Exited {
        code: i32,
        stdout: String,
        stderr: String,
    },
    Signalled {
        signal: Option<i32>,
        stderr: String,
    },
    TimedOut,
}

/// The outcome of a cell whose child prints a JSON report on success.
#[derive(Serialize, Debug)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Ok {
        report: serde_json::Value,
    },
    Failed {
        exit_code: i32,
        message: String,
    },
    Crashed {
        signal: Option<i32>,
        message: String,
    },
    Timeout {
        seconds: u64,
    },
}

/// The last `edgebench: error: ...` line (else the last non-empty line) of a child's stderr, without the prefix.
pub fn last_error(stderr: &str) -> String {
    let last = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("edgebench: "))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("");
    last.trim_start_matches("edgebench: error: ").to_string()
}

/// What a signalled child's end means: SIGKILL from outside is most often the kernel's out-of-memory killer.
pub fn crash_message(signal: Option<i32>, stderr: &str) -> String {
    let last = last_error(stderr);
    match signal {
        Some(9) => format!(
            "killed by SIGKILL (out of memory?){}",
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        ),
        Some(6) => format!(
            "aborted (SIGABRT){}",
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        ),
        Some(11) => format!(
            "segmentation fault (SIGSEGV){}",
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        ),
        _ => last,
    }
}

/// Spawns `cmd`, drains its pipes, and waits at most `timeout` seconds (then kills it).
pub fn run_cell(mut cmd: Command, timeout: u64) -> (Ended, u64) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return (
                Ended::Exited {
                    code: -1,
                    stdout: String::new(),
                    stderr: format!("could not start: {e}"),
                },
                timeout,
            );
        }
    };
    // Drain both pipes on threads so a chatty child cannot block on a full pipe while we wait.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let t_out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let t_err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = match child.wait_timeout(Duration::from_secs(timeout)) {
        Ok(Some(s)) => s,
        Ok(None) | Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return (Ended::TimedOut, timeout);
        }
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    let ended = match status.code() {
        Some(code) => Ended::Exited {
            code,
            stdout,
            stderr,
        },
        None => {
            #[cfg(unix)]
            let signal = std::os::unix::process::ExitStatusExt::signal(&status);
            #[cfg(not(unix))]
            let signal = None;
            Ended::Signalled { signal, stderr }
        }
    };
    (ended, timeout)
}

/// Reading of a finished cell whose child prints JSON on success.
pub trait IntoOutcome {
    fn into_json_outcome(self) -> Outcome;
}

impl IntoOutcome for (Ended, u64) {
    fn into_json_outcome(self) -> Outcome {
        match self.0 {
            Ended::Exited {
                code: 0, stdout, ..
            } => match serde_json::from_str::<serde_json::Value>(&stdout) {
                Ok(report) => Outcome::Ok { report },
                Err(e) => Outcome::Failed {
                    exit_code: 0,
                    message: format!("unreadable report: {e}"),
                },
            },
            Ended::Exited { code, stderr, .. } => Outcome::Failed {
                exit_code: code,
                message: last_error(&stderr),
            },
            Ended::Signalled { signal, stderr } => Outcome::Crashed {
                signal,
                message: crash_message(signal, &stderr),
            },
            Ended::TimedOut => Outcome::Timeout { seconds: self.1 },
        }
    }
}
