//! Sources: GStreamer decoding of files into [`Frame`]s in the decoder's own I420/NV12 planes,
//! and still images.

mod decoder;
mod still;

pub(crate) use decoder::describe_gst_error;
pub use decoder::{Decoded, RtspInput, VideoDecoder, VideoStreamInfo};
pub use still::{StillWriteError, is_still_extension, load_still, save_still};

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
    #[error("{path}: a folder is read as an image sequence, but {reason}")]
    NotASequence { path: PathBuf, reason: String },
    #[error("{path}: cannot decode image: {reason}")]
    Image { path: PathBuf, reason: String },
    /// `what` is "cannot decode" for a file (it is damaged), "stalled" for a camera.
    #[error("{path}: {what}: no frame, no end and no error for {seconds} s after frame {frames} ({why})")]
    Stalled { path: PathBuf, what: &'static str, seconds: f64, frames: u64, why: &'static str },
}

/// Where frames come from, one at a time: a file or a camera ([`VideoDecoder`]), or a scripted
/// source in tests.
pub trait FrameSource: Send {
    /// Waits up to `timeout` for the next frame.
    fn pull(&mut self, timeout: std::time::Duration) -> Result<Decoded, SourceError>;
    /// Frames given so far.
    fn frames(&self) -> u64;
    /// What is known of the stream once a frame has come.
    fn stream_info(&self) -> Option<VideoStreamInfo> {
        None
    }
    /// A live source (a camera): frames that cannot be taken in time are dropped, never waited
    /// for; a file blocks instead and loses nothing.
    fn is_live(&self) -> bool {
        false
    }
}

impl FrameSource for VideoDecoder {
    fn pull(&mut self, timeout: std::time::Duration) -> Result<Decoded, SourceError> {
        VideoDecoder::pull(self, timeout)
    }
    fn frames(&self) -> u64 {
        VideoDecoder::frames(self)
    }
    fn stream_info(&self) -> Option<VideoStreamInfo> {
        VideoDecoder::stream_info(self)
    }
    fn is_live(&self) -> bool {
        VideoDecoder::is_live(self)
    }
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
