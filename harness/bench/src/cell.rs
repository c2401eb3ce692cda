//! The cell protocol, in one place: how a child process is started and waited for ([`spawn`]), how its end becomes
//! the one [`Outcome`] type, what a bench cell's child is asked ([`CellRequest`], its command line) and what it
//! answers on stdout ([`Measured`]), and the measuring it does in its own small process ([`measure`]).

use crate::Error;
use edgebench_backend_api::{HostTensor, Session};
use edgebench_measure::energy::{Energy, PowerModel, Sensor};
use edgebench_measure::process;
use edgebench_measure::sampling::{self, StoppedBy};
use edgebench_measure::stats::Stats;
use edgebench_report::{ColdStart, Memory, Outcome};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
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
    /// Killed because the run was interrupted.
    Interrupted,
}

/// A child that ended, and the timeout it had.
#[derive(Debug)]
pub struct Finished {
    pub ended: Ended,
    pub timeout_s: u64,
}

impl Finished {
    /// The cell's outcome: `Ok` when the child exited 0, else why not (its last error line, the signal, the timeout).
    pub fn outcome(&self) -> Outcome {
        match &self.ended {
            Ended::Exited { code: 0, .. } => Outcome::Ok,
            Ended::Exited { code, stderr, .. } => Outcome::Failed {
                exit_code: *code,
                message: last_error(stderr),
            },
            Ended::Signalled { signal, stderr } => Outcome::Crashed {
                signal: *signal,
                message: crash_message(*signal, stderr),
            },
            Ended::TimedOut => Outcome::Timeout {
                seconds: self.timeout_s,
            },
            Ended::Interrupted => Outcome::Interrupted,
        }
    }

    /// The child's report on stdout, when it exited 0.
    pub fn stdout(&self) -> Option<&str> {
        match &self.ended {
            Ended::Exited {
                code: 0, stdout, ..
            } => Some(stdout.trim()),
            _ => None,
        }
    }

    /// The outcome with the child's JSON report parsed; an unreadable report is a failure.
    pub fn report<T: serde::de::DeserializeOwned>(&self) -> Result<T, Outcome> {
        match self.stdout() {
            Some(s) => serde_json::from_str(s).map_err(|e| Outcome::Failed {
                exit_code: 0,
                message: format!("unreadable cell report: {e}"),
            }),
            None => Err(self.outcome()),
        }
    }
}

/// One line for an outcome that is not `Ok`.
pub fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Ok => "ok".into(),
        Outcome::Failed { exit_code, message } => format!("failed (exit {exit_code}): {message}"),
        Outcome::Crashed { signal, message } => format!(
            "crashed (signal {}): {message}",
            signal.map(|s| s.to_string()).unwrap_or("?".into())
        ),
        Outcome::Timeout { seconds } => format!("timeout after {seconds} s"),
        Outcome::Interrupted => "interrupted".into(),
    }
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
    let what = match signal {
        Some(9) => "killed by SIGKILL (out of memory?)",
        Some(6) => "aborted (SIGABRT)",
        Some(11) => "segmentation fault (SIGSEGV)",
        _ => return last,
    };
    if last.is_empty() {
        what.into()
    } else {
        format!("{what}: {last}")
    }
}

/// Spawns `cmd`, drains its pipes, and waits at most `timeout_s` seconds (then kills it).
pub fn spawn(mut cmd: Command, timeout_s: u64) -> Finished {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let finished = |ended| Finished { ended, timeout_s };
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the child when this process dies, so
        // a killed orchestrator never leaves a cell running (or hanging) behind.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    if crate::interrupted() {
        return finished(Ended::Interrupted);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return finished(Ended::Exited {
                code: -1,
                stdout: String::new(),
                stderr: format!("could not start: {e}"),
            });
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
    let t_out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let t_err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    // Wait in short slices so that an interruption kills the child promptly.
    let deadline = Instant::now() + Duration::from_secs(timeout_s);
    let status = loop {
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        match child.wait_timeout(slice) {
            Ok(Some(s)) => break s,
            Ok(None) if crate::interrupted() => {
                let _ = child.kill();
                let _ = child.wait();
                return finished(Ended::Interrupted);
            }
            Ok(None) if Instant::now() < deadline => continue,
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return finished(Ended::TimedOut);
            }
        }
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    finished(ended(status, stdout, stderr))
}

/// How a child that exited ended: its code and output, or the signal that killed it.
fn ended(status: std::process::ExitStatus, stdout: String, stderr: String) -> Ended {
    match status.code() {
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
    }
}

