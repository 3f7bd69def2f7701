//! Sinks: everything that takes frames out of the process. Every sink takes
//! [`RedactedFrame`](crate::redact::RedactedFrame) and nothing else.

mod mp4;
mod mp4_scrub;
mod temp;

pub use mp4::{Mp4Writer, SinkError};
pub use mp4_scrub::scrub_mp4_metadata;
pub use temp::TempOutput;
