//! A camera's counting stage: a thread of its own that owns the camera's [`Counter`], fed by a
//! channel: the planner sends each detection pass, the supervisor sends restarts (a reconnect:
//! the tracks end, the open bucket stays open), clock ticks (while the camera is down, buckets
//! close on time with `passes` showing the gap) and the close at the end. Closed buckets go to its
//! sink from that thread. The stage outlives every connection, so a source restart never closes a
//! bucket early.

use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, unbounded};

use super::{Closed, CountError, Counter, Pass};
use crate::clips::{ClipEvent, ClipEvents, EventKind};
use crate::geometry::Rect;

/// Where closed buckets go (the count files, the store, `/metrics`).
pub type ClosedSink = Box<dyn FnMut(Closed) + Send>;

/// What the counting stage is told.
#[derive(Debug)]
enum Event<K> {
    Pass {
        time_ms: u64,
        width: u32,
        height: u32,
        tracks: Vec<(K, Rect)>,
        tentative: Vec<(K, Rect)>,
        ended: Vec<K>,
    },
    Restart,
    Tick(u64),
    Close,
}

/// The sending end of a camera's counting thread. `K` identifies a track (the tracker's ids in
/// the pipeline, ground-truth ids in evaluation).
pub struct CountStage<K> {
    events: Sender<Event<K>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<K> std::fmt::Debug for CountStage<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountStage").finish_non_exhaustive()
    }
}

impl<K: Copy + Eq + Hash + Send + 'static> CountStage<K> {
    /// Starts the counting thread of `counter`, handing closed buckets to `sink`.
    pub fn start(counter: Counter<K>, sink: ClosedSink) -> std::io::Result<Self> {
        Self::start_tapped(counter, sink, None, None)
    }

    /// [`CountStage::start`], also posting after each pass: to `clip_events` what the pass saw
    /// (people present: confirmed tracks; each line crossed; each zone occupied: the triggers
    /// of event clips), and to `live` the open bucket (the dashboard's live figures).
    pub fn start_tapped(
        counter: Counter<K>,
        sink: ClosedSink,
        clip_events: Option<Arc<ClipEvents>>,
        live: Option<Arc<crate::stats::CameraStats>>,
    ) -> std::io::Result<Self> {
        let (events, inbox) = unbounded::<Event<K>>();
        let thread = std::thread::Builder::new().name("count".into()).spawn(move || {
            let mut stage = Inner { counter, sink, last_ms: 0 };
            for event in inbox {
                match event {
                    Event::Pass { time_ms, width, height, tracks, tentative, ended } => {
                        // A new connection's clock a little behind the last pass: counted at the
                        // latest time instead.
                        let time_ms = time_ms.max(stage.last_ms);
                        stage.last_ms = time_ms;
                        let pass = Pass {
                            time_ms,
                            width,
                            height,
                            tracks: &tracks,
                            tentative: &tentative,
                            ended: &ended,
                        };
                        let before: Vec<u64> = match &clip_events {
                            Some(_) => stage.counter.line_totals_now().map(|(_, i, o)| i + o).collect(),
                            None => Vec::new(),
                        };
                        let observed = stage.counter.observe(&pass);
                        // The live figures first: a bucket just closed is then never shown twice
                        // (as open and as stored), at worst missing for a moment.
                        if let Some(live) = &live {
                            live.set_live(stage.counter.open_bucket());
                        }
                        match observed {
                            Ok(closed) => stage.emit(closed),
                            Err(err) => tracing::warn!(%err, "counting skipped a pass"),
                        }
                        if let Some(clip_events) = &clip_events {
                            post_events(clip_events, &stage.counter, &before, &pass);
                        }
                    }
                    Event::Restart => stage.counter.end_tracks(),
                    Event::Tick(now_ms) => {
                        if now_ms >= stage.last_ms {
                            stage.last_ms = now_ms;
                            let closed = stage.counter.advance_clock(now_ms);
                            if let Some(live) = &live {
                                live.set_live(stage.counter.open_bucket());
                            }
                            stage.emit(closed);
                        }
                    }
                    Event::Close => {
                        let closed = stage.counter.close_all();
                        // What was open goes to the store now: shown once, not twice.
                        if let Some(live) = &live {
                            live.set_live(None);
                        }
                        stage.emit(closed);
                        return;
                    }
                }
            }
        })?;
        Ok(Self { events, thread: Mutex::new(Some(thread)) })
    }

    /// Counts one pass (on the counting thread).
    pub fn pass(&self, pass: &Pass<'_, K>) -> Result<(), CountError> {
        let _ = self.events.send(Event::Pass {
            time_ms: pass.time_ms,
            width: pass.width,
            height: pass.height,
            tracks: pass.tracks.to_vec(),
            tentative: pass.tentative.to_vec(),
            ended: pass.ended.to_vec(),
        });
        Ok(())
    }

    /// The stream restarted (a reconnect): every track ends; the open bucket stays open.
    pub fn restart(&self) {
        let _ = self.events.send(Event::Restart);
    }

    /// Moves the clock to `now_ms` without a pass: buckets that ended close on time.
    pub fn tick(&self, now_ms: u64) {
        let _ = self.events.send(Event::Tick(now_ms));
    }

    /// Closes the open bucket (end of a file, or the camera stopping) and waits until every
    /// closed bucket has reached the sink. Later events are ignored.
    pub fn close(&self) {
        let _ = self.events.send(Event::Close);
        if let Some(thread) = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take()
            && thread.join().is_err()
        {
            tracing::error!("the counting thread panicked");
        }
    }
}

impl<K> Drop for CountStage<K> {
    fn drop(&mut self) {
        let _ = self.events.send(Event::Close);
        if let Some(thread) = self.thread.get_mut().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = thread.join();
        }
    }
}

/// What a pass saw, for event clips: people present, lines crossed (their running totals grew
/// from `before`), zones occupied.
fn post_events<K: Copy + Eq + Hash>(
    events: &ClipEvents,
    counter: &Counter<K>,
    before: &[u64],
    pass: &Pass<'_, K>,
) {
    let time_ms = pass.time_ms;
    if !pass.tracks.is_empty() {
        events.push(ClipEvent { time_ms, kind: EventKind::People });
    }
    for ((name, i, o), was) in counter.line_totals_now().zip(before) {
        if i + o > *was {
            events.push(ClipEvent { time_ms, kind: EventKind::Line(name.to_owned()) });
        }
    }
    for (name, inside) in counter.occupancy_now() {
        if inside > 0 {
            events.push(ClipEvent { time_ms, kind: EventKind::Zone(name.to_owned()) });
        }
    }
}

struct Inner<K> {
    counter: Counter<K>,
    sink: ClosedSink,
    /// The latest time given, ms: passes are kept in order across reconnects.
    last_ms: u64,
}

impl<K> Inner<K> {
    fn emit(&mut self, closed: Closed) {
        if !closed.is_empty() {
            (self.sink)(closed);
        }
    }
}
