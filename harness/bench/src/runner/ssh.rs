//! Cells on a board over ssh: the runner, the ONNX Runtime library and the models are copied into a run folder on
//! the board ([`Runner::stage`]); each cell is one `ssh` invocation of the runner, so a crash or hang there is that
//! cell's outcome, as locally; samples and outputs are copied back; the folder is removed at the end.

use super::remote::Remote;
use super::{Context, Runner, RunnerError, built_runner, doctor_facts, ort_to_ship};
use crate::Error;
use crate::cell::{self, CellRequest, Ended, Finished};
use edgebench_measure::targets::Target;
use edgebench_report::BackendFacts;
use std::path::{Path, PathBuf};

use super::remote::SSH_CONNECTION_FAILED;

/// A board reached over ssh.
pub struct Ssh {
    name: String,
    cfg: edgebench_measure::targets::Ssh,
    /// Local files to copy into the run folder, with their names there.
    upload: Vec<(PathBuf, String)>,
    remote: Option<Remote>,
    /// Each staged model file (local path as the cell request names it) and its name in the run folder.
    staged: std::collections::HashMap<String, String>,
    facts: Vec<BackendFacts>,
    unreachable: Option<String>,
}

impl Ssh {
    /// The runner to copy: this very binary when the board has this machine's triple, else the cross-built one.
    pub fn new(name: &str, target: &Target, ctx: &Context) -> Result<Ssh, Error> {
        let cfg = target.ssh.clone().ok_or_else(|| {
            Error::Usage(format!("target `{name}`: runner ssh without an ssh table"))
        })?;
        let (bin, lib) = if target.triple == ctx.host_triple {
            (ctx.exe.clone(), ctx.ort_library.clone())
        } else {
            built_runner(name, &target.triple, ctx)?
        };
        let mut upload = vec![(bin, "edgebench".to_string())];
        if let Some(l) = ort_to_ship(target, lib) {
            upload.push((l, format!("libonnxruntime.so.{}", crate::ORT_VERSION)));
        }
        if target.triple != ctx.host_triple
            && target.backends.iter().any(|b| b.starts_with("litert"))
        {
            // LiteRT's library (and its version file, GPU accelerator) as `build` put them beside the runner.
            let dir = ctx.release_dir(&target.triple);
            for f in [
                "libLiteRt.so",
                "libLiteRt.version",
                "libLiteRtWebGpuAccelerator.so",
            ] {
                if dir.join(f).is_file() {
                    upload.push((dir.join(f), f.to_string()));
                }
            }
        }
        Ok(Ssh {
            name: name.into(),
            cfg,
            upload,
            remote: None,
            staged: Default::default(),
            facts: vec![],
            unreachable: None,
        })
    }
}

impl Runner for Ssh {
    fn kind(&self) -> &'static str {
        "ssh"
    }
    fn facts(&self) -> &[BackendFacts] {
        &self.facts
    }
    fn unreachable(&self) -> Option<&str> {
        self.unreachable.as_deref()
    }

    /// Copies the runner, the ORT library and the models, then asks the runner there for its backends.
    fn stage(&mut self, run_id: &str, models: &[Vec<&Path>]) {
        let remote = Remote::new(&self.cfg, run_id, &self.name);
        let mut files: Vec<(&Path, String)> = self
            .upload
            .iter()
            .map(|(p, n)| (p.as_path(), n.clone()))
            .collect();
        // Every file a cell may run (the model, its variants, its verified rewrites), numbered in staging order.
        self.staged.clear();
        for (mi, m) in models.iter().enumerate() {
            for (fi, p) in m.iter().copied().enumerate() {
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("onnx");
                let there = format!("models/{mi}.{fi}.{ext}");
                if self
                    .staged
                    .insert(p.display().to_string(), there.clone())
                    .is_none()
                {
                    files.push((p, there));
                }
            }
        }
        let staged = remote.put(&files).and_then(|()| {
            let cmd = remote.command(&[
                format!("{}/edgebench", remote.root),
                "doctor".into(),
                "--json".into(),
            ]);
            doctor_facts(cell::spawn(cmd, 120), "the board")
        });
        match staged {
            Ok(facts) => self.facts = facts,
            Err(e) => self.unreachable = Some(e),
        }
        self.remote = Some(remote);
    }

    fn run_cell(
        &self,
        req: &CellRequest,
        model_index: usize,
        timeout_s: u64,
    ) -> Result<Finished, RunnerError> {
        let lost = |reason: String| RunnerError::Connection {
            target: self.name.clone(),
            reason,
        };
        if let Some(why) = &self.unreachable {
            return Err(lost(why.clone()));
        }
        let r = self
            .remote
            .as_ref()
            .ok_or_else(|| lost("not staged".into()))?;
        // On the board: its own paths (the feed is spelled out in the request already).
        let stem = format!("out/{model_index}.{}.{}", req.backend, req.variant);
        let mut there = req.clone();
        let staged = self
            .staged
            .get(&req.model)
            .ok_or_else(|| lost(format!("{} was not staged", req.model)))?;
        there.model = format!("{}/{staged}", r.root);
        there.samples = format!("{}/{stem}.txt", r.root);
        there.outputs = format!("{}/{stem}.pb", r.root);
        let mut args = vec![format!("{}/edgebench", r.root)];
        args.extend(there.args());
        let mut finished = cell::spawn(r.command(&args), timeout_s);
        match &mut finished.ended {
            Ended::Exited { code: 0, .. } => {
                r.get(&format!("{stem}.txt"), Path::new(&req.samples))
                    .map_err(lost)?;
                r.get(&format!("{stem}.pb"), Path::new(&req.outputs))
                    .map_err(lost)?;
            }
            Ended::Exited { code, stderr, .. } if *code == SSH_CONNECTION_FAILED => {
                *stderr = format!(
                    "edgebench: error: ssh connection to {} failed: {}",
                    self.name,
                    cell::last_error(stderr)
                );
            }
            _ => {}
        }
        Ok(finished)
    }

    /// Removes the run folder on the board.
    fn finish(&self) -> Result<(), String> {
        match (&self.remote, &self.unreachable) {
            (Some(r), None) => r
                .clean()
                .map_err(|e| format!("could not remove {} on the board: {e}", r.root)),
            _ => Ok(()),
        }
    }
}
