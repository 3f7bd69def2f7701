//! Integration tests: one binary, a module per area. They run the real `obscura` binary on real
//! GStreamer and real footage (`sample_media/`, fetched by `scripts/setup`).

mod util;

mod bad_input;
mod clips;
mod config_check;
mod dashboard;
mod detect;
mod live;
mod mqtt;
mod redact_video;
mod run_config;
mod stills;
