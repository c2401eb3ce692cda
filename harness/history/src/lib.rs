//! The record of many runs: per-cell series across commits and machines in a SQLite file (`rusqlite`, SQLite
//! compiled in). `history` reads saved results only and never measures.
//!
//! The schema is versioned (`PRAGMA user_version`) and migrated forward on open. The file is in WAL mode with a busy
//! timeout, and every `add` is one transaction: two CI jobs adding runs at once both land, whole.

mod changes;
pub use changes::{Change, Settings, changes};

use edgebench_report::Results;
use rusqlite::{Connection, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The schema version this build writes; older files are migrated on open, newer ones refused.
pub const SCHEMA_VERSION: i64 = 1;

/// Migrations, in order: entry `i` takes a file from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE run (
        run_key TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        started_unix INTEGER NOT NULL,
        git_commit TEXT NOT NULL,
        edgebench_version TEXT NOT NULL,
        machine TEXT NOT NULL,
        added_unix INTEGER NOT NULL
    );
    CREATE TABLE cell (
        run_key TEXT NOT NULL REFERENCES run(run_key),
        target TEXT NOT NULL,
        backend TEXT NOT NULL,
        model TEXT NOT NULL,
        variant TEXT NOT NULL,
        median_ns REAL NOT NULL,
        ci_low_ns REAL NOT NULL,
        ci_high_ns REAL NOT NULL,
        samples INTEGER NOT NULL,
        samples_sha256 TEXT,
        PRIMARY KEY (run_key, target, backend, model, variant)
    );
    CREATE INDEX cell_series ON cell (target, backend, model, variant);
"];

/// Why the history could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: {message}")]
    Db { path: PathBuf, message: String },
    #[error(
        "{path}: schema version {found} is newer than this edgebench's ({SCHEMA_VERSION}); use a newer build"
    )]
    Newer { path: PathBuf, found: i64 },
}

/// An open history file.
pub struct History {
    conn: Connection,
    path: PathBuf,
}

/// What one `add` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Added {
    pub run_id: String,
    /// Timed cells recorded (failed and untimed cells have no point).
    pub cells: usize,
    /// The run was already in the history: nothing was written.
    pub already: bool,
}

/// One point of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub run_id: String,
    pub started_unix: i64,
    pub git_commit: String,
    pub machine: String,
    pub target: String,
    pub backend: String,
    pub model: String,
    pub variant: String,
    pub median_ns: f64,
    pub ci_low_ns: f64,
    pub ci_high_ns: f64,
    pub samples: i64,
    pub samples_sha256: Option<String>,
}

/// Which series to read (`None`: any).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub model: Option<String>,
    pub backend: Option<String>,
    pub target: Option<String>,
}

