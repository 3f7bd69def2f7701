//! The one tokio runtime of the process, for everything async: the HTTP server and the MQTT
//! publisher. Pixel work never runs on it (decode, detect, redact and encode are threads of their
//! own); its two workers only move bytes to and from sockets.

use std::sync::OnceLock;

/// The runtime, started on first use.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("obscura-async")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the async runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}
