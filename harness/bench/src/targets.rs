//! The targets file: `./targets.toml` when present, else the one built in.

use crate::Error;
use edgebench_measure::targets::{Target, Targets};
use std::path::Path;

/// `targets.toml` as committed, for when there is none in the current folder.
pub const EMBEDDED: &str = include_str!("../../../targets.toml");

/// The named target of `file` (default: ./targets.toml if present, else the built-in one), and the file's warnings.
pub fn find(name: &str, file: Option<&Path>) -> Result<(Target, Vec<String>), Error> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| Error::Usage(format!("{}: {e}", p.display())))
    };
    let (text, file) = match file {
        Some(p) => (read(p)?, p.display().to_string()),
        None if Path::new("targets.toml").is_file() => {
            (read(Path::new("targets.toml"))?, "targets.toml".into())
        }
        None => (EMBEDDED.to_string(), "targets.toml (built in)".into()),
    };
    let (targets, warnings) =
        Targets::parse(&text, &file).map_err(|e| Error::Usage(e.to_string()))?;
    let target = targets.target.get(name).cloned().ok_or_else(|| {
        let names: Vec<&str> = targets.target.keys().map(String::as_str).collect();
        Error::Usage(format!(
            "{file}: no target `{name}` (targets: {})",
            names.join(", ")
        ))
    })?;
    Ok((
        target,
        warnings.into_iter().map(|w| w.to_string()).collect(),
    ))
}
