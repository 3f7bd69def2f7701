//! A camera's counting stage: its [`Counter`], its clock and where its closed buckets go. It
//! outlives each connection to the camera: a reconnect ends the tracks (the new stream's tracker
//! starts afresh) but never closes a bucket early; while the camera is down, the clock closes
//! buckets on time with `passes` showing the gap.

use std::sync::{Mutex, PoisonError};

use std::hash::Hash;

use super::{Closed, CountError, Counter, Pass};

/// Where closed buckets go (the count files, the store, `/metrics`).
pub type ClosedSink = Box<dyn FnMut(Closed) + Send>;

/// A counter shared by a camera's planner (passes) and its supervisor (restarts, clock, close).
/// `K` identifies a track (the tracker's ids in the pipeline).
pub struct CountStage<K> {
    inner: Mutex<Inner<K>>,
}

struct Inner<K> {
    counter: Counter<K>,
    sink: ClosedSink,
    /// The latest time given, ms: passes are kept in order across reconnects.
    last_ms: u64,
}

impl<K> std::fmt::Debug for CountStage<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountStage").finish_non_exhaustive()
    }
}

impl<K: Copy + Eq + Hash> CountStage<K> {
    pub fn new(counter: Counter<K>, sink: ClosedSink) -> Self {
        Self { inner: Mutex::new(Inner { counter, sink, last_ms: 0 }) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner<K>) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Counts one pass. A pass stamped before the latest one (a new connection's clock a little
    /// behind) is counted at the latest time instead.
    pub fn pass(&self, pass: &Pass<'_, K>) -> Result<(), CountError> {
        self.with(|inner| {
            let time_ms = pass.time_ms.max(inner.last_ms);
            inner.last_ms = time_ms;
            let closed = inner.counter.observe(&Pass { time_ms, ..*pass })?;
            inner.emit(closed);
            Ok(())
        })
    }

    /// The stream restarted (a reconnect): every track ends; the open bucket stays open.
    pub fn restart(&self) {
        self.with(|inner| inner.counter.end_tracks());
    }

    /// Moves the clock to `now_ms` without a pass: buckets that ended close on time.
    pub fn tick(&self, now_ms: u64) {
        self.with(|inner| {
            if now_ms >= inner.last_ms {
                inner.last_ms = now_ms;
                let closed = inner.counter.advance_clock(now_ms);
                inner.emit(closed);
            }
        });
    }

    /// Closes the open bucket (end of a file, or the service stopping).
    pub fn close(&self) {
        self.with(|inner| {
            let closed = inner.counter.close_all();
            inner.emit(closed);
        });
    }
}

impl<K> Inner<K> {
    fn emit(&mut self, closed: Closed) {
        if !closed.is_empty() {
            (self.sink)(closed);
        }
    }
}
