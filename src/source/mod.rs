//! Sources: GStreamer decoding of files into [`Frame`]s in the decoder's own I420/NV12 planes,
//! and still images.

mod decoder;
mod still;

pub(crate) use decoder::describe_gst_error;
pub use decoder::{Decoded, VideoDecoder, VideoStreamInfo};
pub use still::{StillWriteError, load_still, save_still};

use std::path::PathBuf;

/// Why a source could not give frames. Every variant names the input.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: no such file")]
    NotFound { path: PathBuf },
    #[error("{path}: cannot read: {cause}")]
    Unreadable { path: PathBuf, cause: std::io::Error },
    #[error("{path}: file is empty")]
    Empty { path: PathBuf },
    #[error("{path}: cannot decode: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("{path}: no video stream in the file")]
    NoVideo { path: PathBuf },
    #[error(
        "{path}: the video is truncated: it ends after {decoded:.2} s, but the container says {declared:.2} s"
    )]
    Truncated { path: PathBuf, decoded: f64, declared: f64 },
    #[error("{path}: cannot set up GStreamer decoding: {reason}")]
    Pipeline { path: PathBuf, reason: String },
    #[error("{path}: cannot decode image: {reason}")]
    Image { path: PathBuf, reason: String },
}

/// Checks that `path` is a readable, non-empty file, for errors that name the cause plainly.
pub(crate) fn check_input_file(path: &std::path::Path) -> Result<(), SourceError> {
    let meta = std::fs::metadata(path).map_err(|cause| match cause.kind() {
        std::io::ErrorKind::NotFound => SourceError::NotFound { path: path.to_owned() },
        _ => SourceError::Unreadable { path: path.to_owned(), cause },
    })?;
    if meta.is_dir() {
        let cause = std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a directory");
        return Err(SourceError::Unreadable { path: path.to_owned(), cause });
    }
    std::fs::File::open(path).map_err(|cause| SourceError::Unreadable { path: path.to_owned(), cause })?;
    if meta.len() == 0 {
        return Err(SourceError::Empty { path: path.to_owned() });
    }
    Ok(())
}
