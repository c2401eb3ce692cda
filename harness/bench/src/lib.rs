//! Running plans: targets x backends x models x variants, each cell in its own child process (the cell protocol,
//! [`cell`]), on a [`runner::Runner`] (this machine, qemu-user, a board over ssh), with resume, sharding and an
//! event stream that reporters consume ([`events`]). Nothing here prints; the CLI renders the events.
//!
//! The same protocol serves `bench`, `check --verify` and `probe`: a child that prints a JSON report on success and
//! whose end (exit code, signal, timeout) is read into one [`edgebench_report::Outcome`].

pub mod agreement;
pub mod build;
pub mod cell;
pub mod conformance;
pub mod discover;
pub mod events;
pub mod machine;
pub mod observe;
pub mod oneshot;
pub mod orchestrate;
pub mod plan;
pub mod prediction;
pub mod prepare;
pub mod profile;
pub mod runner;
pub mod targets;
pub mod variants;
pub mod verify;

/// The onnxruntime wheel whose library ships with runners (`edgebench build`) and is set up by `ci/setup.sh`.
pub const ORT_VERSION: &str = "1.31.1";

/// What can go wrong while planning or running; each kind maps to one of the CLI's exit codes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad settings, targets file, partition, resume folder; results that cannot be written.
    #[error("{0}")]
    Usage(String),
    /// A model file that cannot be read.
    #[error("{0}")]
    BadModel(String),
    /// A target or backend that cannot be used here (the reason).
    #[error("{0}")]
    Unavailable(String),
    /// The backend could not load or run the model (in a cell's child).
    #[error("{0}")]
    Backend(String),
    /// A variant that could not be made.
    #[error("{0}")]
    Variant(String),
    /// Ctrl-C or SIGTERM: what was done is saved (see the message).
    #[error("{0}")]
    Interrupted(String),
}

/// `edgebench`'s exit code for a backend or target that cannot be used here (the CLI's `exit::UNAVAILABLE`): a
/// child that exits with it says so, it did not fail.
pub const EXIT_UNAVAILABLE: u8 = 4;

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Installs the Ctrl-C / SIGTERM / SIGHUP handler: the run stops starting cells, running children are killed, and
/// the orchestrator records what did not finish as `interrupted`. Idempotent.
pub fn handle_interrupts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst));
    });
}

/// Whether the run was interrupted.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Fault injection for tests of cell isolation: with `EDGEBENCH_FAULT=hang` a cell's child sleeps forever, with
/// `abort` it aborts, with `exit` it exits with code 70. Only cell children call it, so a parent run is not affected.
/// (`slow:F[@CELL]` is read by [`injected_slowdown`] instead.)
pub fn injected_fault() {
    match std::env::var("EDGEBENCH_FAULT").as_deref() {
        Ok("hang") => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        Ok("abort") => std::process::abort(),
        Ok("exit") => std::process::exit(70),
        _ => {}
    }
}

/// The test-only slowdown of `EDGEBENCH_FAULT=slow:F` (F > 1, e.g. `slow:1.10`) for a cell of `backend`, `model`
/// and `variant`: every timed iteration lasts F times as long (busy-waiting inside the timed region, so the real
/// sampling path sees it). `slow:F@SELECTOR` slows only the cells it selects: `BACKEND/MODEL` or
/// `BACKEND/MODEL/VARIANT` (`slow:1.10@ort/pplcnet_orientation`). 1.0 when unset or not selected; an unparsable F or
/// selector is ignored with a warning. Several specs separated by commas slow several cells, each by its own F
/// (`slow:1.05@ort/tiny_mlp,slow:1.05@tract/magika_standard_v3_3`); the first that selects a cell applies.
pub fn injected_slowdown(backend: &str, model: &str, variant: &str) -> f64 {
    let Ok(v) = std::env::var("EDGEBENCH_FAULT") else {
        return 1.0;
    };
    slowdown_of(&v, backend, model, variant)
}

fn slowdown_of(v: &str, backend: &str, model: &str, variant: &str) -> f64 {
    for spec in v.split(',') {
        match parse_slowdown(spec) {
            Some(Ok((f, sel))) => {
                let hit = sel.is_none_or(|s: Vec<&str>| match s.as_slice() {
                    [b, m] => *b == backend && *m == model,
                    [b, m, var] => *b == backend && *m == model && *var == variant,
                    _ => false,
                });
                if hit {
                    return f;
                }
            }
            Some(Err(())) => tracing::warn!(
                "EDGEBENCH_FAULT={v}: expected slow:F[@BACKEND/MODEL[/VARIANT]] with 1 <= F <= 100; `{spec}` ignored"
            ),
            None => {}
        }
    }
    1.0
}

/// `slow:F[@SELECTOR]` -> (F, the selector's parts); `None` for another fault, `Err` for a bad one.
#[allow(clippy::type_complexity)]
fn parse_slowdown(v: &str) -> Option<Result<(f64, Option<Vec<&str>>), ()>> {
    let rest = v.strip_prefix("slow:")?;
    let (f, sel) = match rest.split_once('@') {
        Some((f, sel)) => (f, Some(sel.split('/').collect::<Vec<_>>())),
        None => (rest, None),
    };
    let ok_sel = sel
        .as_ref()
        .is_none_or(|s| (2..=3).contains(&s.len()) && s.iter().all(|p| !p.is_empty()));
    Some(match f.parse::<f64>() {
        Ok(f) if f.is_finite() && (1.0..=100.0).contains(&f) && ok_sel => Ok((f, sel)),
        _ => Err(()),
    })
}

#[cfg(test)]
mod fault_tests {
    use super::{parse_slowdown, slowdown_of};

    #[test]
    fn several_cells_are_slowed_each_by_its_own_spec() {
        let v = "slow:1.05@ort/tiny_mlp,slow:2@tract/magika/fp32";
        assert_eq!(slowdown_of(v, "ort", "tiny_mlp", "fp16"), 1.05);
        assert_eq!(slowdown_of(v, "tract", "magika", "fp32"), 2.0);
        assert_eq!(slowdown_of(v, "tract", "magika", "int8-static"), 1.0);
        assert_eq!(slowdown_of(v, "tract", "tiny_mlp", "fp32"), 1.0);
        assert_eq!(slowdown_of("slow:1.1", "x", "y", "z"), 1.1);
        assert_eq!(slowdown_of("slow:x,slow:3@a/b", "a", "b", "fp32"), 3.0);
    }

    #[test]
    fn slowdowns_parse_with_and_without_a_cell_selector() {
        assert_eq!(parse_slowdown("hang"), None);
        assert_eq!(parse_slowdown("slow:1.10"), Some(Ok((1.10, None))));
        assert_eq!(
            parse_slowdown("slow:1.10@ort/pplcnet_orientation"),
            Some(Ok((1.10, Some(vec!["ort", "pplcnet_orientation"]))))
        );
        assert_eq!(
            parse_slowdown("slow:2@tract/tiny_mlp/fp16"),
            Some(Ok((2.0, Some(vec!["tract", "tiny_mlp", "fp16"]))))
        );
        for bad in [
            "slow:0.5",
            "slow:x",
            "slow:1.1@ort",
            "slow:1.1@a/b/c/d",
            "slow:1.1@ort/",
        ] {
            assert_eq!(parse_slowdown(bad), Some(Err(())), "{bad}");
        }
    }
}
