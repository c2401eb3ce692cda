//! The history file's schema: created and migrated on open, a newer one refused, reopening changes nothing.

use edgebench_history::{History, HistoryError, SCHEMA_VERSION};

#[test]
fn a_new_file_is_created_at_the_current_version_and_reopening_keeps_it() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("sub/history.sqlite");
    assert_eq!(
        History::open(&p).unwrap().schema_version().unwrap(),
        SCHEMA_VERSION
    );
    assert_eq!(
        History::open(&p).unwrap().schema_version().unwrap(),
        SCHEMA_VERSION
    );
    let c = rusqlite::Connection::open(&p).unwrap();
    let mode: String = c
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn an_empty_version_0_file_is_migrated_and_a_newer_one_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("h.sqlite");
    // version 0: a SQLite file with nothing in it (a file made by hand, or by an edgebench before the schema)
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch("CREATE TABLE unrelated (x)")
        .unwrap();
    let mut h = History::open(&p).unwrap();
    assert_eq!(h.schema_version().unwrap(), SCHEMA_VERSION);
    assert!(h.points(&Default::default()).unwrap().is_empty());
    drop(h);
    let q = d.path().join("newer.sqlite");
    rusqlite::Connection::open(&q)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    match History::open(&q) {
        Err(e @ HistoryError::Newer { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("newer.sqlite") && m.contains("schema version 99"),
                "{m}"
            );
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn a_version_1_file_with_points_is_migrated_keeping_them() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("v1.sqlite");
    // A file as edgebench's schema 1 left it: its tables and one point.
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(
        "CREATE TABLE run (run_key TEXT PRIMARY KEY, run_id TEXT NOT NULL, started_unix INTEGER NOT NULL,
           git_commit TEXT NOT NULL, edgebench_version TEXT NOT NULL, machine TEXT NOT NULL, added_unix INTEGER NOT NULL);
         CREATE TABLE cell (run_key TEXT NOT NULL REFERENCES run(run_key), target TEXT NOT NULL, backend TEXT NOT NULL,
           model TEXT NOT NULL, variant TEXT NOT NULL, median_ns REAL NOT NULL, ci_low_ns REAL NOT NULL,
           ci_high_ns REAL NOT NULL, samples INTEGER NOT NULL, samples_sha256 TEXT,
           PRIMARY KEY (run_key, target, backend, model, variant));
         CREATE INDEX cell_series ON cell (target, backend, model, variant);
         INSERT INTO run VALUES ('k', 'r1', 5, 'abc', '0.1.0', 'm', 6);
         INSERT INTO cell VALUES ('k', 'host', 'ort', 'tiny_mlp', 'fp32', 1000.0, 990.0, 1010.0, 50, NULL);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(c);
    let mut h = History::open(&p).unwrap();
    assert_eq!(h.schema_version().unwrap(), SCHEMA_VERSION);
    let pts = h.points(&Default::default()).unwrap();
    assert_eq!(pts.len(), 1);
    assert_eq!(
        (pts[0].median_ns, pts[0].processes, pts[0].best_process_ns),
        (1000.0, 1, None)
    );
    assert_eq!(pts[0].value_ns(), 1000.0);
}
