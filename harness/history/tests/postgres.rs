//! The history on a real PostgreSQL server: the same schema and queries as SQLite, migrations, a re-add that is a
//! no-op, and two writers at once losing no row. The server's URL comes from `EDGEBENCH_TEST_POSTGRES` (`ci/test.sh`
//! starts one with `ci/postgres.sh`); without it the test says so and passes, unless `EDGEBENCH_CI` is set, where a
//! missing server is a failure.

use edgebench_history::{History, SCHEMA_VERSION};
use edgebench_report::Results;
use std::path::{Path, PathBuf};

fn url() -> Option<String> {
    match std::env::var("EDGEBENCH_TEST_POSTGRES") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var_os("EDGEBENCH_CI").is_some() => {
            panic!(
                "EDGEBENCH_CI is set but EDGEBENCH_TEST_POSTGRES is not: start one with ci/postgres.sh"
            )
        }
        _ => {
            eprintln!(
                "skipped: no PostgreSQL server (set EDGEBENCH_TEST_POSTGRES, e.g. from ci/postgres.sh)"
            );
            None
        }
    }
}

/// A saved run folder `<root>/<id>` with one timed cell of `median` ns, measured in 5 processes.
fn run(root: &Path, id: &str, median: f64) -> (Results, PathBuf) {
    let mut r: Results =
        serde_json::from_str(include_str!("../../report/tests/data/paired-side.json")).unwrap();
    r.run_id = id.into();
    r.settings.paired = None;
    let c = &mut r.cells[0];
    c.turns.clear();
    c.samples_file = None;
    c.latency.as_mut().unwrap().p50_ns = median;
    c.processes = (0..5)
        .map(|i| edgebench_report::ProcessRecord {
            samples: 10,
            p50_ns: median * (1.0 + 0.01 * i as f64),
        })
        .collect();
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    edgebench_report::save(&dir, &r).unwrap();
    (r, dir)
}

#[test]
fn the_history_runs_on_postgresql_with_the_same_schema_and_two_writers() {
    let Some(url) = url() else { return };
    // A clean database: the test owns edgebench_test.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("DROP TABLE IF EXISTS cell, run, edgebench_schema CASCADE")
        .unwrap();
    let d = tempfile::tempdir().unwrap();
    let loc = PathBuf::from(&url);
    let mut h = History::open(&loc).unwrap();
    assert_eq!(h.schema_version().unwrap(), SCHEMA_VERSION);
    let (r, dir) = run(d.path(), "r1", 1000.0);
    let a = h.add(&r, &dir, 1).unwrap();
    assert_eq!((a.cells, a.already), (1, false));
    assert!(h.add(&r, &dir, 2).unwrap().already, "a re-add is a no-op");
    let p = h.points(&Default::default()).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].median_ns, p[0].processes), (1000.0, 5));
    assert_eq!(p[0].best_process_ns, Some(1000.0));
    drop(h);
    // Reopening keeps the version; the filter's NULL parameters work on PostgreSQL too.
    let mut h = History::open(&loc).unwrap();
    assert_eq!(h.schema_version().unwrap(), SCHEMA_VERSION);
    let f = edgebench_history::Filter {
        model: Some("no-such-model".into()),
        ..Default::default()
    };
    assert!(h.points(&f).unwrap().is_empty());
    // Two writers at once, 12 runs each, each with its own connection: every row lands.
    let runs: Vec<Vec<(Results, PathBuf)>> = (0..2)
        .map(|w| {
            (0..12)
                .map(|i| run(d.path(), &format!("w{w}-{i}"), 1000.0 + i as f64))
                .collect()
        })
        .collect();
    std::thread::scope(|s| {
        for batch in &runs {
            let loc = loc.clone();
            s.spawn(move || {
                let mut h = History::open(&loc).unwrap();
                for (r, dir) in batch {
                    assert!(!h.add(r, dir, 3).unwrap().already);
                }
            });
        }
    });
    let series = h.series(&Default::default()).unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].points.len(), 25);
    // A newer schema is refused, naming the server without its password.
    c.execute("UPDATE edgebench_schema SET version = 99", &[])
        .unwrap();
    let e = History::open(&loc)
        .err()
        .expect("newer schema refused")
        .to_string();
    assert!(
        e.contains("schema version 99") && e.contains("127.0.0.1"),
        "{e}"
    );
    c.batch_execute("DROP TABLE IF EXISTS cell, run, edgebench_schema CASCADE")
        .unwrap();
}
