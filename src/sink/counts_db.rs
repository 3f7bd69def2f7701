//! The embedded count store: SQLite (WAL), one row per closed bucket and line or zone, written in
//! one transaction per closed set of buckets. A bucket is keyed by camera, name and start, and
//! written with an upsert: running the same recording again, or restarting after a crash,
//! replaces rows with the same figures and never doubles them. A process killed mid-run loses at
//! most its open bucket.
//!
//! The store keeps the figures as counted (the `min_count` floor applies to what is published);
//! it holds aggregates only, no per-person data.
//!
//! With MQTT on, each closed bucket's message is also queued in `mqtt_outbox`, in the same
//! transaction: a bucket is never stored without its message, nor sent without being stored.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use crate::count::Closed;

/// The schema this version writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 2;

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

/// Version 2: the MQTT outbox (messages waiting for the broker's acknowledgement, in id order).
const SCHEMA_2: &str = "
CREATE TABLE IF NOT EXISTS mqtt_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    retain INTEGER NOT NULL
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
    /// MQTT on: the topic prefix and the `min_count` floor of the queued messages.
    outbox: Option<(String, u64)>,
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
            0 | 1 => {
                // A new store, or one written before the outbox: add what is missing.
                conn.execute_batch(&format!(
                    "BEGIN; {SCHEMA} {SCHEMA_2} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                ))
                .map_err(|e| err(e.to_string()))?;
            }
            SCHEMA_VERSION => {}
            newer => {
                return Err(err(format!(
                    "count store schema version {newer} was written by a newer obscura (this one writes \
                     {SCHEMA_VERSION}); use another file or a newer obscura"
                )));
            }
        }
        Ok(Self { path: path.to_owned(), conn, outbox: None })
    }

    /// Queues an MQTT message for every bucket written from now on, on topics under `prefix`,
    /// with figures under the floor `min_count` published as `"<k"`.
    pub fn with_outbox(mut self, prefix: &str, min_count: u64) -> Self {
        self.outbox = Some((prefix.to_owned(), min_count));
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes every bucket of `closed` in one transaction, replacing a stored bucket with the same
    /// camera, name and start (a file counted again writes the same rows: idempotent).
    pub fn write(&mut self, closed: &Closed) -> Result<(), CountDbError> {
        self.write_with(closed, false).map(|_| ())
    }

    /// Writes every bucket of `closed` in one transaction, adding to a stored bucket with the same
    /// camera, name and start: a live camera restarted mid-bucket (a reload, a restart of the
    /// service) stored the first part of that bucket; the second part is added to it, never put in
    /// its place. Returns the buckets as stored (what MQTT then publishes).
    pub fn write_merging(&mut self, closed: &Closed) -> Result<Closed, CountDbError> {
        self.write_with(closed, true).map(std::borrow::Cow::into_owned)
    }

    /// Writes `closed`, first added to the stored buckets when `merge`; returns what it wrote.
    fn write_with<'c>(
        &mut self,
        closed: &'c Closed,
        merge: bool,
    ) -> Result<std::borrow::Cow<'c, Closed>, CountDbError> {
        let err = |e: rusqlite::Error| CountDbError { path: self.path.clone(), reason: e.to_string() };
        let tx = self.conn.transaction().map_err(err)?;
        let written = if merge {
            std::borrow::Cow::Owned(merged_with_stored(&tx, closed).map_err(err)?)
        } else {
            std::borrow::Cow::Borrowed(closed)
        };
        let closed = &*written;
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
            if let Some((prefix, min_count)) = &self.outbox {
                let mut queue = tx
                    .prepare_cached("INSERT INTO mqtt_outbox (topic, payload, retain) VALUES (?1, ?2, ?3)")
                    .map_err(err)?;
                for m in super::mqtt::bucket_messages(closed, prefix, *min_count) {
                    queue.execute(params![m.topic, m.payload, m.retain]).map_err(err)?;
                }
            }
        }
        tx.commit().map_err(err)?;
        Ok(written)
    }
}

