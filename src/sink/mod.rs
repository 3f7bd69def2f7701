//! Sinks: everything that takes data out of the process. Every frame sink takes
//! [`RedactedFrame`](crate::redact::RedactedFrame) and nothing else; count sinks take closed
//! count buckets (aggregates, no per-person data): SQLite, JSONL, CSV and MQTT.

mod counts;
mod counts_db;
mod mp4;
mod mp4_scrub;
pub mod mqtt;
mod rows;
mod temp;

pub use counts::{CSV_HEADER, CountFileError, CountFiles};
pub use counts_db::{CountDb, CountDbError, SCHEMA_VERSION};
pub use mp4::{ENCODER_STALL_LIMIT, Mp4Writer, SinkError, is_mp4_name};
pub use mp4_scrub::scrub_mp4_metadata;
pub use mqtt::{MqttPublisher, MqttSettings};
pub use temp::TempOutput;
pub(crate) use temp::sweep_dead;
