//! The two databases a history lives in, behind one small interface: SQLite (a file, the default; `rusqlite` with
//! SQLite compiled in) and PostgreSQL (`postgres://...`, for CI jobs on many machines; the `postgres` crate). Both
//! run the same schema and the same SQL: `$n` parameters (SQLite reads `$1` as a named parameter, numbered in
//! order of first use) and `ON CONFLICT` clauses, which both understand. Only the column types are spelled per
//! database (SQLite's REAL/INTEGER are PostgreSQL's DOUBLE PRECISION/BIGINT), and the schema version lives in
//! SQLite's `user_version` and in a one-row table in PostgreSQL.

use std::time::Duration;

/// A value bound to a parameter or read from a column.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum V {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Real(f64),
    OptReal(Option<f64>),
}

/// The type a column is read as.
#[derive(Clone, Copy)]
pub(crate) enum Ty {
    Text,
    OptText,
    Int,
    Real,
    OptReal,
}

pub(crate) enum Store {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// A transaction of either database.
pub(crate) enum Tx<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(postgres::Transaction<'a>),
}

type R<T> = Result<T, String>;

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Whether a `--db` value names a PostgreSQL server rather than a file.
pub(crate) fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

impl rusqlite::ToSql for V {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value};
        Ok(ToSqlOutput::Owned(match self {
            V::Text(t) => Value::Text(t.clone()),
            V::OptText(t) => t.clone().map(Value::Text).unwrap_or(Value::Null),
            V::Int(i) => Value::Integer(*i),
            V::Real(f) => Value::Real(*f),
            V::OptReal(f) => f.map(Value::Real).unwrap_or(Value::Null),
        }))
    }
}

fn pg_params(p: &[V]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    p.iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync> {
            match v {
                V::Text(t) => Box::new(t.clone()),
                V::OptText(t) => Box::new(t.clone()),
                V::Int(i) => Box::new(*i),
                V::Real(f) => Box::new(*f),
                V::OptReal(f) => Box::new(*f),
            }
        })
        .collect()
}

fn pg_row(r: &postgres::Row, types: &[Ty]) -> R<Vec<V>> {
    types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Ok(match t {
                Ty::Text => V::Text(r.try_get(i).map_err(s)?),
                Ty::OptText => V::OptText(r.try_get(i).map_err(s)?),
                Ty::Int => V::Int(r.try_get(i).map_err(s)?),
                Ty::Real => V::Real(r.try_get(i).map_err(s)?),
                Ty::OptReal => V::OptReal(r.try_get(i).map_err(s)?),
            })
        })
        .collect()
}

fn lite_row(r: &rusqlite::Row, types: &[Ty]) -> rusqlite::Result<Vec<V>> {
    types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Ok(match t {
                Ty::Text => V::Text(r.get(i)?),
                Ty::OptText => V::OptText(r.get(i)?),
                Ty::Int => V::Int(r.get(i)?),
                Ty::Real => V::Real(r.get(i)?),
                Ty::OptReal => V::OptReal(r.get(i)?),
            })
        })
        .collect()
}

/// A migration's SQL as PostgreSQL spells its column types.
fn pg_types(sql: &str) -> String {
    sql.replace(" REAL", " DOUBLE PRECISION")
        .replace(" INTEGER", " BIGINT")
}

