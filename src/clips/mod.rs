//! The event-clip library: redacted clips in a folder, indexed in the SQLite store (camera, start,
//! end, file, size, reason) so the API lists them without scanning, with retention by age and by
//! total size (oldest first). The folder is the truth: the index is rebuilt from the file names
//! when the store was lost, and files a crash left half-written (`.part`) are removed at open and
//! never listed.
//!
//! A clip's file name carries what the index needs and nothing about anyone in it:
//! `CAMERA_STARTMS_ENDMS_REASON.mp4` (reason: `people`, `zone`, `line`), with its privacy report
//! beside it as `….mp4.privacy.json`.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

pub mod recorder;

pub use recorder::{ClipEvent, ClipEvents, ClipRecorder, ClipStore, ClipTrigger, ClipsConfig, EventKind};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    camera TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    file TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS clips_by_start ON clips (start_ms);
";

/// Why the clip library could not be opened or changed; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct ClipError {
    pub path: PathBuf,
    pub reason: String,
}

/// One clip as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clip {
    pub id: i64,
    pub camera: String,
    pub start_ms: u64,
    pub end_ms: u64,
    /// The file name in the clips folder.
    pub file: String,
    pub size: u64,
    pub reason: String,
}

/// How long clips are kept and how much room they may take; `None`: no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub max_age_ms: Option<u64>,
    pub max_bytes: Option<u64>,
}

/// The clips folder and its index.
#[derive(Debug)]
pub struct ClipLibrary {
    dir: PathBuf,
    db_path: PathBuf,
    conn: Connection,
}

/// The file name of a clip.
pub fn clip_name(camera: &str, start_ms: u64, end_ms: u64, reason: &str) -> String {
    format!("{camera}_{start_ms}_{end_ms}_{reason}.mp4")
}

/// Where a clip's thumbnail is: `….mp4` → `….mp4.jpg`.
pub fn thumbnail_path(clip: &Path) -> PathBuf {
    let mut name = clip.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".jpg");
    clip.with_file_name(name)
}

/// `(camera, start_ms, end_ms, reason)` of a clip's file name, if it is one.
pub fn parse_clip_name(name: &str) -> Option<(String, u64, u64, String)> {
    let stem = name.strip_suffix(".mp4")?;
    let mut parts = stem.rsplitn(4, '_');
    let reason = parts.next()?;
    let end: u64 = parts.next()?.parse().ok()?;
    let start: u64 = parts.next()?.parse().ok()?;
    let camera = parts.next()?;
    let known = matches!(reason, "people" | "zone" | "line");
    (known && !camera.is_empty() && end >= start).then(|| (camera.to_owned(), start, end, reason.to_owned()))
}