/// What a bench cell's child is asked to measure. It travels as one JSON argument of the hidden `bench-cell`
/// command, so local, qemu and ssh runners pass it the same way.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CellRequest {
    /// The model's name in messages.
    pub label: String,
    /// The model file, as the child sees it.
    pub model: String,
    /// The resolved feed, `NAME=DTYPE[SHAPE]...`, spelled out (the child needs no manifest).
    pub feed: Vec<String>,
    pub backend: String,
    pub variant: String,
    pub seed: u64,
    pub target_rel_ci: f64,
    pub max_time_s: f64,
    pub warmup_s: f64,
    pub power: PowerModel,
    /// Read RAPL/hwmon when present.
    pub sensor: bool,
    pub target: String,
    /// Where the child writes its raw samples (nanoseconds, one per line) and outputs (ONNX tensors).
    pub samples: String,
    pub outputs: String,
    /// The child limits its own address space to this many bytes first (`RLIMIT_AS`), so that an allocation
    /// beyond it fails in the child (a cell outcome with a message) instead of the kernel's OOM killer.
    #[serde(default)]
    pub address_space_bytes: Option<u64>,
    /// Interleaved mode (`bench --ab`): after the warm-up the child prints `ready`, then times one turn per
    /// `turn MS [CPU]` line on stdin (its model-running thread moved to CPU first; answering `turned N MEDIAN_NS`)
    /// until `end`; then it reports as usual.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub turns: bool,
    /// Threads per inference for backends that take a count (ONNX Runtime's intra-op pool); `None`: theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
}

impl CellRequest {
    /// The child's command line after the program: `bench-cell --request JSON`.
    pub fn args(&self) -> Vec<String> {
        vec![
            "bench-cell".into(),
            "--request".into(),
            serde_json::to_string(self).unwrap_or_default(),
        ]
    }

    /// Reads the `--request` argument.
    pub fn parse(json: &str) -> Result<CellRequest, Error> {
        serde_json::from_str(json).map_err(|e| Error::Usage(format!("bench-cell --request: {e}")))
    }
}

/// What a bench cell's child prints on stdout on success.
#[derive(Serialize, Deserialize, Debug)]
pub struct Measured {
    pub backend_version: String,
    pub cold_start: ColdStart,
    pub latency: Stats,
    pub stopped_by: StoppedBy,
    pub warmup_iterations: usize,
    pub memory: Memory,
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    pub energy: Energy,
    /// For a split backend: each backend's partitions and time per inference.
    #[serde(default)]
    pub split: Vec<edgebench_report::SplitPart>,
}

/// Measures one cell in this (fresh, small) process: cold start (`load` + first run), outputs saved, warm-up,
/// adaptive sampling, CPU time, energy and peak memory. `baseline_rss` is the process's RSS before the model was
/// touched; the peak was reset by the caller at the same moment.
pub fn measure(
    req: &CellRequest,
    version: String,
    baseline_rss: u64,
    load: impl FnOnce() -> Result<Box<dyn Session>, String>,
    feed: &[(String, HostTensor)],
) -> Result<Measured, Error> {
    let label = &req.label;
    let failed = |e: String| Error::Backend(format!("{label}: {e}"));
    let t0 = Instant::now();
    let mut session = load().map_err(failed)?;
    let t1 = Instant::now();
    let outs = session.run(feed).map_err(|e| failed(e.to_string()))?;
    let t2 = Instant::now();
    let after_load = process::status_bytes("VmRSS").unwrap_or(0);
    edgebench_backend_api::save_tensors(Path::new(&req.outputs), &outs)
        .map_err(|e| Error::Usage(format!("{}: {e}", req.outputs)))?;
    let plan = sampling::Plan {
        warmup: Duration::from_secs_f64(req.warmup_s),
        target_rel_ci: req.target_rel_ci,
        max_time: Duration::from_secs_f64(req.max_time_s),
        stretch: crate::injected_slowdown(&req.backend, &req.label, &req.variant),
        ..Default::default()
    };
    let sensor = if req.sensor {
        Sensor::find(
            Path::new("/sys/class/powercap"),
            Path::new("/sys/class/hwmon"),
        )
    } else {
        None
    };
    let run_err = |e: edgebench_backend_api::BackendError| failed(e.to_string());
    let warmup_iters = sampling::warm_up(&plan, || session.run(feed).map(drop)).map_err(run_err)?;
    // CPU time and energy cover the sampling phase only, like the latency samples.
    let u0 = process::usage();
    let reading = sensor.as_ref().and_then(Sensor::start);
    let parts0 = session.parts();
    let sampled = if req.turns {
        take_turns(&plan, || session.run(feed).map(drop)).map_err(|e| match e {
            TurnError::Run(e) => run_err(e),
            TurnError::Io(e) => Error::Usage(format!("{label}: turn protocol: {e}")),
        })?
    } else {
        sampling::measure(&plan, || session.run(feed).map(drop)).map_err(run_err)?
    };
    let parts1 = session.parts();
    let wall = sampled.wall.as_secs_f64();
    let used = process::usage().since(&u0);
    let n = sampled.samples_ns.len();
    let energy = match (&sensor, &reading) {
        (Some(s), Some(r)) => s.finish(r, wall, n),
        _ => None,
    }
    .unwrap_or_else(|| req.power.estimate(wall, used.cpu_s(), n, &req.target));
    let peak = process::status_bytes("VmHWM").unwrap_or(process::usage().max_rss_bytes);
    edgebench_report::samples::write(Path::new(&req.samples), &sampled.samples_ns)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let latency = Stats::from_samples(&sampled.samples_ns);
    let split = parts1
        .iter()
        .zip(&parts0)
        .map(|(p1, p0)| {
            let per = (p1.seconds - p0.seconds) / n.max(1) as f64 * 1e3;
            edgebench_report::SplitPart {
                backend: p1.backend.clone(),
                partitions: p1.partitions,
                nodes: p1.nodes,
                ms_per_inference: per,
                share: per / (latency.mean_ns / 1e6).max(f64::MIN_POSITIVE),
                note: p1.note.clone(),
            }
        })
        .collect();
    Ok(Measured {
        backend_version: version,
        cold_start: ColdStart {
            load_ms: ms(t1 - t0),
            first_inference_ms: ms(t2 - t1),
            total_ms: ms(t2 - t0),
        },
        latency,
        stopped_by: sampled.stopped_by,
        warmup_iterations: warmup_iters,
        memory: Memory {
            baseline_rss_bytes: baseline_rss,
            peak_rss_bytes: peak,
            model_added_bytes: after_load as i64 - baseline_rss as i64,
        },
        cpu_user_s: used.user_s,
        cpu_sys_s: used.sys_s,
        energy,
        split,
    })
}

