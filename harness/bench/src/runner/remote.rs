//! A board reached over ssh: the runner, the models and the ONNX Runtime library are copied into a run folder on
//! it with scp; each cell is one `ssh` invocation of the runner (so a cell's crash or hang is its own outcome, as
//! locally); its samples and outputs are copied back; the folder is removed at the end. ssh's exit status 255 means
//! the connection failed, which is recorded as the cell's outcome.

use edgebench_measure::targets::Ssh;
use std::path::Path;
use std::process::Command;

/// ssh's exit status when the connection itself failed.
pub const SSH_CONNECTION_FAILED: i32 = 255;

/// One board's connection and staged run folder.
#[derive(Clone, Debug)]
pub struct Remote {
    /// `user@host` or `host`.
    pub dest: String,
    /// Options common to ssh and scp (`-o ...`, `-i key`), port apart (`-p` vs `-P`).
    opts: Vec<String>,
    /// `KEY=VALUE` of the runner's environment on the board.
    env: Vec<String>,
    port: u16,
    /// The run folder on the board.
    pub root: String,
}

fn expand(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_string(),
    }
}

/// Quotes arguments for the remote shell that ssh hands the command line to.
pub fn quote(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            shlex::try_quote(a)
                .map(|q| q.into_owned())
                .unwrap_or_else(|_| a.replace('\0', ""))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Remote {
    pub fn new(cfg: &Ssh, run_id: &str, site: &str) -> Remote {
        let mut opts = vec![
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "ConnectTimeout=10".into(),
        ];
        if !cfg
            .options
            .iter()
            .any(|o| o.starts_with("StrictHostKeyChecking"))
        {
            opts.extend(["-o".into(), "StrictHostKeyChecking=accept-new".into()]);
        }
        for o in &cfg.options {
            opts.extend(["-o".into(), o.clone()]);
        }
        if let Some(k) = &cfg.key {
            opts.extend(["-i".into(), expand(k)]);
        }
        let dest = match &cfg.user {
            Some(u) => format!("{u}@{}", cfg.host),
            None => cfg.host.clone(),
        };
        Remote {
            dest,
            opts,
            env: cfg.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            port: cfg.port,
            root: format!("{}/{run_id}-{site}", cfg.remote_dir.trim_end_matches('/')),
        }
    }

    /// `ssh ... dest <args, quoted>`, behind `env KEY=VALUE...` when the target sets an environment.
    pub fn command(&self, args: &[String]) -> Command {
        let mut c = Command::new("ssh");
        let args: Vec<String> = if self.env.is_empty() {
            args.to_vec()
        } else {
            ["env".to_string()]
                .into_iter()
                .chain(self.env.iter().cloned())
                .chain(args.iter().cloned())
                .collect()
        };
        c.args(&self.opts)
            .arg("-p")
            .arg(self.port.to_string())
            .arg(&self.dest)
            .arg("--")
            .arg(quote(&args));
        c
    }

    fn scp(&self) -> Command {
        let mut c = Command::new("scp");
        c.arg("-q")
            .args(&self.opts)
            .arg("-P")
            .arg(self.port.to_string());
        c
    }

    fn status(mut c: Command, what: &str) -> Result<(), String> {
        let out = c.output().map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "{what}: {}{}",
            err.lines()
                .filter(|l| !l.trim().is_empty())
                .last()
                .unwrap_or("failed"),
            if out.status.code() == Some(SSH_CONNECTION_FAILED) {
                " (connection failed)"
            } else {
                ""
            }
        ))
    }

    /// Runs a short command on the board.
    pub fn run(&self, args: &[String]) -> Result<(), String> {
        Self::status(self.command(args), &format!("ssh {}", self.dest))
    }

    /// Copies local files into the run folder (created first).
    pub fn put(&self, files: &[(&Path, String)]) -> Result<(), String> {
        self.run(&[
            "mkdir".into(),
            "-p".into(),
            format!("{}/out", self.root),
            format!("{}/models", self.root),
        ])?;
        for (local, name) in files {
            let mut c = self.scp();
            c.arg(local)
                .arg(format!("{}:{}/{name}", self.dest, self.root));
            Self::status(c, &format!("scp {} to {}", local.display(), self.dest))?;
        }
        Ok(())
    }

    /// Copies a file of the run folder back.
    pub fn get(&self, name: &str, local: &Path) -> Result<(), String> {
        let mut c = self.scp();
        c.arg(format!("{}:{}/{name}", self.dest, self.root))
            .arg(local);
        Self::status(c, &format!("scp {name} from {}", self.dest))
    }

    /// Removes the run folder.
    pub fn clean(&self) -> Result<(), String> {
        self.run(&["rm".into(), "-rf".into(), self.root.clone()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_arguments_survive_the_remote_shell() {
        let args: Vec<String> = [
            "run",
            "x=float32[1,3]",
            "it's",
            "onnx::Flatten_0=f[1]",
            "a b",
            "$HOME",
            "*",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let q = quote(&args);
        // What a POSIX shell makes of it is exactly the arguments, with nothing expanded or split.
        assert_eq!(shlex::split(&q).unwrap(), args);
        assert!(q.contains("'x=float32[1,3]'"), "{q}");
        let cfg = Ssh {
            host: "b".into(),
            user: Some("pi".into()),
            port: 2222,
            key: None,
            remote_dir: "/tmp/eb/".into(),
            options: vec![],
            env: Default::default(),
        };
        let r = Remote::new(&cfg, "r1", "pi4");
        assert_eq!(
            (r.dest.as_str(), r.root.as_str()),
            ("pi@b", "/tmp/eb/r1-pi4")
        );
        // A target's environment goes in front of the remote command, quoted.
        let mut cfg = cfg;
        cfg.env.insert(
            "EDGEBENCH_ORT_GPU_LIB".into(),
            "/opt/ort lib/libonnxruntime.so".into(),
        );
        let c = Remote::new(&cfg, "r1", "pi4").command(&["./edgebench".into(), "doctor".into()]);
        let last = c.get_args().last().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            shlex::split(&last).unwrap(),
            [
                "env",
                "EDGEBENCH_ORT_GPU_LIB=/opt/ort lib/libonnxruntime.so",
                "./edgebench",
                "doctor"
            ]
        );
    }
}
