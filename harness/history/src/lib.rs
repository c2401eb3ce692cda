//! The record of many runs: per-cell series across commits and machines, in a SQLite file (the default; SQLite
//! compiled in) or on a PostgreSQL server (`postgres://...`). `history` reads saved results only and never measures.
//!
//! The schema is versioned and migrated forward on open (the same migrations and queries on both databases,
//! [`store`]). A SQLite file is in WAL mode with a busy timeout; every `add` is one transaction: two CI jobs adding
//! runs at once both land, whole.

mod changes;
mod store;
pub use changes::{Change, Settings, changes};

use edgebench_report::Results;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use store::{Store, Ty, V};

/// The schema version this build writes; older databases are migrated on open, newer ones refused.
pub const SCHEMA_VERSION: i64 = 2;

/// Migrations, in order: entry `i` takes a database from version `i` to `i + 1`. Written with SQLite's type names;
/// PostgreSQL gets DOUBLE PRECISION and BIGINT for REAL and INTEGER.
const MIGRATIONS: &[&str] = &[
    "
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
",
    // 2: the number of processes of a cell and its best process's median (`bench --processes K`: the statistic the
    // gate compares, and the series' value; on a VM whose speed differs between processes it is steadier).
    "
    ALTER TABLE cell ADD COLUMN processes INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE cell ADD COLUMN best_process_ns REAL;
",
];

/// Why the history could not be read or written. Every variant names the database.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: {message}")]
    Db { path: PathBuf, message: String },
    #[error(
        "{path}: schema version {found} is newer than this edgebench's ({SCHEMA_VERSION}); use a newer build"
    )]
    Newer { path: PathBuf, found: i64 },
}

/// An open history.
pub struct History {
    store: Store,
    /// The file, or the server's URL without its password.
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
    pub processes: i64,
    /// The best process's median, for cells of several processes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_process_ns: Option<f64>,
}

impl Point {
    /// The value a series is judged on: the best process's median where there are several, else the median.
    pub fn value_ns(&self) -> f64 {
        self.best_process_ns.unwrap_or(self.median_ns)
    }
}

/// One cell's points in run order, with its change points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub target: String,
    pub backend: String,
    pub model: String,
    pub variant: String,
    pub points: Vec<Point>,
    pub changes: Vec<Change>,
}

impl Series {
    /// `target/backend/model/variant`.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.target, self.backend, self.model, self.variant
        )
    }
}

/// Which series to read (`None`: any).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub model: Option<String>,
    pub backend: Option<String>,
    pub target: Option<String>,
}

