//! Output files that appear only when complete: written under a hidden temporary name beside the
//! target and renamed into place on success; removed on any failure or drop.
//!
//! A process killed outright (SIGKILL, power loss) cannot remove its temporary files: every
//! [`TempOutput::create`] first sweeps its folder for temporary files (`.NAME.PID-N.part`) whose
//! process no longer exists, so what a dead run left is gone at the next write there. A file
//! whose PID was reused by a live process is left alone: never remove what might be written.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file being written for `target`. Dropping it without [`TempOutput::commit`] deletes it.
#[derive(Debug)]
pub struct TempOutput {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl TempOutput {
    /// Creates `.NAME.PID-N.part` beside `target`, creating missing parent directories. Fails
    /// at once when the place is not writable, before any work is done.
    pub fn create(target: &Path) -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        if target.is_dir() {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "it is a directory"));
        }
        if parent.exists() && !parent.is_dir() {
            let msg = format!("{} is not a directory", parent.display());
            return Err(io::Error::new(io::ErrorKind::NotADirectory, msg));
        }
        std::fs::create_dir_all(&parent).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create directory {}: {e}", parent.display()))
        })?;
        sweep_dead(&parent);
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let unique = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let temp = parent.join(format!(".{name}.{unique}.part"));
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&temp)?;
        Ok(Self { file, temp, target: target.to_owned(), committed: false })
    }

    /// Where the bytes go until commit.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames into `target` instead, in the same folder (a name known only at the end, e.g. an
    /// event clip's end time).
    pub fn set_target(&mut self, target: PathBuf) {
        debug_assert_eq!(target.parent(), self.target.parent());
        self.target = target;
    }

    /// Flushes to disk and renames into place.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        self.file.sync_all()?;
        std::fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        Ok(self.target.clone())
    }
}

/// The PID in a temporary file's name `.NAME.PID-N.part`, if the name is one.
fn temp_pid(file_name: &str) -> Option<u32> {
    let stem = file_name.strip_prefix('.')?.strip_suffix(".part")?;
    let (_, unique) = stem.rsplit_once('.')?;
    let (pid, n) = unique.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(n)).then(|| pid.parse().ok()).flatten()
}

/// Whether process `pid` exists (on a system without `/proc`, every process is taken as alive).
fn alive(pid: u32) -> bool {
    pid == std::process::id()
        || !Path::new("/proc/self").exists()
        || Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes the temporary files in `dir` left by processes that no longer exist; returns how many.
pub fn sweep_dead(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_pid) else { continue };
        if !alive(pid)
            && entry.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            tracing::info!(file = %entry.path().display(), pid, "removed a temporary file left by a process that is gone");
            removed += 1;
        }
    }
    removed
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_give_their_pid() {
        assert_eq!(temp_pid(".out.mp4.1234-0.part"), Some(1234));
        assert_eq!(temp_pid(".a.b.c.mp4.privacy.json.77-12.part"), Some(77));
        assert_eq!(temp_pid("out.mp4.1234-0.part"), None, "not hidden");
        assert_eq!(temp_pid(".out.mp4.12x4-0.part"), None);
        assert_eq!(temp_pid(".out.mp4.1234-0"), None);
        assert_eq!(temp_pid(".out.mp4.1234.part"), None);
    }

    #[test]
    fn files_of_dead_processes_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        // A PID that is surely gone: a child that has exited and been reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!(".out.mp4.{dead}-0.part"));
        let other = dir.path().join(format!(".clip.mp4.{dead}-3.part"));
        let mine = dir.path().join(format!(".out.mp4.{}-99.part", std::process::id()));
        let unrelated = dir.path().join("notes.part");
        for f in [&stale, &other, &mine, &unrelated] {
            std::fs::write(f, b"x").unwrap();
        }
        let output = TempOutput::create(&dir.path().join("out.mp4")).unwrap();
        assert!(!stale.exists() && !other.exists(), "a dead run's files are swept");
        assert!(mine.exists() && unrelated.exists(), "a live process's files and other files are kept");
        drop(output);
    }
}
