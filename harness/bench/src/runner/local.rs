//! Cells on this machine: this binary, one child per cell.

use super::{Context, Program, Runner};
use crate::cell::{self, CellRequest, Finished};
use edgebench_report::BackendFacts;

/// This machine.
pub struct Local {
    program: Program,
    facts: Vec<BackendFacts>,
}

impl Local {
    pub fn new(ctx: &Context) -> Local {
        let mut argv = vec![ctx.exe.clone().into_os_string()];
        if let Some(l) = &ctx.ort_lib {
            argv.extend(["--ort-lib".into(), l.clone().into_os_string()]);
        }
        Local {
            program: Program { argv, env: vec![] },
            facts: ctx.host_facts.clone(),
        }
    }
}

impl Runner for Local {
    fn kind(&self) -> &'static str {
        "local"
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
    fn edgebench(&self, args: &[String]) -> Option<std::process::Command> {
        Some(self.program.command(args))
    }
    fn command(
        &self,
        req: &CellRequest,
        exe: Option<&std::path::Path>,
    ) -> Option<std::process::Command> {
        Some(match exe {
            Some(e) => self.program.command_of(e.as_os_str(), &req.args()),
            None => self.program.command(&req.args()),
        })
    }
}