enum TurnError<E> {
    Run(E),
    Io(std::io::Error),
}

/// The child's side of the turn protocol (see [`CellRequest::turns`]).
fn take_turns<E>(
    plan: &sampling::Plan,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<sampling::Sampled, TurnError<E>> {
    use std::io::{BufRead, Write};
    let io = TurnError::Io;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").map_err(io)?;
    out.flush().map_err(io)?;
    let mut samples: Vec<f64> = vec![];
    // Only this side's turns count as its sampling time (energy, watts): the other side's turns are not its own.
    let mut busy = Duration::ZERO;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(io)?;
        let mut w = line.split_whitespace();
        match (w.next(), w.next().and_then(|x| x.parse::<f64>().ok())) {
            (Some("turn"), Some(ms)) => {
                if let Some(cpu) = w.next().and_then(|x| x.parse::<usize>().ok()) {
                    pin_this_thread(cpu);
                }
                // Small models re-warm after the other side's turn (its caches are gone); big ones need not.
                let rewarm = samples.last().is_none_or(|&last| last < 2e6);
                let dur = Duration::from_secs_f64(ms.max(0.0) / 1e3);
                let t0 = Instant::now();
                let t = sampling::turn(plan, dur, rewarm, &mut f).map_err(TurnError::Run)?;
                busy += t0.elapsed();
                samples.extend_from_slice(&t);
                let mut sorted = t.clone();
                sorted.sort_by(f64::total_cmp);
                let median = edgebench_measure::stats::percentile(&sorted, 50.0);
                writeln!(out, "turned {} {median}", t.len()).map_err(io)?;
                out.flush().map_err(io)?;
            }
            (Some("end"), _) => break,
            _ => {
                return Err(io(std::io::Error::other(format!(
                    "unexpected line {line:?}"
                ))));
            }
        }
    }
    if samples.is_empty() {
        return Err(io(std::io::Error::other("ended before the first turn")));
    }
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let stopped_by = if !sorted.is_empty()
        && edgebench_measure::stats::relative_ci_width(&sorted) <= plan.target_rel_ci
    {
        StoppedBy::Precision
    } else {
        StoppedBy::TimeCap
    };
    Ok(sampling::Sampled {
        samples_ns: samples,
        warmup_iters: 0,
        stopped_by,
        wall: busy,
    })
}