impl ClipLibrary {
    /// Opens the clips folder `dir` (created if missing) and its index in the SQLite store at
    /// `db`: half-written files are removed, and clips on disk but not in the index (a lost or
    /// new store) are indexed, rows whose file is gone dropped.
    pub fn open(dir: &Path, db: &Path) -> Result<Self, ClipError> {
        let fail = |path: &Path, reason: String| ClipError { path: path.to_owned(), reason };
        std::fs::create_dir_all(dir)
            .map_err(|e| fail(dir, format!("cannot create the clips folder: {e}")))?;
        let conn = Connection::open(db).map_err(|e| fail(db, e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| fail(db, e.to_string()))?;
        conn.execute_batch(SCHEMA).map_err(|e| fail(db, e.to_string()))?;
        let library = Self { dir: dir.to_owned(), db_path: db.to_owned(), conn };
        library.reconcile()?;
        Ok(library)
    }

    fn db_err(&self, e: rusqlite::Error) -> ClipError {
        ClipError { path: self.db_path.clone(), reason: e.to_string() }
    }

    fn dir_err(&self, e: std::io::Error) -> ClipError {
        ClipError { path: self.dir.clone(), reason: e.to_string() }
    }

    /// Makes the index match the folder.
    fn reconcile(&self) -> Result<(), ClipError> {
        // Clips and reports a crash left half-written: removed, never listed, never finished.
        crate::sink::sweep_dead(&self.dir);
        let mut on_disk = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| self.dir_err(e))? {
            let entry = entry.map_err(|e| self.dir_err(e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(parsed) = parse_clip_name(&name) {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                on_disk.push((name, parsed, size));
            } else if let Some(clip) =
                name.strip_suffix(".jpg").or_else(|| name.strip_suffix(".privacy.json"))
                && parse_clip_name(clip).is_some()
                && !self.dir.join(clip).exists()
            {
                // The thumbnail or report of a clip that is gone (a crash between the two).
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let indexed: Vec<(i64, String)> = {
            let mut stmt = self.conn.prepare("SELECT id, file FROM clips").map_err(|e| self.db_err(e))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.db_err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.db_err(e))?
        };
        for (id, file) in &indexed {
            if !on_disk.iter().any(|(name, _, _)| name == file) {
                self.conn.execute("DELETE FROM clips WHERE id = ?1", [id]).map_err(|e| self.db_err(e))?;
            }
        }
        for (name, (camera, start, end, reason), size) in on_disk {
            if !indexed.iter().any(|(_, file)| *file == name) {
                self.insert(&camera, start, end, &name, size, &reason)?;
            }
        }
        Ok(())
    }

    fn insert(
        &self,
        camera: &str,
        start: u64,
        end: u64,
        file: &str,
        size: u64,
        reason: &str,
    ) -> Result<i64, ClipError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO clips (camera, start_ms, end_ms, file, size, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![camera, start as i64, end as i64, file, size as i64, reason],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The folder clips are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Indexes a finished clip (its file already renamed into place in the folder).
    pub fn add(&self, camera: &str, start_ms: u64, end_ms: u64, reason: &str) -> Result<Clip, ClipError> {
        let file = clip_name(camera, start_ms, end_ms, reason);
        let size = std::fs::metadata(self.dir.join(&file)).map_err(|e| self.dir_err(e))?.len();
        let id = self.insert(camera, start_ms, end_ms, &file, size, reason)?;
        Ok(Clip { id, camera: camera.to_owned(), start_ms, end_ms, file, size, reason: reason.to_owned() })
    }

    /// The clips of `camera` (all cameras if `None`) overlapping `from..to`, oldest first.
    pub fn list(
        &self,
        camera: Option<&str>,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<Vec<Clip>, ClipError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, camera, start_ms, end_ms, file, size, reason FROM clips
                 WHERE (?1 IS NULL OR camera = ?1) AND end_ms >= ?2 AND start_ms < ?3
                 ORDER BY start_ms, id",
            )
            .map_err(|e| self.db_err(e))?;
        let from = from.map_or(0, |v| v.min(i64::MAX as u64) as i64);
        let to = to.map_or(i64::MAX, |v| v.min(i64::MAX as u64) as i64);
        let rows = stmt.query_map(params![camera, from, to], row_clip).map_err(|e| self.db_err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.db_err(e))
    }

    /// The clip with `id` and the path of its file.
    pub fn get(&self, id: i64) -> Result<Option<(Clip, PathBuf)>, ClipError> {
        let clip = self
            .conn
            .query_row(
                "SELECT id, camera, start_ms, end_ms, file, size, reason FROM clips WHERE id = ?1",
                [id],
                row_clip,
            )
            .optional()
            .map_err(|e| self.db_err(e))?;
        Ok(clip.map(|c| {
            let path = self.dir.join(&c.file);
            (c, path)
        }))
    }

    /// Deletes the clip with `id` (its file, its privacy report and its row); `false` if there is
    /// none.
    pub fn delete(&self, id: i64) -> Result<bool, ClipError> {
        let Some((clip, path)) = self.get(id)? else { return Ok(false) };
        self.remove(&clip, &path)?;
        Ok(true)
    }

    fn remove(&self, clip: &Clip, path: &Path) -> Result<(), ClipError> {
        for file in [path.to_owned(), crate::report::sidecar_path(path), thumbnail_path(path)] {
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ClipError { path: file, reason: e.to_string() }),
            }
        }
        self.conn.execute("DELETE FROM clips WHERE id = ?1", [clip.id]).map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Applies `retention` at `now_ms` to the clips of `camera` (all if `None`): clips that ended
    /// longer ago than the age limit are deleted, then the oldest until the rest fit in the size
    /// limit. Returns the clips deleted.
    pub fn enforce(
        &self,
        camera: Option<&str>,
        retention: Retention,
        now_ms: u64,
    ) -> Result<Vec<Clip>, ClipError> {
        let clips = self.list(camera, None, None)?;
        let mut total: u64 = clips.iter().map(|c| c.size).sum();
        let mut deleted = Vec::new();
        for clip in clips {
            let too_old = retention.max_age_ms.is_some_and(|age| clip.end_ms.saturating_add(age) < now_ms);
            let too_big = retention.max_bytes.is_some_and(|max| total > max);
            if too_old || too_big {
                let path = self.dir.join(&clip.file);
                self.remove(&clip, &path)?;
                total -= clip.size;
                deleted.push(clip);
            }
        }
        Ok(deleted)
    }
}

fn row_clip(r: &rusqlite::Row<'_>) -> rusqlite::Result<Clip> {
    Ok(Clip {
        id: r.get(0)?,
        camera: r.get(1)?,
        start_ms: r.get::<_, i64>(2)?.max(0) as u64,
        end_ms: r.get::<_, i64>(3)?.max(0) as u64,
        file: r.get(4)?,
        size: r.get::<_, i64>(5)?.max(0) as u64,
        reason: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_795_341_600_000;
    const MIN: u64 = 60_000;

    /// Writes a clip file of `size` bytes (and its report) into `dir`.
    fn write_clip(dir: &Path, camera: &str, start: u64, end: u64, size: usize) -> String {
        let name = clip_name(camera, start, end, "people");
        std::fs::write(dir.join(&name), vec![0u8; size]).unwrap();
        std::fs::write(dir.join(format!("{name}.privacy.json")), "{}").unwrap();
        name
    }

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        let name = clip_name("door_cam", T0, T0 + MIN, "line");
        assert_eq!(parse_clip_name(&name), Some(("door_cam".into(), T0, T0 + MIN, "line".into())));
        for other in
            ["notes.txt", "a_1_2_party.mp4", "a_2_1_people.mp4", "_1_2_people.mp4", "a_x_2_people.mp4"]
        {
            assert_eq!(parse_clip_name(other), None, "{other}");
        }
    }

    #[test]
    fn the_index_is_rebuilt_from_the_folder_and_half_written_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let clips = dir.path().join("clips");
        std::fs::create_dir_all(&clips).unwrap();
        write_clip(&clips, "door", T0, T0 + MIN, 100);
        write_clip(&clips, "yard", T0 + MIN, T0 + 2 * MIN, 200);
        // Left by a process that is gone (no such PID).
        std::fs::write(clips.join(".door_5_6_people.mp4.3999999-0.part"), b"half").unwrap();
        let db = dir.path().join("counts.sqlite");
        let library = ClipLibrary::open(&clips, &db).unwrap();
        let all = library.list(None, None, None).unwrap();
        assert_eq!(
            all.iter().map(|c| (c.camera.as_str(), c.size)).collect::<Vec<_>>(),
            [("door", 100), ("yard", 200)]
        );
        assert!(
            !clips.join(".door_5_6_people.mp4.3999999-0.part").exists(),
            "a half-written clip is removed"
        );
        assert_eq!(library.list(Some("yard"), None, None).unwrap().len(), 1);
        assert_eq!(library.list(None, Some(T0 + MIN + 1), None).unwrap().len(), 1, "overlapping from..");
        // A file deleted behind the library's back leaves the index at the next open.
        drop(library);
        std::fs::remove_file(clips.join(&all[0].file)).unwrap();
        let library = ClipLibrary::open(&clips, &db).unwrap();
        assert_eq!(library.list(None, None, None).unwrap().len(), 1);
        // The store lost: rebuilt from the folder.
        drop(library);
        std::fs::remove_file(&db).unwrap();
        let library = ClipLibrary::open(&clips, &db).unwrap();
        assert_eq!(library.list(None, None, None).unwrap()[0].camera, "yard");
    }

    #[test]
    fn retention_deletes_the_oldest_first_by_age_then_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let clips = dir.path().join("clips");
        let library = ClipLibrary::open(&clips, &dir.path().join("c.sqlite")).unwrap();
        for i in 0..5u64 {
            write_clip(&clips, "door", T0 + i * 10 * MIN, T0 + i * 10 * MIN + MIN, 1000);
            library.add("door", T0 + i * 10 * MIN, T0 + i * 10 * MIN + MIN, "people").unwrap();
        }
        // Clip 0 ended more than 40 min before now; then 2500 bytes allow the newest two.
        let now = T0 + 41 * MIN + 1;
        let retention = Retention { max_age_ms: Some(40 * MIN), max_bytes: Some(2500) };
        let deleted = library.enforce(Some("door"), retention, now).unwrap();
        assert_eq!(
            deleted.iter().map(|c| c.start_ms).collect::<Vec<_>>(),
            [T0, T0 + 10 * MIN, T0 + 20 * MIN]
        );
        let kept = library.list(None, None, None).unwrap();
        assert_eq!(kept.iter().map(|c| c.start_ms).collect::<Vec<_>>(), [T0 + 30 * MIN, T0 + 40 * MIN]);
        for clip in &deleted {
            assert!(
                !clips.join(&clip.file).exists()
                    && !clips.join(format!("{}.privacy.json", clip.file)).exists()
            );
        }
        assert!(library.delete(kept[0].id).unwrap());
        assert!(!library.delete(kept[0].id).unwrap(), "gone already");
        assert_eq!(library.list(None, None, None).unwrap().len(), 1);
    }
}
