//! Where cells run. A [`Runner`] turns a [`CellRequest`] into a finished child process on its target: this machine
//! ([`local::Local`]), this machine under qemu-user ([`qemu::Qemu`], cells marked emulated), or a board over ssh
//! ([`ssh::Ssh`], which stages the runner, the ONNX Runtime library and the models there first). Staging is the
//! runner's business; the orchestrator only sees requests and outcomes.

pub mod local;
pub mod qemu;
pub mod remote;
pub mod ssh;

use crate::cell::{self, CellRequest, Ended, Finished};
use crate::{Error, ORT_VERSION};
use edgebench_measure::targets::{Runner as RunnerKind, Target};
use edgebench_report::BackendFacts;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// One target's way of running cells.
pub trait Runner {
    /// `local`, `qemu` or `ssh` (results.json's `runner`).
    fn kind(&self) -> &'static str;
    /// Cells run under emulation: their timings say nothing about the board.
    fn emulated(&self) -> bool {
        false
    }
    /// The backends as the runner reports them there (after [`Runner::stage`] for ssh).
    fn facts(&self) -> &[BackendFacts];
    /// Why the target cannot be used at all (an unreachable board); its cells are recorded with this reason.
    fn unreachable(&self) -> Option<&str> {
        None
    }
    /// Copies what the cells need to the target, once before the first cell: `files[i]` is every file a cell of
    /// model `i` may run (the model, its variants, its verified rewrites).
    fn stage(&mut self, _run_id: &str, _files: &[Vec<&std::path::Path>]) {}
    /// Runs one cell. The request names local files; the runner makes the samples and outputs appear there. `Err`
    /// is a target that could not be reached, recorded as the cell's outcome.
    fn run_cell(
        &self,
        req: &CellRequest,
        model_index: usize,
        timeout_s: u64,
    ) -> Result<Finished, RunnerError>;
    /// The command of a cell's child on this machine, with `exe` in place of this binary when given, for the
    /// interleaved mode (`bench --ab`), which drives two children at once. `None`: this runner cannot (the cell runs
    /// elsewhere).
    fn command(&self, _req: &CellRequest, _exe: Option<&std::path::Path>) -> Option<Command> {
        None
    }
    /// This binary on this machine with the runner's settings (its ONNX Runtime library) running `args`, for a
    /// diagnostic pass after a cell (`bench --profile`). `None`: this runner's cells run elsewhere.
    fn edgebench(&self, _args: &[String]) -> Option<Command> {
        None
    }
    /// Cleans up after the last cell.
    fn finish(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Why a runner could not run a cell at all (the cell's child never ran to an end there).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The target could not be reached or talked to, or what the cell needs is not there (the reason).
    #[error("{target}: {reason}")]
    Connection { target: String, reason: String },
}

impl RunnerError {
    /// The exit code recorded for a cell lost this way: 255, the code ssh itself gives a failed connection.
    pub const EXIT_CODE: i32 = 255;
}

/// What preparing runners needs to know about this process.
#[derive(Clone, Debug)]
pub struct Context {
    /// This binary (the local runner).
    pub exe: PathBuf,
    /// The `--ort-lib` setting, passed on to local children.
    pub ort_lib: Option<PathBuf>,
    /// The triple this binary was built for.
    pub host_triple: String,
    /// The backends of this process.
    pub host_facts: Vec<BackendFacts>,
    /// The ONNX Runtime library this process would load, to ship to a board of the same platform.
    pub ort_library: Option<PathBuf>,
    /// The workspace whose `target/<triple>/release` holds cross-built runners.
    pub workspace: PathBuf,
}

impl Context {
    /// The cross-built runner folder for a triple.
    pub fn release_dir(&self, triple: &str) -> PathBuf {
        self.workspace.join("target").join(triple).join("release")
    }
}

/// The runner for a target of targets.toml.
pub fn prepare(name: &str, target: &Target, ctx: &Context) -> Result<Box<dyn Runner>, Error> {
    Ok(match target.runner {
        RunnerKind::Local => Box::new(local::Local::new(ctx)),
        RunnerKind::Qemu => Box::new(qemu::Qemu::new(name, target, ctx)?),
        RunnerKind::Ssh => Box::new(ssh::Ssh::new(name, target, ctx)?),
    })
}

/// The cross-built runner of `triple` and its ONNX Runtime library, if built (`edgebench build`).
fn built_runner(
    name: &str,
    triple: &str,
    ctx: &Context,
) -> Result<(PathBuf, Option<PathBuf>), Error> {
    let dir = ctx.release_dir(triple);
    let bin = dir.join("edgebench");
    if !bin.is_file() {
        return Err(Error::Unavailable(format!(
            "target `{name}`: no runner at {}; run `edgebench build --target {name}` first",
            bin.display()
        )));
    }
    let lib = dir.join(format!("libonnxruntime.so.{ORT_VERSION}"));
    Ok((bin, lib.is_file().then_some(lib)))
}

/// A command line with its environment changes (None: removed).
#[derive(Clone, Debug, Default)]
struct Program {
    argv: Vec<OsString>,
    env: Vec<(String, Option<OsString>)>,
}

impl Program {
    fn command(&self, args: &[String]) -> Command {
        self.command_of(&self.argv[0], args)
    }

    /// The command with another program in place of `argv[0]`.
    fn command_of(&self, program: &std::ffi::OsStr, args: &[String]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(&self.argv[1..]).args(args);
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd
    }
}

/// The backends a runner reports with `doctor --json`.
fn doctor_facts(finished: Finished, where_: &str) -> Result<Vec<BackendFacts>, String> {
    match finished.ended {
        Ended::Exited {
            code: 0, stdout, ..
        } => serde_json::from_str::<serde_json::Value>(&stdout)
            .ok()
            .and_then(|v| serde_json::from_value(v["backends"].clone()).ok())
            .ok_or_else(|| format!("unreadable doctor report from {where_}")),
        Ended::Exited { code, stderr, .. } => Err(format!(
            "the runner's doctor failed on {where_} (exit {code}): {}",
            cell::last_error(&stderr)
        )),
        Ended::Signalled { signal, stderr } => Err(cell::crash_message(signal, &stderr)),
        Ended::TimedOut => Err(format!(
            "the runner's doctor did not answer within {} s on {where_}",
            finished.timeout_s
        )),
        Ended::Interrupted => Err("interrupted".into()),
    }
}

/// The ONNX Runtime library to ship for `target`, given the runner binary's triple.
fn ort_to_ship(target: &Target, lib: Option<PathBuf>) -> Option<PathBuf> {
    lib.filter(|_| target.backends.iter().any(|b| b == "ort"))
}