/// Moves the calling thread (the one that runs the model) to `cpu`; a failure leaves it where it was.
fn pin_this_thread(cpu: usize) {
    #[cfg(target_os = "linux")]
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET bounds-checks `cpu`; sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let _ = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// The CPUs this process may run on (empty where that cannot be read).
pub fn allowed_cpus() -> Vec<usize> {
    #[cfg(target_os = "linux")]
    // SAFETY: sched_getaffinity fills the zeroed set we own; CPU_ISSET reads it within CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return vec![];
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
    #[cfg(not(target_os = "linux"))]
    vec![]
}

/// A child taking turns (see [`CellRequest::turns`]): started with piped stdin and stdout, driven line by line.
pub struct TurnChild {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
    /// Lines after the protocol's (the report).
    rest: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    timeout_s: u64,
    started: Instant,
}

impl TurnChild {
    /// Starts `cmd` (a `bench-cell` whose request has `turns`); `timeout_s` bounds the whole child.
    pub fn start(mut cmd: Command, timeout_s: u64) -> Result<TurnChild, String> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: as in `spawn`: prctl is async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().map_err(|e| format!("could not start: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(stdout).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let stderr = child.stderr.take().map(|mut p| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = p.read_to_string(&mut s);
                s
            })
        });
        Ok(TurnChild {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            rest: vec![],
            stderr,
            timeout_s,
            started: Instant::now(),
        })
    }

    fn left(&self) -> Duration {
        Duration::from_secs(self.timeout_s).saturating_sub(self.started.elapsed())
    }

    /// The next protocol line starting with `word`; `None` when the child ended, went silent past its timeout, or
    /// the run was interrupted. Other lines are kept for the report.
    fn expect(&mut self, word: &str) -> Option<String> {
        loop {
            if crate::interrupted() {
                return None;
            }
            match self
                .lines
                .recv_timeout(self.left().min(Duration::from_millis(200)))
            {
                Ok(l) if l.starts_with(word) => return Some(l),
                Ok(l) => self.rest.push(l),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if !self.left().is_zero() => {}
                Err(_) => return None,
            }
        }
    }

    /// Waits for the end of the warm-up.
    pub fn ready(&mut self) -> bool {
        self.expect("ready").is_some()
    }

    /// One turn of about `ms` milliseconds, its model-running thread on `cpu` when given: the number of samples it
    /// took and their median (ns), `None` when the child is gone.
    pub fn turn(&mut self, ms: f64, cpu: Option<usize>) -> Option<(usize, f64)> {
        use std::io::Write;
        let stdin = self.stdin.as_mut()?;
        match cpu {
            Some(c) => writeln!(stdin, "turn {ms} {c}").ok()?,
            None => writeln!(stdin, "turn {ms}").ok()?,
        }
        stdin.flush().ok()?;
        let line = self.expect("turned")?;
        let mut w = line.split_whitespace().skip(1);
        let n = w.next()?.parse().ok()?;
        let median = w.next()?.parse().ok()?;
        Some((n, median))
    }

    /// Ends the protocol and waits for the child (killing it past its timeout): its end, as [`spawn`] reports one.
    pub fn end(mut self) -> Finished {
        use std::io::Write;
        if let Some(mut s) = self.stdin.take() {
            let _ = writeln!(s, "end");
        }
        let finished = |ended| Finished {
            ended,
            timeout_s: self.timeout_s,
        };
        let status = loop {
            match self.child.wait_timeout(Duration::from_millis(100)) {
                Ok(Some(s)) => break s,
                Ok(None) if crate::interrupted() => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return finished(Ended::Interrupted);
                }
                Ok(None) if !self.left().is_zero() => continue,
                Ok(None) | Err(_) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return finished(Ended::TimedOut);
                }
            }
        };
        let mut rest = std::mem::take(&mut self.rest);
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            rest.push(l);
        }
        // The report is the last line; protocol lines before it are not part of it.
        let stdout = rest
            .into_iter()
            .filter(|l| l != "ready" && !l.starts_with("turned "))
            .collect::<Vec<_>>()
            .join("\n");
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        finished(ended(status, stdout, stderr))
    }
}

/// File names of a cell's samples and outputs inside a run folder.
pub fn cell_files(
    dir: &Path,
    target: &str,
    backend: &str,
    model: &str,
    variant: &str,
) -> (String, PathBuf) {
    let safe = |s: &str| s.replace(['/', '\\', ' '], "_");
    let stem = if variant == "fp32" {
        format!("{}.{backend}.{}", safe(target), safe(model))
    } else {
        format!(
            "{}.{backend}.{}.{}",
            safe(target),
            safe(model),
            safe(variant)
        )
    };
    (
        format!("samples/{stem}.txt"),
        dir.join(format!("outputs/{stem}.pb")),
    )
}

/// Limits this process's address space (`RLIMIT_AS`) to `bytes`. An allocation beyond it fails (Rust aborts with
/// "memory allocation of N bytes failed"), which the parent records as the cell's outcome.
pub fn limit_address_space(bytes: u64) -> Result<(), Error> {
    let lim = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
    if rc != 0 {
        return Err(Error::Usage(format!(
            "cannot limit the address space to {bytes} bytes: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// The default address-space limit of a cell: this machine's physical memory (a cell above it would be killed by
/// the kernel anyway), or none when it cannot be read.
pub fn default_address_space() -> Option<u64> {
    edgebench_models::fit::mem_total()
}

pub use edgebench_models::fit::parse_bytes;
