//! The embedded count store: SQLite (WAL), one row per closed bucket and line or zone, written in
//! one transaction per closed set of buckets. A bucket is keyed by camera, name and start, and
//! written with an upsert: running the same recording again, or restarting after a crash,
//! replaces rows with the same figures and never doubles them. A process killed mid-run loses at
//! most its open bucket.
//!
//! The store keeps the figures as counted (the `min_count` floor applies to what is published);
//! it holds aggregates only, no per-person data.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use crate::count::Closed;

/// The schema this version writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS line_buckets (
    camera TEXT NOT NULL,
    line TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    passes INTEGER NOT NULL,
    in_count INTEGER NOT NULL,
    out_count INTEGER NOT NULL,
    PRIMARY KEY (camera, line, start_ms)
);
CREATE TABLE IF NOT EXISTS zone_buckets (
    camera TEXT NOT NULL,
    zone TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    passes INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    occupancy_min INTEGER,
    occupancy_max INTEGER,
    occupancy_mean REAL,
    dwell TEXT NOT NULL,
    PRIMARY KEY (camera, zone, start_ms)
);
";

/// Why the count store could not be opened or written; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct CountDbError {
    pub path: PathBuf,
    pub reason: String,
}

/// An open count store.
#[derive(Debug)]
pub struct CountDb {
    path: PathBuf,
    conn: Connection,
}

impl CountDb {
    /// Opens (creating) the store at `path`, in WAL mode, creating or checking its schema.
    pub fn open(path: &Path) -> Result<Self, CountDbError> {
        let err = |reason: String| CountDbError { path: path.to_owned(), reason };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(|e| err(e.to_string()))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| err(e.to_string()))?;
        // Every committed bucket survives a crash of the process (and of the machine).
        conn.pragma_update(None, "synchronous", "FULL").map_err(|e| err(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| err(e.to_string()))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| err(e.to_string()))?;
        match version {
            0 => {
                conn.execute_batch(SCHEMA).map_err(|e| err(e.to_string()))?;
                conn.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(|e| err(e.to_string()))?;
            }
            SCHEMA_VERSION => {}
            newer => {
                return Err(err(format!(
                    "count store schema version {newer} was written by a newer obscura (this one writes \
                     {SCHEMA_VERSION}); use another file or a newer obscura"
                )));
            }
        }
        Ok(Self { path: path.to_owned(), conn })
    }

    /// Writes every bucket of `closed` in one transaction (upserting by camera, name and start).
    pub fn write(&mut self, closed: &Closed) -> Result<(), CountDbError> {
        let err = |e: rusqlite::Error| CountDbError { path: self.path.clone(), reason: e.to_string() };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut line = tx
                .prepare_cached(
                    "INSERT INTO line_buckets (camera, line, start_ms, end_ms, passes, in_count, out_count)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (camera, line, start_ms) DO UPDATE SET
                       end_ms = excluded.end_ms, passes = excluded.passes,
                       in_count = excluded.in_count, out_count = excluded.out_count",
                )
                .map_err(err)?;
            for b in &closed.lines {
                line.execute(params![
                    b.camera,
                    b.line,
                    b.start_ms as i64,
                    b.end_ms as i64,
                    b.passes as i64,
                    b.in_count as i64,
                    b.out_count as i64
                ])
                .map_err(err)?;
            }
            let mut zone = tx
                .prepare_cached(
                    "INSERT INTO zone_buckets (camera, zone, start_ms, end_ms, passes, entries, occupancy_min,
                       occupancy_max, occupancy_mean, dwell)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (camera, zone, start_ms) DO UPDATE SET
                       end_ms = excluded.end_ms, passes = excluded.passes, entries = excluded.entries,
                       occupancy_min = excluded.occupancy_min, occupancy_max = excluded.occupancy_max,
                       occupancy_mean = excluded.occupancy_mean, dwell = excluded.dwell",
                )
                .map_err(err)?;
            for b in &closed.zones {
                let dwell = serde_json::to_string(&b.dwell).unwrap_or_else(|_| "[]".to_owned());
                zone.execute(params![
                    b.camera,
                    b.zone,
                    b.start_ms as i64,
                    b.end_ms as i64,
                    b.passes as i64,
                    b.entries as i64,
                    b.occupancy_min.map(|v| v as i64),
                    b.occupancy_max.map(|v| v as i64),
                    b.occupancy_mean,
                    dwell
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::LineBucket;

    fn line(start_ms: u64, in_count: u64) -> LineBucket {
        LineBucket {
            camera: "c".into(),
            line: "door".into(),
            start_ms,
            end_ms: start_ms + 60_000,
            passes: 10,
            in_count,
            out_count: 1,
        }
    }

    #[test]
    fn buckets_are_upserted_never_doubled_and_the_schema_is_versioned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/counts.sqlite");
        let mut db = CountDb::open(&path).unwrap();
        db.write(&Closed { lines: vec![line(0, 3), line(60_000, 4)], zones: vec![] }).unwrap();
        drop(db);
        let mut db = CountDb::open(&path).unwrap();
        db.write(&Closed { lines: vec![line(60_000, 4), line(120_000, 5)], zones: vec![] }).unwrap();
        let rows: Vec<(i64, i64)> = db
            .conn
            .prepare("SELECT start_ms, in_count FROM line_buckets ORDER BY start_ms")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [(0, 3), (60_000, 4), (120_000, 5)]);
        let mode: String = db.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        db.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(db);
        let err = CountDb::open(&path).unwrap_err().to_string();
        assert!(err.contains("schema version 99") && err.contains("counts.sqlite"), "{err}");
    }
}