impl History {
    /// Opens (creating it and its folder if needed) and migrates a history file.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        let db = |e: &dyn std::fmt::Display| HistoryError::Db {
            path: path.into(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| db(&e))?;
        }
        let mut conn = Connection::open(path).map_err(|e| db(&e))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| db(&e))?;
        // Two openers of a new file switch it to WAL at once: SQLite may answer BUSY without waiting (the switch
        // takes an exclusive lock); retry for up to the busy timeout.
        let mut tries = 0;
        loop {
            match conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            {
                Ok(_) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 1500 =>
                {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(db(&e)),
            }
        }
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| db(&e))?;
        if found > SCHEMA_VERSION {
            return Err(HistoryError::Newer {
                path: path.into(),
                found,
            });
        }
        for (v, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            // Each step and its version bump in one transaction; a concurrent opener waits (busy timeout), then
            // sees the new version.
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| db(&e))?;
            let now: i64 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(|e| db(&e))?;
            if now == v as i64 {
                tx.execute_batch(sql).map_err(|e| db(&e))?;
                tx.pragma_update(None, "user_version", v as i64 + 1)
                    .map_err(|e| db(&e))?;
            }
            tx.commit().map_err(|e| db(&e))?;
        }
        Ok(History {
            conn,
            path: path.into(),
        })
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, HistoryError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(&e))
    }

    fn err(&self, e: &dyn std::fmt::Display) -> HistoryError {
        HistoryError::Db {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Records a run (its folder holds `results.json` and the samples files): one point per timed cell. A run is
    /// known by the sha256 of its results.json (run ids are start times: two machines can share one); a run
    /// already recorded is left as it is.
    pub fn add(
        &mut self,
        results: &Results,
        run_dir: &Path,
        now_unix: i64,
    ) -> Result<Added, HistoryError> {
        let path = self.path.clone();
        let db = |e: &dyn std::fmt::Display| HistoryError::Db {
            path: path.clone(),
            message: e.to_string(),
        };
        let file = run_dir.join("results.json");
        let key = std::fs::read(&file)
            .map(|b| hex::encode(Sha256::digest(&b)))
            .map_err(|e| db(&format!("{}: {e}", file.display())))?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| db(&e))?;
        let machine = format!(
            "{} ({} cores, {})",
            results.machine.cpu, results.machine.logical_cores, results.machine.arch
        );
        let inserted = tx
            .execute(
                "INSERT OR IGNORE INTO run (run_key, run_id, started_unix, git_commit, edgebench_version, machine,
                 added_unix) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    key,
                    results.run_id,
                    results.started_unix as i64,
                    results.git_commit,
                    results.edgebench_version,
                    machine,
                    now_unix
                ],
            )
            .map_err(|e| db(&e))?;
        if inserted == 0 {
            return Ok(Added {
                run_id: results.run_id.clone(),
                cells: 0,
                already: true,
            });
        }
        let mut cells = 0;
        for c in &results.cells {
            let Some(l) = &c.latency else { continue };
            let digest = c
                .samples_file
                .as_ref()
                .and_then(|f| std::fs::read(run_dir.join(f)).ok())
                .map(|b| hex::encode(Sha256::digest(&b)));
            tx.execute(
                "INSERT OR REPLACE INTO cell (run_key, target, backend, model, variant, median_ns, ci_low_ns,
                 ci_high_ns, samples, samples_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    key,
                    c.target,
                    c.backend,
                    c.model,
                    c.variant,
                    l.p50_ns,
                    l.median_ci95_ns[0],
                    l.median_ci95_ns[1],
                    l.count as i64,
                    digest
                ],
            )
            .map_err(|e| db(&e))?;
            cells += 1;
        }
        tx.commit().map_err(|e| db(&e))?;
        Ok(Added {
            run_id: results.run_id.clone(),
            cells,
            already: false,
        })
    }

    /// The points matching `filter`, by series and then in run order (start time, then run id).
    pub fn series(&self, filter: &Filter) -> Result<Vec<Point>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.run_id, r.started_unix, r.git_commit, r.machine, c.target, c.backend, c.model, c.variant,
                        c.median_ns, c.ci_low_ns, c.ci_high_ns, c.samples, c.samples_sha256
                 FROM cell c JOIN run r ON r.run_key = c.run_key
                 WHERE (?1 IS NULL OR c.model = ?1) AND (?2 IS NULL OR c.backend = ?2) AND (?3 IS NULL OR c.target = ?3)
                 ORDER BY c.target, c.backend, c.model, c.variant, r.started_unix, r.run_id",
            )
            .map_err(|e| self.err(&e))?;
        let rows = stmt
            .query_map(params![filter.model, filter.backend, filter.target], |r| {
                Ok(Point {
                    run_id: r.get(0)?,
                    started_unix: r.get(1)?,
                    git_commit: r.get(2)?,
                    machine: r.get(3)?,
                    target: r.get(4)?,
                    backend: r.get(5)?,
                    model: r.get(6)?,
                    variant: r.get(7)?,
                    median_ns: r.get(8)?,
                    ci_low_ns: r.get(9)?,
                    ci_high_ns: r.get(10)?,
                    samples: r.get(11)?,
                    samples_sha256: r.get(12)?,
                })
            })
            .map_err(|e| self.err(&e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(&e))
    }
}
