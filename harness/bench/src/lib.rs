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
/// (`slow:F` is read by [`injected_slowdown`] instead.)
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

/// The test-only slowdown of `EDGEBENCH_FAULT=slow:F` (F > 1, e.g. `slow:1.10`): every timed iteration of a bench
/// cell lasts F times as long (busy-waiting inside the timed region, so the real sampling path sees it). 1.0 when
/// unset; an unparsable or out-of-range F is ignored with a warning.
pub fn injected_slowdown() -> f64 {
    match std::env::var("EDGEBENCH_FAULT") {
        Ok(v) => match v.strip_prefix("slow:").map(str::parse::<f64>) {
            Some(Ok(f)) if f.is_finite() && (1.0..=100.0).contains(&f) => f,
            Some(_) => {
                tracing::warn!("EDGEBENCH_FAULT={v}: expected slow:F with 1 <= F <= 100; ignored");
                1.0
            }
            None => 1.0,
        },
        Err(_) => 1.0,
    }
}
