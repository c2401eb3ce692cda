//! The run folder: a new one, or a resumed one whose `ok` cells are kept; side b's folder of an interleaved
//! session; the `Results` written into them.

use super::RunInfo;
use crate::Error;
use crate::plan::Plan;
use edgebench_report::{self as report, Cell, Outcome, Results};
use std::path::{Path, PathBuf};

/// Where a run lands.
#[derive(Clone, Debug)]
pub enum Start {
    /// A new folder under this root.
    New { root: PathBuf },
    /// A previous run folder of the same plan: only cells that did not end `ok` run again.
    Resume { dir: PathBuf },
}

/// The folder of this run (side a of an interleaved session).
pub(super) struct RunFolder {
    pub dir: PathBuf,
    pub run_id: String,
    /// Cells of the resumed run that ended `ok`: they are not run again.
    pub kept: Vec<Cell>,
}

/// Side b of an interleaved session: its own run folder and settings.
pub(super) struct SideB {
    pub dir: PathBuf,
    pub run_id: String,
    pub settings: report::Settings,
}

fn usage(e: report::ReportError) -> Error {
    Error::Usage(e.to_string())
}

fn subfolders(dir: &Path) -> Result<(), Error> {
    for sub in ["samples", "outputs"] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
    }
    Ok(())
}

/// Opens the run folder: a new one named after the start time and targets, or the resumed one (of this plan).
pub(super) fn open(plan: &Plan, start: Start, started: u64) -> Result<RunFolder, Error> {
    let f = match start {
        Start::Resume { dir } => {
            let prev = report::load(&dir.join("results.json")).map_err(usage)?;
            if prev.plan_id != plan.id() || prev.partition != plan.partition {
                return Err(Error::Usage(format!(
                    "{}: a run of another plan; resume it with the same models, targets, backends and settings",
                    dir.display()
                )));
            }
            let kept = prev
                .cells
                .into_iter()
                .filter(|c| c.outcome == Outcome::Ok)
                .collect();
            RunFolder {
                dir,
                run_id: prev.run_id,
                kept,
            }
        }
        Start::New { root } => {
            let name = format!("{started}-{}", plan.settings.targets.join("+"));
            let name = if plan.ab.is_some() {
                format!("{name}-a")
            } else {
                name
            };
            let (dir, run_id) = report::new_run_dir(&root, &name).map_err(usage)?;
            RunFolder {
                dir,
                run_id,
                kept: vec![],
            }
        }
    };
    subfolders(&f.dir)?;
    Ok(f)
}

/// Side b's folder beside side a's, for an interleaved session (`None` otherwise); both sides' settings name the
/// session and the other side's run.
pub(super) fn side_b(plan: &mut Plan, a: &RunFolder) -> Result<Option<SideB>, Error> {
    let Some(ab) = &plan.ab else {
        return Ok(None);
    };
    if !a.kept.is_empty() || plan.settings.processes > 1 {
        return Err(Error::Usage(
            "bench --ab: neither --resume nor --processes applies to an interleaved session".into(),
        ));
    }
    if let Some(s) = plan.sites.iter().find(|s| s.runner.kind() != "local") {
        return Err(Error::Usage(format!(
            "bench --ab: target {} runs cells through {} ({}); an interleaved session drives both sides' \
             children from here, so it takes targets of this machine (runner = \"local\")",
            s.name,
            s.runner.kind(),
            if s.runner.emulated() {
                "emulated, not timed anyway"
            } else {
                "another machine"
            }
        )));
    }
    let root = a.dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let session = a.run_id.strip_suffix("-a").unwrap_or(&a.run_id).to_string();
    let (dir, run_id) = report::new_run_dir(&root, &format!("{session}-b")).map_err(usage)?;
    subfolders(&dir)?;
    let paired = |side: &str, other: &str| report::Paired {
        session: session.clone(),
        side: side.into(),
        other_run: other.into(),
        turn_ms: ab.turn_ms,
        b_exe: ab.exe.as_ref().map(|p| p.display().to_string()),
        b_env: ab.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        b_model: ab.model.as_ref().map(|p| p.display().to_string()),
        threshold: ab.threshold,
        confirmation: None,
        confirms: None,
    };
    let mut settings = plan.settings.clone();
    settings.paired = Some(paired("b", &a.run_id));
    plan.settings.paired = Some(paired("a", &run_id));
    Ok(Some(SideB {
        dir,
        run_id,
        settings,
    }))
}

/// Makes the `Results` of a run of this plan: everything but the cells is the plan's and this process's.
pub(super) struct Recorder<'a> {
    pub plan: &'a Plan,
    pub info: RunInfo,
    pub plan_id: String,
    pub started: u64,
}

impl Recorder<'_> {
    pub fn results(&self, run_id: &str, settings: &report::Settings, cells: Vec<Cell>) -> Results {
        let plan = self.plan;
        Results {
            format_version: report::FORMAT_VERSION,
            run_id: run_id.to_string(),
            started_unix: self.started,
            edgebench_version: self.info.edgebench_version.clone(),
            git_commit: self.info.git_commit.clone(),
            machine: self.info.machine.clone(),
            targets: plan
                .sites
                .iter()
                .map(|s| report::TargetRecord {
                    name: s.name.clone(),
                    triple: s.target.triple.clone(),
                    runner: s.runner.kind().into(),
                    emulated: s.runner.emulated(),
                    backends: s.runner.facts().to_vec(),
                    roofs: Some(report::Roofs {
                        peak_gflops: s.target.peak_gflops,
                        mem_bandwidth_gbs: s.target.mem_bandwidth_gbs,
                        source: super::finish::roof_source(&s.target).into(),
                        detail: s
                            .target
                            .measured_roofs
                            .clone()
                            .unwrap_or_else(|| s.target.source.clone()),
                    }),
                })
                .collect(),
            settings: settings.clone(),
            plan_id: self.plan_id.clone(),
            partition: plan.partition,
            merged_from: vec![],
            variants: plan.variant_records.clone(),
            compat: plan.compat.clone(),
            feeds: plan
                .models
                .iter()
                .map(|m| report::ModelFeed {
                    model: m.name.clone(),
                    feed: m.feed.clone(),
                    notes: m.notes.clone(),
                })
                .collect(),
            cells,
        }
    }
}
