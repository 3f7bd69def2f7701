//! The threads redaction runs on: one rayon pool shared by the redactors of every camera, so that
//! redaction never takes more cores than it is given, however many cameras run (the detector and the
//! decoder keep theirs).
//!
//! [`shared`] is the default: created on first use with one thread per core. A configured size goes
//! through [`with_threads`] (build it once, clone the `Arc` into every redactor); a redactor takes its
//! pool with [`Redactor::with_pool`](super::Redactor::with_pool). Work is only sent to the pool when a
//! frame's masks are large enough to split (see `engine`); small masks run on the calling thread.

use std::sync::{Arc, OnceLock};

use rayon::{ThreadPool, ThreadPoolBuildError, ThreadPoolBuilder};

/// The default pool, shared by every redactor that was not given one: one thread per core.
///
/// # Panics
/// When the operating system refuses to start threads.
pub fn shared() -> Arc<ThreadPool> {
    static SHARED: OnceLock<Arc<ThreadPool>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            with_threads(cores).expect("cannot start the redaction threads")
        })
        .clone()
}

/// A pool of `threads` threads (at least 1) for redaction, to share between redactors.
pub fn with_threads(threads: usize) -> Result<Arc<ThreadPool>, ThreadPoolBuildError> {
    ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("redact-{i}"))
        .build()
        .map(Arc::new)
}
