//! Cells of an aarch64 target on this machine under qemu-user: correct outputs, meaningless timings (emulated).

use super::{Context, Program, Runner, built_runner, doctor_facts};
use crate::Error;
use crate::cell::{self, CellRequest, Finished};
use edgebench_measure::targets::Target;
use edgebench_report::BackendFacts;
use std::ffi::OsString;

/// The qemu-user binary and sysroot for a triple.
pub fn qemu_for(triple: &str) -> Option<(&'static str, &'static str)> {
    match triple {
        "aarch64-unknown-linux-gnu" => Some(("qemu-aarch64", "/usr/aarch64-linux-gnu")),
        _ => None,
    }
}

/// The cross-built runner under qemu-user.
pub struct Qemu {
    program: Program,
    facts: Vec<BackendFacts>,
}

impl Qemu {
    /// Finds the runner and asks it for its backends under qemu. ONNX Runtime's CPU detection brings the runner down
    /// under qemu < 10: then ONNX Runtime is reported unavailable with the reason and the other backends are kept.
    pub fn new(name: &str, target: &Target, ctx: &Context) -> Result<Qemu, Error> {
        let (qemu, sysroot) = qemu_for(&target.triple).ok_or_else(|| {
            Error::Unavailable(format!(
                "target `{name}`: no qemu-user runner known for {}",
                target.triple
            ))
        })?;
        let (bin, lib) = built_runner(name, &target.triple, ctx)?;
        // LiteRT's aarch64 library beside the runner (`build` puts it there), never the host's (a `.venv` up the
        // current folder); when it is absent the runner says so.
        let litert = (
            "EDGEBENCH_LITERT_LIB".to_string(),
            Some(bin.with_file_name("libLiteRt.so").into_os_string()),
        );
        let mut program = Program {
            argv: vec![
                qemu.into(),
                "-L".into(),
                sysroot.into(),
                bin.into_os_string(),
            ],
            env: vec![
                ("ORT_DYLIB_PATH".into(), lib.map(|l| l.into_os_string())),
                litert.clone(),
            ],
        };
        let doctor = |p: &Program| {
            doctor_facts(
                cell::spawn(p.command(&["doctor".into(), "--json".into()]), 120),
                qemu,
            )
        };
        let facts = match doctor(&program) {
            Ok(f) => f,
            Err(crash) => {
                program.env = vec![
                    (
                        "ORT_DYLIB_PATH".into(),
                        Some(OsString::from("/nonexistent/ort-disabled")),
                    ),
                    litert,
                ];
                let mut f = doctor(&program).map_err(|e| {
                    Error::Unavailable(format!(
                        "target `{name}`: the runner fails under {qemu}: {e}"
                    ))
                })?;
                for b in f.iter_mut().filter(|b| b.name == "ort") {
                    b.available = false;
                    b.version = None;
                    b.reason = Some(format!(
                        "ONNX Runtime crashed while starting under {qemu} ({crash}); its CPU detection needs qemu >= 10 (Debian bookworm-backports)"
                    ));
                }
                f
            }
        };
        Ok(Qemu { program, facts })
    }
}

impl Runner for Qemu {
    fn kind(&self) -> &'static str {
        "qemu"
    }
    fn emulated(&self) -> bool {
        true
    }
    fn facts(&self) -> &[BackendFacts] {
        &self.facts
    }
    fn run_cell(
        &self,
        req: &CellRequest,
        _model_index: usize,
        timeout_s: u64,
    ) -> Result<Finished, super::RunnerError> {
        Ok(cell::spawn(self.program.command(&req.args()), timeout_s))
    }
}
