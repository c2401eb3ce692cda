//! `bench --ab`: the flags of an interleaved session checked and read into side b.

use super::Args;
use crate::exit::{USAGE, fail};
use anyhow::Result;
use edgebench_bench::plan;

/// Side b of an interleaved session, `None` without `--ab`; bad flags are usage errors.
pub fn side(a: &Args) -> Result<Option<plan::AbSide>> {
    if !a.ab {
        return Ok(None);
    }
    if a.resume.is_some() || a.processes > 1 {
        return Err(fail(
            USAGE,
            "--ab: neither --resume nor --processes applies to an interleaved session",
        ));
    }
    if !(a.turn_ms.is_finite() && a.turn_ms > 0.0) {
        return Err(fail(
            USAGE,
            format!("--turn-ms {}: expected a positive number", a.turn_ms),
        ));
    }
    if let Some(e) = &a.b_exe
        && !e.is_file()
    {
        return Err(fail(
            USAGE,
            format!("--b-exe {}: no such file", e.display()),
        ));
    }
    if let Some(m) = &a.b_model {
        if !m.is_file() {
            return Err(fail(
                USAGE,
                format!("--b-model {}: no such file", m.display()),
            ));
        }
        if super::model_words(a)?.len() != 1 || !a.variants.is_empty() {
            return Err(fail(
                USAGE,
                "--b-model: the plan must have exactly one model and no --variants (side b runs this file in its place)",
            ));
        }
    }
    let mut env = vec![];
    for kv in &a.b_env {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => env.push((k.to_string(), v.to_string())),
            _ => return Err(fail(USAGE, format!("--b-env {kv}: expected KEY=VALUE"))),
        }
    }
    Ok(Some(plan::AbSide {
        exe: a.b_exe.clone(),
        env,
        model: a
            .b_model
            .as_ref()
            .map(|m| std::fs::canonicalize(m).unwrap_or_else(|_| m.clone())),
        turn_ms: a.turn_ms,
        confirm: !a.no_confirm,
        threshold: match a.threshold.as_deref() {
            None => Some(0.05),
            Some("none") => None,
            Some(t) => Some(crate::flags::parse_threshold(t).ok_or_else(|| {
                fail(
                    USAGE,
                    format!("--threshold {t}: expected a share such as 5% or 0.05, or none"),
                )
            })?),
        },
    }))
}