/// `closed` with each bucket added to the stored one of the same camera, name and start.
fn merged_with_stored(tx: &rusqlite::Transaction<'_>, closed: &Closed) -> rusqlite::Result<Closed> {
    use rusqlite::OptionalExtension;
    let mut out = closed.clone();
    for b in &mut out.lines {
        let stored: Option<(i64, i64, i64)> = tx
            .query_row(
                "SELECT passes, in_count, out_count FROM line_buckets WHERE camera = ?1 AND line = ?2 AND start_ms = ?3",
                params![b.camera, b.line, b.start_ms as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((passes, inn, out)) = stored {
            b.passes += passes.max(0) as u64;
            b.in_count += inn.max(0) as u64;
            b.out_count += out.max(0) as u64;
        }
    }
    for b in &mut out.zones {
        type Row = (i64, i64, Option<i64>, Option<i64>, Option<f64>, String);
        let stored: Option<Row> = tx
            .query_row(
                "SELECT passes, entries, occupancy_min, occupancy_max, occupancy_mean, dwell FROM zone_buckets
                 WHERE camera = ?1 AND zone = ?2 AND start_ms = ?3",
                params![b.camera, b.zone, b.start_ms as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()?;
        let Some((passes, entries, min, max, mean, dwell)) = stored else { continue };
        let (old_passes, new_passes) = (passes.max(0) as u64, b.passes);
        b.passes += old_passes;
        b.entries += entries.max(0) as u64;
        let both = |a: Option<u64>, b: Option<u64>, f: fn(u64, u64) -> u64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        b.occupancy_min = both(b.occupancy_min, min.map(|v| v.max(0) as u64), u64::min);
        b.occupancy_max = both(b.occupancy_max, max.map(|v| v.max(0) as u64), u64::max);
        b.occupancy_mean = match (b.occupancy_mean, mean) {
            (Some(new), Some(old)) if b.passes > 0 => {
                Some((new * new_passes as f64 + old * old_passes as f64) / b.passes as f64)
            }
            (new, old) => new.or(old),
        };
        let old_dwell: Vec<crate::count::DwellBin> = serde_json::from_str(&dwell).unwrap_or_default();
        for (bin, old) in b.dwell.iter_mut().zip(&old_dwell) {
            if (bin.from_ms, bin.to_ms) == (old.from_ms, old.to_ms) {
                bin.count += old.count;
            }
        }
    }
    Ok(out)
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
        let queued: i64 = db.conn.query_row("SELECT count(*) FROM mqtt_outbox", [], |r| r.get(0)).unwrap();
        assert_eq!(queued, 0, "no MQTT, no outbox rows");
        db.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(db);
        let err = CountDb::open(&path).unwrap_err().to_string();
        assert!(err.contains("schema version 99") && err.contains("counts.sqlite"), "{err}");
    }

    #[test]
    fn a_live_camera_restarted_mid_bucket_adds_to_the_part_stored_before() {
        use crate::count::{DwellBin, ZoneBucket};
        let dir = tempfile::tempdir().unwrap();
        let mut db = CountDb::open(&dir.path().join("c.sqlite")).unwrap().with_outbox("obscura", 0);
        let zone = |passes: u64, entries: u64, max: u64, mean: f64, dwell: u64| ZoneBucket {
            camera: "c".into(),
            zone: "till".into(),
            start_ms: 0,
            end_ms: 60_000,
            passes,
            entries,
            occupancy_min: Some(0),
            occupancy_max: Some(max),
            occupancy_mean: Some(mean),
            dwell: vec![
                DwellBin { from_ms: 0, to_ms: Some(10_000), count: dwell },
                DwellBin { from_ms: 10_000, to_ms: None, count: 1 },
            ],
        };
        // The first part, flushed when the camera stopped; then the rest of the same minute.
        db.write_merging(&Closed { lines: vec![line(0, 3)], zones: vec![zone(30, 2, 4, 1.0, 1)] }).unwrap();
        let stored = db
            .write_merging(&Closed { lines: vec![line(0, 5)], zones: vec![zone(10, 1, 2, 3.0, 2)] })
            .unwrap();
        assert_eq!((stored.lines[0].passes, stored.lines[0].in_count, stored.lines[0].out_count), (20, 8, 2));
        let z = &stored.zones[0];
        assert_eq!((z.passes, z.entries, z.occupancy_max, z.occupancy_min), (40, 3, Some(4), Some(0)));
        assert!((z.occupancy_mean.unwrap() - 1.5).abs() < 1e-9, "weighted by passes: {z:?}");
        assert_eq!(z.dwell.iter().map(|b| b.count).collect::<Vec<_>>(), [3, 2]);
        let (passes, inn): (i64, i64) = db
            .conn
            .query_row("SELECT passes, in_count FROM line_buckets", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((passes, inn), (20, 8), "stored as the sum");
        let last: String = db
            .conn
            .query_row("SELECT payload FROM mqtt_outbox ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
            .unwrap();
        assert!(
            last.contains("\"entries\":3") || last.contains("\"in\":8"),
            "MQTT publishes the sum: {last}"
        );
        // A file counted again still replaces (idempotent).
        db.write(&Closed { lines: vec![line(0, 5)], zones: vec![] }).unwrap();
        let inn: i64 = db.conn.query_row("SELECT in_count FROM line_buckets", [], |r| r.get(0)).unwrap();
        assert_eq!(inn, 5);
    }

    #[test]
    fn a_version_1_store_gains_the_outbox_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("counts.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute("INSERT INTO line_buckets VALUES ('c', 'door', 0, 60000, 10, 3, 1)", []).unwrap();
        drop(conn);
        let mut db = CountDb::open(&path).unwrap().with_outbox("obscura", 0);
        db.write(&Closed { lines: vec![line(60_000, 4)], zones: vec![] }).unwrap();
        let version: i64 = db.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let rows: i64 = db.conn.query_row("SELECT count(*) FROM line_buckets", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 2);
        let (topic, retain): (String, bool) = db
            .conn
            .query_row("SELECT topic, retain FROM mqtt_outbox", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((topic.as_str(), retain), ("obscura/c/line/door", true));
    }
}
