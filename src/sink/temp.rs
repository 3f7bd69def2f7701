//! Output files that appear only when complete: written under a hidden temporary name beside the
//! target and renamed into place on success; removed on any failure or drop.

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

    /// Flushes to disk and renames into place.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        self.file.sync_all()?;
        std::fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