impl Store {
    pub fn open_sqlite(path: &std::path::Path) -> R<Store> {
        let conn = rusqlite::Connection::open(path).map_err(s)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(s)?;
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
                Err(e) => return Err(s(e)),
            }
        }
        conn.set_prepared_statement_cache_capacity(16);
        Ok(Store::Sqlite(conn))
    }

    pub fn open_postgres(url: &str) -> R<Store> {
        let mut config: postgres::Config = url.parse().map_err(s)?;
        config.connect_timeout(Duration::from_secs(10));
        let client = config.connect(postgres::NoTls).map_err(s)?;
        Ok(Store::Postgres(Box::new(client)))
    }

    /// The schema version (0 for a database without edgebench's tables).
    pub fn version(&mut self) -> R<i64> {
        match self {
            Store::Sqlite(c) => c
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(s),
            Store::Postgres(c) => {
                let exists = c
                    .query_one("SELECT to_regclass('edgebench_schema') IS NOT NULL", &[])
                    .map_err(s)?
                    .get::<_, bool>(0);
                if !exists {
                    return Ok(0);
                }
                Ok(c.query_one("SELECT version FROM edgebench_schema", &[])
                    .map_err(s)?
                    .get(0))
            }
        }
    }

    /// Applies `migrations[found..]`, each with its version bump in one transaction; concurrent openers wait for
    /// each other (SQLite: an immediate transaction under the busy timeout; PostgreSQL: an advisory lock).
    pub fn migrate(&mut self, migrations: &[&str]) -> R<()> {
        for (v, sql) in migrations.iter().enumerate() {
            let v = v as i64;
            match self {
                Store::Sqlite(c) => {
                    let tx = c
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .map_err(s)?;
                    let now: i64 = tx
                        .pragma_query_value(None, "user_version", |r| r.get(0))
                        .map_err(s)?;
                    if now == v {
                        tx.execute_batch(sql).map_err(s)?;
                        tx.pragma_update(None, "user_version", v + 1).map_err(s)?;
                    }
                    tx.commit().map_err(s)?;
                }
                Store::Postgres(c) => {
                    let mut tx = c.transaction().map_err(s)?;
                    tx.execute("SELECT pg_advisory_xact_lock(7702023)", &[])
                        .map_err(s)?;
                    tx.batch_execute(
                        "CREATE TABLE IF NOT EXISTS edgebench_schema (version BIGINT NOT NULL);
                         INSERT INTO edgebench_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM edgebench_schema);",
                    )
                    .map_err(s)?;
                    let now: i64 = tx
                        .query_one("SELECT version FROM edgebench_schema", &[])
                        .map_err(s)?
                        .get(0);
                    if now == v {
                        tx.batch_execute(&pg_types(sql)).map_err(s)?;
                        tx.execute("UPDATE edgebench_schema SET version = $1", &[&(v + 1)])
                            .map_err(s)?;
                    }
                    tx.commit().map_err(s)?;
                }
            }
        }
        Ok(())
    }

    /// A write transaction (SQLite: taken at once, so two writers queue instead of failing on upgrade).
    pub fn write(&mut self) -> R<Tx<'_>> {
        Ok(match self {
            Store::Sqlite(c) => Tx::Sqlite(
                c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(s)?,
            ),
            Store::Postgres(c) => Tx::Postgres(c.transaction().map_err(s)?),
        })
    }

    pub fn query(&mut self, sql: &str, p: &[V], types: &[Ty]) -> R<Vec<Vec<V>>> {
        match self {
            Store::Sqlite(c) => {
                let mut st = c.prepare_cached(sql).map_err(s)?;
                let rows = st
                    .query_map(rusqlite::params_from_iter(p.iter()), |r| lite_row(r, types))
                    .map_err(s)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(s)
            }
            Store::Postgres(c) => {
                let owned = pg_params(p);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    owned.iter().map(|b| b.as_ref()).collect();
                c.query(sql, &refs)
                    .map_err(s)?
                    .iter()
                    .map(|r| pg_row(r, types))
                    .collect()
            }
        }
    }
}

impl Tx<'_> {
    /// Runs one statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &str, p: &[V]) -> R<u64> {
        match self {
            Tx::Sqlite(t) => t
                .execute(sql, rusqlite::params_from_iter(p.iter()))
                .map(|n| n as u64)
                .map_err(s),
            Tx::Postgres(t) => {
                let owned = pg_params(p);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    owned.iter().map(|b| b.as_ref()).collect();
                t.execute(sql, &refs).map_err(s)
            }
        }
    }

    pub fn commit(self) -> R<()> {
        match self {
            Tx::Sqlite(t) => t.commit().map_err(s),
            Tx::Postgres(t) => t.commit().map_err(s),
        }
    }
}