impl History {
    /// Opens (creating it if needed) and migrates a history: a SQLite file (its folder made if needed), or a
    /// PostgreSQL database given as `postgres://user@host/db` (which must exist).
    pub fn open(location: &Path) -> Result<History, HistoryError> {
        let text = location.to_string_lossy().to_string();
        let shown: PathBuf = if store::is_postgres(&text) {
            hide_password(&text).into()
        } else {
            location.into()
        };
        let db = |e: &dyn std::fmt::Display| HistoryError::Db {
            path: shown.clone(),
            message: e.to_string(),
        };
        let mut store = if store::is_postgres(&text) {
            Store::open_postgres(&text).map_err(|e| db(&e))?
        } else {
            if let Some(dir) = location.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| db(&e))?;
            }
            Store::open_sqlite(location).map_err(|e| db(&e))?
        };
        let found = store.version().map_err(|e| db(&e))?;
        if found > SCHEMA_VERSION {
            return Err(HistoryError::Newer { path: shown, found });
        }
        store.migrate(MIGRATIONS).map_err(|e| db(&e))?;
        Ok(History { store, path: shown })
    }

    /// The database as it may be shown: the file, or the server's URL without its password.
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// The schema version of the open database.
    pub fn schema_version(&mut self) -> Result<i64, HistoryError> {
        let r = self.store.version();
        r.map_err(|e| self.err(&e))
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
        let file = run_dir.join("results.json");
        let key = std::fs::read(&file)
            .map(|b| hex::encode(Sha256::digest(&b)))
            .map_err(|e| self.err(&format!("{}: {e}", file.display())))?;
        let machine = format!(
            "{} ({} cores, {})",
            results.machine.cpu, results.machine.logical_cores, results.machine.arch
        );
        let mut rows = vec![];
        for c in &results.cells {
            let Some(l) = &c.latency else { continue };
            let digest = c
                .samples_file
                .as_ref()
                .and_then(|f| std::fs::read(run_dir.join(f)).ok())
                .map(|b| hex::encode(Sha256::digest(&b)));
            let best = (c.processes.len() >= 2).then(|| {
                c.processes
                    .iter()
                    .map(|p| p.p50_ns)
                    .fold(f64::INFINITY, f64::min)
            });
            rows.push(vec![
                V::Text(key.clone()),
                V::Text(c.target.clone()),
                V::Text(c.backend.clone()),
                V::Text(c.model.clone()),
                V::Text(c.variant.clone()),
                V::Real(l.p50_ns),
                V::Real(l.median_ci95_ns[0]),
                V::Real(l.median_ci95_ns[1]),
                V::Int(l.count as i64),
                V::OptText(digest),
                V::Int(c.processes.len().max(1) as i64),
                V::OptReal(best),
            ]);
        }
        let path = self.path.clone();
        let db = |e: String| HistoryError::Db {
            path: path.clone(),
            message: e,
        };
        let mut tx = self.store.write().map_err(db)?;
        let inserted = tx
            .execute(
                "INSERT INTO run (run_key, run_id, started_unix, git_commit, edgebench_version, machine, added_unix)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_key) DO NOTHING",
                &[
                    V::Text(key.clone()),
                    V::Text(results.run_id.clone()),
                    V::Int(results.started_unix as i64),
                    V::Text(results.git_commit.clone()),
                    V::Text(results.edgebench_version.clone()),
                    V::Text(machine),
                    V::Int(now_unix),
                ],
            )
            .map_err(db)?;
        if inserted == 0 {
            tx.commit().map_err(db)?;
            return Ok(Added {
                run_id: results.run_id.clone(),
                cells: 0,
                already: true,
            });
        }
        for r in &rows {
            tx.execute(
                "INSERT INTO cell (run_key, target, backend, model, variant, median_ns, ci_low_ns, ci_high_ns,
                 samples, samples_sha256, processes, best_process_ns)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (run_key, target, backend, model, variant) DO NOTHING",
                r,
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(Added {
            run_id: results.run_id.clone(),
            cells: rows.len(),
            already: false,
        })
    }

    /// The points matching `filter`, by series and then in run order (start time, then run id).
    pub fn points(&mut self, filter: &Filter) -> Result<Vec<Point>, HistoryError> {
        use Ty::*;
        let opt = |x: &Option<String>| V::OptText(x.clone());
        let rows = self
            .store
            .query(
                "SELECT r.run_id, r.started_unix, r.git_commit, r.machine, c.target, c.backend, c.model, c.variant,
                        c.median_ns, c.ci_low_ns, c.ci_high_ns, c.samples, c.samples_sha256, c.processes,
                        c.best_process_ns
                 FROM cell c JOIN run r ON r.run_key = c.run_key
                 WHERE (CAST($1 AS TEXT) IS NULL OR c.model = $1) AND (CAST($2 AS TEXT) IS NULL OR c.backend = $2)
                   AND (CAST($3 AS TEXT) IS NULL OR c.target = $3)
                 ORDER BY c.target, c.backend, c.model, c.variant, r.started_unix, r.run_id",
                &[opt(&filter.model), opt(&filter.backend), opt(&filter.target)],
                &[
                    Text, Int, Text, Text, Text, Text, Text, Text, Real, Real, Real, Int, OptText, Int,
                    OptReal,
                ],
            )
            .map_err(|e| self.err(&e))?;
        Ok(rows.into_iter().filter_map(point).collect())
    }

    /// The series matching `filter`, each with its change points (over [`Point::value_ns`]).
    pub fn series(&mut self, filter: &Filter) -> Result<Vec<Series>, HistoryError> {
        Ok(group(self.points(filter)?))
    }
}

/// A row of the points query as a point (`None` if a column has another type than the query's).
fn point(v: Vec<V>) -> Option<Point> {
    let text = |i: usize| match v.get(i) {
        Some(V::Text(s)) => Some(s.clone()),
        _ => None,
    };
    let int = |i: usize| match v.get(i) {
        Some(V::Int(x)) => Some(*x),
        _ => None,
    };
    let real = |i: usize| match v.get(i) {
        Some(V::Real(x)) => Some(*x),
        _ => None,
    };
    Some(Point {
        run_id: text(0)?,
        started_unix: int(1)?,
        git_commit: text(2)?,
        machine: text(3)?,
        target: text(4)?,
        backend: text(5)?,
        model: text(6)?,
        variant: text(7)?,
        median_ns: real(8)?,
        ci_low_ns: real(9)?,
        ci_high_ns: real(10)?,
        samples: int(11)?,
        samples_sha256: match v.get(12) {
            Some(V::OptText(s)) => s.clone(),
            _ => None,
        },
        processes: int(13)?,
        best_process_ns: match v.get(14) {
            Some(V::OptReal(x)) => *x,
            _ => None,
        },
    })
}

/// Consecutive points of one cell make a series; each gets its change points.
fn group(points: Vec<Point>) -> Vec<Series> {
    let mut out: Vec<Series> = vec![];
    for p in points {
        let same = out.last().is_some_and(|s| {
            (&s.target, &s.backend, &s.model, &s.variant)
                == (&p.target, &p.backend, &p.model, &p.variant)
        });
        if !same {
            out.push(Series {
                target: p.target.clone(),
                backend: p.backend.clone(),
                model: p.model.clone(),
                variant: p.variant.clone(),
                points: vec![],
                changes: vec![],
            });
        }
        if let Some(s) = out.last_mut() {
            s.points.push(p);
        }
    }
    for s in &mut out {
        let values: Vec<f64> = s.points.iter().map(Point::value_ns).collect();
        s.changes = changes(&values, Settings::default());
    }
    out
}

/// A PostgreSQL URL as it may be shown: its password replaced.
fn hide_password(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(a), Some(at)) if at > a => {
            let creds = &url[a + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..a + 3], &url[at..]),
                None => url.into(),
            }
        }
        _ => url.into(),
    }
}
