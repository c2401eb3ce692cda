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
    let h = History::open(&p).unwrap();
    assert_eq!(h.schema_version().unwrap(), SCHEMA_VERSION);
    assert!(h.series(&Default::default()).unwrap().is_empty());
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
