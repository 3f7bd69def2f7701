//! The event-clip recorder of one camera: it sees every redacted frame (in the encode stage) and
//! writes an MP4 of redacted frames while something happens, with pre-roll and post-roll.
//!
//! - **Triggers** (`on`): people present (a frame with detected regions, or confirmed person
//!   tracks at a counting pass), a line crossed, a zone occupied; any line or zone, or named ones.
//!   Line and zone events come from the counting thread through [`ClipEvents`], stamped with
//!   their pass's stream time.
//! - **Pre-roll** is a ring of *copies* of redacted frames (never raw ones, never the decoder's
//!   own buffers, which would starve its pool), bounded by `memory`: when `pre` seconds of
//!   frames do not fit, the ring keeps every n-th frame so that it still spans `pre` (the clip
//!   then starts at a lower frame rate; timestamps stay true).
//! - **A clip** opens at the first event, from `pre` before it, and stays open while events keep
//!   coming (overlapping events merge into one clip); it closes `post` after the last event, or
//!   at `max_length` (a new one continues at once if the event goes on). Its frames go to an
//!   encoder thread of its own through a bounded queue: the encoder runs only while a clip is
//!   open, and a slow one loses clip frames (counted), never the camera's pipeline.
//! - **Failure** (the folder cannot be created, the disk is full, the encoder fails): the clip is
//!   deleted, `obscura_clip_errors_total` counts it, `obscura_clips_failing` is 1, one error line
//!   is logged; nothing else stops (counting goes on). The next event tries again, at most every
//!   [`RETRY`]; the first clip written logs that clips resumed.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError, bounded};

use super::{ClipError, ClipLibrary, Retention, clip_name};
use crate::config::EncoderSettings;
use crate::pipeline::{AuditCounts, JobReport};
use crate::redact::RedactedFrame;
use crate::report::RedactionSettings;
use crate::sink::Mp4Writer;
use crate::stats::CameraStats;
use crate::track::PlanCounts;

/// After a failure, clips are tried again at the next event this long after.
pub const RETRY: Duration = Duration::from_secs(5);
/// How often retention is applied while a camera runs (besides after each clip).
pub const RETENTION_EVERY: Duration = Duration::from_secs(600);
/// How long stopping a camera waits for its clips to be finished.
pub const FINISH_LIMIT: Duration = Duration::from_secs(20);
/// The height of a clip's thumbnail (`….mp4.jpg`), pixels.
pub const THUMBNAIL_HEIGHT: u32 = 180;
/// Frames an open clip's queue holds beyond the pre-roll.
const QUEUE_SLACK: usize = 64;

/// What starts a clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClipTrigger {
    /// People present anywhere in the frame.
    People,
    /// A crossing of any line (`None`) or of the named one.
    Line(Option<String>),
    /// Someone in any zone (`None`) or in the named one.
    Zone(Option<String>),
}

impl ClipTrigger {
    /// `"people"`, `"line"`, `"line:NAME"`, `"zone"`, `"zone:NAME"`.
    pub fn parse(text: &str) -> Option<Self> {
        let named = |rest: &str| (!rest.is_empty()).then(|| rest.to_owned());
        match text.split_once(':') {
            None if text == "people" => Some(Self::People),
            None if text == "line" => Some(Self::Line(None)),
            None if text == "zone" => Some(Self::Zone(None)),
            Some(("line", name)) => named(name).map(|n| Self::Line(Some(n))),
            Some(("zone", name)) => named(name).map(|n| Self::Zone(Some(n))),
            _ => None,
        }
    }

    fn matches(&self, kind: &EventKind) -> bool {
        match (self, kind) {
            (Self::People, EventKind::People) => true,
            (Self::Line(want), EventKind::Line(name)) | (Self::Zone(want), EventKind::Zone(name)) => {
                want.as_ref().is_none_or(|w| w == name)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for ClipTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::People => f.write_str("people"),
            Self::Line(None) => f.write_str("line"),
            Self::Zone(None) => f.write_str("zone"),
            Self::Line(Some(name)) => write!(f, "line:{name}"),
            Self::Zone(Some(name)) => write!(f, "zone:{name}"),
        }
    }
}

/// `[camera.clips]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipsConfig {
    /// The clips folder (one for every camera of a config).
    pub dir: PathBuf,
    pub on: Vec<ClipTrigger>,
    pub pre_ms: u64,
    pub post_ms: u64,
    pub max_length_ms: u64,
    /// Of this camera's clips.
    pub retention: Retention,
    /// The most the pre-roll ring may hold, bytes.
    pub memory_bytes: u64,
}

impl ClipsConfig {
    pub const DEFAULT_PRE_MS: u64 = 5_000;
    pub const DEFAULT_POST_MS: u64 = 5_000;
    pub const DEFAULT_MAX_LENGTH_MS: u64 = 300_000;
    pub const DEFAULT_MEMORY_BYTES: u64 = 256 << 20;

    /// The defaults, writing into `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            on: vec![ClipTrigger::People],
            pre_ms: Self::DEFAULT_PRE_MS,
            post_ms: Self::DEFAULT_POST_MS,
            max_length_ms: Self::DEFAULT_MAX_LENGTH_MS,
            retention: Retention::default(),
            memory_bytes: Self::DEFAULT_MEMORY_BYTES,
        }
    }

    /// Whether line or zone events from the counting thread are wanted.
    pub fn wants_count_events(&self) -> bool {
        self.on.iter().any(|t| !matches!(t, ClipTrigger::People))
    }
}

/// What happened, as a clip trigger sees it (nothing about who).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    People,
    Line(String),
    Zone(String),
}

impl EventKind {
    fn reason(&self) -> Reason {
        match self {
            EventKind::People => Reason::People,
            EventKind::Zone(_) => Reason::Zone,
            EventKind::Line(_) => Reason::Line,
        }
    }
}

/// One event at a stream time (ms since the epoch, the time base of the camera's counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipEvent {
    pub time_ms: u64,
    pub kind: EventKind,
}

/// Events handed from the counting thread to the recorder.
#[derive(Debug, Default)]
pub struct ClipEvents(Mutex<Vec<ClipEvent>>);

impl ClipEvents {
    pub fn push(&self, event: ClipEvent) {
        let mut events = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded: a recorder that stopped reading keeps only the latest.
        if events.len() >= 4096 {
            events.drain(..2048);
        }
        events.push(event);
    }

    /// Every event posted since the last call.
    pub fn take_all(&self) -> Vec<ClipEvent> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Why a clip was written, in its file name; the strongest event of the clip wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    People,
    Zone,
    Line,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::People => "people",
            Reason::Zone => "zone",
            Reason::Line => "line",
        }
    }
}

/// What to do with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// No clip: the frame goes to the pre-roll.
    Idle,
    /// Open a clip with the pre-roll from `from_ms`, then this frame.
    Open { from_ms: u64 },
    /// Into the open clip.
    Write,
    /// Finish the open clip; the frame goes to the pre-roll.
    Close,
    /// The open clip reached its length: finish it and open the next with this frame.
    Reopen,
}

/// When clips open and close: events in, steps out. Times are stream ms.
#[derive(Debug)]
struct Schedule {
    pre_ms: u64,
    post_ms: u64,
    max_ms: u64,
    /// The latest event time seen, and the strongest reason since the clip opened.
    last_event_ms: Option<u64>,
    /// The open clip's start and reason.
    window: Option<(u64, Reason)>,
}

impl Schedule {
    fn new(config: &ClipsConfig) -> Self {
        Self {
            pre_ms: config.pre_ms,
            post_ms: config.post_ms,
            max_ms: config.max_length_ms,
            last_event_ms: None,
            window: None,
        }
    }

    /// The step for a frame at `t` given the events `(time, reason)` that arrived with it.
    fn step(&mut self, t: u64, events: &[(u64, Reason)]) -> Step {
        let first = events.iter().map(|e| e.0).min();
        let reason = events.iter().map(|e| e.1).max();
        if let Some(latest) = events.iter().map(|e| e.0).max() {
            self.last_event_ms = Some(self.last_event_ms.map_or(latest, |l| l.max(latest)));
        }
        let active = self.last_event_ms.is_some_and(|e| t <= e.saturating_add(self.post_ms));
        match &mut self.window {
            Some((start, current)) => {
                if let Some(r) = reason {
                    *current = (*current).max(r);
                }
                if !active {
                    self.window = None;
                    Step::Close
                } else if t >= start.saturating_add(self.max_ms) {
                    *start = t;
                    Step::Reopen
                } else {
                    Step::Write
                }
            }
            None => match (first, reason) {
                (Some(first), Some(reason)) if active => {
                    let from_ms = first.min(t).saturating_sub(self.pre_ms);
                    self.window = Some((from_ms, reason));
                    Step::Open { from_ms }
                }
                _ => Step::Idle,
            },
        }
    }

    fn reason(&self) -> Reason {
        self.window.map_or(Reason::People, |w| w.1)
    }

    /// The stream ended: no clip is open, no event is pending.
    fn reset(&mut self) {
        self.window = None;
        self.last_event_ms = None;
    }
}

/// The clip library of a config, opened when first needed (and again after it failed), shared
/// by every camera's recorder and by `/api/clips`.
pub struct ClipStore {
    dir: PathBuf,
    db: PathBuf,
    library: Mutex<Option<Arc<Mutex<ClipLibrary>>>>,
    on_open: Box<dyn Fn(Arc<Mutex<ClipLibrary>>) + Send + Sync>,
}

impl std::fmt::Debug for ClipStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipStore").field("dir", &self.dir).field("db", &self.db).finish_non_exhaustive()
    }
}

impl ClipStore {
    /// Clips in `dir`, indexed in the SQLite store at `db`; `on_open` is told the library once
    /// it opens.
    pub fn new(
        dir: PathBuf,
        db: PathBuf,
        on_open: impl Fn(Arc<Mutex<ClipLibrary>>) + Send + Sync + 'static,
    ) -> Self {
        Self { dir, db, library: Mutex::new(None), on_open: Box::new(on_open) }
    }

    /// The library, opened now if it is not yet.
    pub fn library(&self) -> Result<Arc<Mutex<ClipLibrary>>, ClipError> {
        let mut slot = self.library.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(library) = slot.as_ref() {
            return Ok(library.clone());
        }
        let library = Arc::new(Mutex::new(ClipLibrary::open(&self.dir, &self.db)?));
        (self.on_open)(library.clone());
        *slot = Some(library.clone());
        Ok(library)
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

/// What a clip's encoder thread is sent.
enum ClipMsg {
    Frame(RedactedFrame),
    /// The clip's thumbnail: a JPEG of the redacted frame that opened it.
    Thumbnail(Arc<Vec<u8>>),
    /// The last frame was sent: finish the file, named from these.
    Finish {
        start_ms: u64,
        end_ms: u64,
        reason: Reason,
        plan: PlanCounts,
    },
}

/// A clip being written.
struct OpenClip {
    tx: Sender<ClipMsg>,
    thread: JoinHandle<()>,
    first_ms: u64,
    last_ms: u64,
    plan_at_open: PlanCounts,
}

/// One camera's clip recorder (see the module's documentation).
pub struct ClipRecorder {
    camera: String,
    config: ClipsConfig,
    schedule: Schedule,
    events: Arc<ClipEvents>,
    store: Arc<ClipStore>,
    stats: Arc<CameraStats>,
    report: RedactionSettings,
    encoder: EncoderSettings,
    /// Copies of the latest redacted frames, with their stream times.
    ring: VecDeque<(u64, RedactedFrame)>,
    seen: u64,
    open: Option<OpenClip>,
    finishing: Vec<JoinHandle<()>>,
    /// While clips are failing: no new clip before this.
    retry_at: Option<Instant>,
    retention_at: Instant,
    /// The stream time of pts 0 for the current stream, and the latest frame's time.
    base_ms: u64,
    last_ms: Option<u64>,
    interval_ms: f64,
}

impl std::fmt::Debug for ClipRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipRecorder").field("camera", &self.camera).finish_non_exhaustive()
    }
}

impl ClipRecorder {
    /// A recorder for `camera`; `events` is where its counting thread posts line and zone
    /// events. Retention is applied now (when the library opens).
    pub fn new(
        camera: &str,
        config: ClipsConfig,
        store: Arc<ClipStore>,
        stats: Arc<CameraStats>,
        report: RedactionSettings,
        encoder: EncoderSettings,
        events: Arc<ClipEvents>,
    ) -> Self {
        let mut recorder = Self {
            camera: camera.to_owned(),
            schedule: Schedule::new(&config),
            config,
            events,
            store,
            stats,
            report,
            encoder,
            ring: VecDeque::new(),
            seen: 0,
            open: None,
            finishing: Vec::new(),
            retry_at: None,
            retention_at: Instant::now(),
            base_ms: 0,
            last_ms: None,
            interval_ms: 40.0,
        };
        match recorder.store.library() {
            Ok(library) => apply_retention(&library, &recorder.camera, recorder.config.retention),
            Err(err) => recorder.fail(&err.to_string()),
        }
        recorder
    }

    /// A new stream starts; its pts 0 is `base_ms` in stream time.
    pub fn begin_stream(&mut self, base_ms: u64) {
        self.base_ms = base_ms;
        self.last_ms = None;
    }

    /// Sees one redacted frame; `people` when it had detected regions.
    pub fn offer(&mut self, frame: &RedactedFrame, people: bool) {
        self.reap();
        let meta = frame.meta();
        let pts_ms = meta.pts.map(|p| p.mseconds());
        let t = match (pts_ms, self.last_ms) {
            (Some(pts), _) => self.base_ms + pts,
            (None, Some(last)) => last + self.interval_ms as u64,
            (None, None) => self.base_ms,
        };
        if let Some(last) = self.last_ms
            && t > last
        {
            self.interval_ms = 0.9 * self.interval_ms + 0.1 * (t - last) as f64;
        }
        self.last_ms = Some(t);
        let mut events: Vec<(u64, Reason)> = self
            .events
            .take_all()
            .into_iter()
            .filter(|e| self.config.on.iter().any(|t| t.matches(&e.kind)))
            .map(|e| (e.time_ms, e.kind.reason()))
            .collect();
        if people && self.config.on.contains(&ClipTrigger::People) {
            events.push((t, Reason::People));
        }
        let step = self.schedule.step(t, &events);
        let step = match step {
            Step::Open { .. } | Step::Reopen if self.retry_at.is_some_and(|at| Instant::now() < at) => {
                self.schedule.window = None;
                if step == Step::Reopen {
                    self.finish();
                }
                Step::Idle
            }
            other => other,
        };
        match step {
            Step::Idle => self.hold(frame, t),
            Step::Open { from_ms } => self.start(frame, t, from_ms),
            Step::Write => self.write(frame, t),
            Step::Close => {
                self.finish();
                self.hold(frame, t);
            }
            Step::Reopen => {
                self.finish();
                self.start(frame, t, t);
            }
        }
        if self.retention_at.elapsed() >= RETENTION_EVERY {
            self.retention_at = Instant::now();
            if let Ok(library) = self.store.library() {
                apply_retention(&library, &self.camera, self.config.retention);
            }
        }
    }

    /// The stream ended (its end, a lost connection): the open clip is finished with what it has.
    pub fn end_stream(&mut self) {
        self.finish();
        self.schedule.reset();
        self.ring.clear();
    }

    /// The stream was aborted: the open clip is deleted.
    pub fn abandon(&mut self) {
        self.open = None;
        self.schedule.reset();
        self.ring.clear();
    }

    /// Finishes everything and waits (at most `limit`) for the clips to be written. A clip still
    /// encoding after that is left to the process's end: its temporary file is removed at the
    /// next start.
    pub fn close(mut self, limit: Duration) {
        self.end_stream();
        let deadline = Instant::now() + limit;
        while !self.finishing.is_empty() && Instant::now() < deadline {
            self.reap();
            std::thread::sleep(Duration::from_millis(20));
        }
        if !self.finishing.is_empty() {
            tracing::warn!(camera = %self.camera, "an event clip was still encoding when the camera stopped; it is not kept");
        }
    }

    /// Joins clip threads that are done.
    fn reap(&mut self) {
        let (done, running): (Vec<_>, Vec<_>) = self.finishing.drain(..).partition(|t| t.is_finished());
        self.finishing = running;
        for thread in done {
            let _ = thread.join();
        }
        if let Some(open) = &self.open
            && open.thread.is_finished()
        {
            // Its encoder failed (the thread said so): the clip is gone; try again later.
            let open = self.open.take().expect("checked above");
            let _ = open.thread.join();
            self.schedule.window = None;
            self.retry_at = Some(Instant::now() + RETRY);
        }
    }

    /// Keeps a copy of `frame` for the pre-roll.
    fn hold(&mut self, frame: &RedactedFrame, t: u64) {
        if self.config.pre_ms == 0 {
            return;
        }
        // The frames `memory` holds at this frame size, and every how many frames one is kept
        // so that the ring still spans `pre`.
        let cap = (self.config.memory_bytes / frame.byte_size().max(1) as u64).clamp(2, 100_000) as usize;
        let wanted = (self.config.pre_ms as f64 / self.interval_ms.max(1.0)).ceil() as usize + 1;
        let stride = wanted.div_ceil(cap).max(1) as u64;
        self.seen += 1;
        if !(self.seen - 1).is_multiple_of(stride) {
            return;
        }
        while self.ring.front().is_some_and(|(at, _)| at.saturating_add(self.config.pre_ms) < t)
            || self.ring.len() >= cap
        {
            self.ring.pop_front();
        }
        match frame.to_owned_copy() {
            Ok(copy) => self.ring.push_back((t, copy)),
            Err(err) => tracing::warn!(camera = %self.camera, %err, "cannot copy a frame for the pre-roll"),
        }
    }

    /// Opens a clip from the pre-roll at `from_ms` on, then `frame`.
    fn start(&mut self, frame: &RedactedFrame, t: u64, from_ms: u64) {
        self.retry_at = None;
        match self.spawn(t) {
            Ok(open) => self.open = Some(open),
            Err(reason) => {
                self.fail(&reason);
                self.schedule.window = None;
                self.hold(frame, t);
                return;
            }
        }
        let ring = std::mem::take(&mut self.ring);
        for (at, held) in ring.into_iter().filter(|(at, _)| *at >= from_ms) {
            self.send(held, at);
        }
        let thumbnail = frame.preview(THUMBNAIL_HEIGHT).and_then(|p| p.jpeg(THUMBNAIL_HEIGHT));
        if let (Ok(jpeg), Some(open)) = (thumbnail, &self.open)
            && open.tx.len() + 2 < open.tx.capacity().unwrap_or(usize::MAX)
        {
            let _ = open.tx.try_send(ClipMsg::Thumbnail(jpeg));
        }
        self.write(frame, t);
    }

    /// Starts a clip's encoder thread.
    fn spawn(&mut self, t: u64) -> Result<OpenClip, String> {
        let library = self.store.library().map_err(|e| e.to_string())?;
        let placeholder = self.store.dir().join(clip_name(&self.camera, t, t, "people"));
        let writer =
            Mp4Writer::create(&placeholder, &self.encoder).map_err(|e| e.to_string())?.starting_at_zero();
        let capacity = self.ring.len() + QUEUE_SLACK;
        let (tx, rx) = bounded::<ClipMsg>(capacity);
        let job = ClipJob {
            camera: self.camera.clone(),
            dir: self.store.dir().to_owned(),
            library,
            stats: self.stats.clone(),
            report: self.report.clone(),
            retention: self.config.retention,
        };
        let thread = std::thread::Builder::new()
            .name("clip".into())
            .spawn(move || job.run(writer, rx))
            .map_err(|e| format!("cannot start a clip encoder: {e}"))?;
        Ok(OpenClip { tx, thread, first_ms: u64::MAX, last_ms: t, plan_at_open: self.stats.plan() })
    }

    fn write(&mut self, frame: &RedactedFrame, t: u64) {
        match frame.to_owned_copy() {
            Ok(copy) => self.send(copy, t),
            Err(err) => tracing::warn!(camera = %self.camera, %err, "cannot copy a frame for a clip"),
        }
    }

    fn send(&mut self, frame: RedactedFrame, t: u64) {
        let Some(open) = self.open.as_mut() else { return };
        // The last place in the queue is kept for the finish message, so finishing never waits.
        if open.tx.len() + 1 >= open.tx.capacity().unwrap_or(usize::MAX) {
            self.stats.clip_frame_dropped();
            return;
        }
        match open.tx.try_send(ClipMsg::Frame(frame)) {
            Ok(()) => {
                open.first_ms = open.first_ms.min(t);
                open.last_ms = open.last_ms.max(t);
            }
            Err(TrySendError::Full(_)) => self.stats.clip_frame_dropped(),
            // The encoder thread ended (it failed and said so): `reap` notices.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Finishes the open clip, if any (the encoder thread drains and names the file).
    fn finish(&mut self) {
        let Some(open) = self.open.take() else { return };
        let plan = self.stats.plan().since(&open.plan_at_open);
        let start_ms = open.first_ms.min(open.last_ms);
        let finish = ClipMsg::Finish { start_ms, end_ms: open.last_ms, reason: self.schedule.reason(), plan };
        // There is always room (`send` keeps a place for it): the camera never waits on a clip.
        // Without it (the encoder thread gone), the clip is dropped unfinished and deleted.
        if let Err(TrySendError::Full(_)) = open.tx.try_send(finish) {
            tracing::warn!(camera = %self.camera, "an event clip could not be finished; it is not kept");
        }
        self.finishing.push(open.thread);
    }

    /// Clips stop: counted, logged once per failing spell.
    fn fail(&mut self, reason: &str) {
        self.retry_at = Some(Instant::now() + RETRY);
        fail_logged(&self.stats, &self.camera, reason);
    }
}

fn fail_logged(stats: &CameraStats, camera: &str, reason: &str) {
    if stats.clip_failed() {
        tracing::error!(
            camera,
            "event clips stopped: {reason}; counting goes on, clips are tried again at the next event"
        );
    }
}

/// Applies `retention` to `camera`'s clips now.
fn apply_retention(library: &Mutex<ClipLibrary>, camera: &str, retention: Retention) {
    if retention == Retention::default() {
        return;
    }
    let library = library.lock().unwrap_or_else(PoisonError::into_inner);
    match library.enforce(Some(camera), retention, crate::stats::now_ms()) {
        Ok(deleted) if !deleted.is_empty() => {
            let bytes: u64 = deleted.iter().map(|c| c.size).sum();
            tracing::info!(camera, clips = deleted.len(), bytes, "retention deleted the oldest clips");
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(camera, %err, "cannot apply clip retention"),
    }
}

/// What a clip's encoder thread needs.
struct ClipJob {
    camera: String,
    dir: PathBuf,
    library: Arc<Mutex<ClipLibrary>>,
    stats: Arc<CameraStats>,
    report: RedactionSettings,
    retention: Retention,
}

impl ClipJob {
    fn run(self, mut writer: Mp4Writer, rx: crossbeam_channel::Receiver<ClipMsg>) {
        let started = Instant::now();
        let mut thumbnail = None;
        let result = (|| {
            for msg in rx {
                match msg {
                    ClipMsg::Frame(frame) => writer.write(frame).map_err(|e| e.to_string())?,
                    ClipMsg::Thumbnail(jpeg) => thumbnail = Some(jpeg),
                    ClipMsg::Finish { start_ms, end_ms, reason, plan } => {
                        let elapsed = started.elapsed();
                        return self.complete(
                            writer,
                            start_ms,
                            end_ms,
                            reason,
                            plan,
                            elapsed,
                            thumbnail.take(),
                        );
                    }
                }
            }
            // The recorder went away without finishing (an abort): the file is deleted.
            Ok(())
        })();
        if let Err(reason) = result {
            fail_logged(&self.stats, &self.camera, &reason);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn complete(
        &self,
        mut writer: Mp4Writer,
        start_ms: u64,
        end_ms: u64,
        reason: Reason,
        plan: PlanCounts,
        elapsed: Duration,
        thumbnail: Option<Arc<Vec<u8>>>,
    ) -> Result<(), String> {
        let path = self.dir.join(clip_name(&self.camera, start_ms, end_ms, reason.name()));
        writer.set_path(path.clone());
        // The thumbnail first (a clip may have none; one without its clip is removed at the
        // library's next open).
        if let Some(jpeg) = thumbnail
            && let Err(err) = std::fs::write(super::thumbnail_path(&path), jpeg.as_slice())
        {
            return Err(format!("cannot write the clip's thumbnail: {err}"));
        }
        let job = JobReport {
            frames: writer.frames(),
            output: Some(path.clone()),
            stopped_early: false,
            plan,
            audit: AuditCounts::default(),
            audit_every: None,
            elapsed,
        };
        let report = &self.report;
        if let Err(err) = writer.finish_with(|| crate::report::write_report(&path, &job, report).map(Some)) {
            let _ = std::fs::remove_file(super::thumbnail_path(&path));
            return Err(err.to_string());
        }
        let was_failing = self.stats.clip_counts().3;
        let added = {
            let library = self.library.lock().unwrap_or_else(PoisonError::into_inner);
            library.add(&self.camera, start_ms, end_ms, reason.name())
        };
        match added {
            Ok(clip) => {
                self.stats.clip_written();
                if was_failing {
                    tracing::info!(camera = %self.camera, "event clips resumed");
                }
                tracing::info!(camera = %self.camera, file = %clip.file, bytes = clip.size, "event clip written");
            }
            Err(err) => return Err(format!("the clip was written but not indexed: {err}")),
        }
        apply_retention(&self.library, &self.camera, self.retention);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(pre: u64, post: u64, max: u64) -> Schedule {
        let mut config = ClipsConfig::new(PathBuf::from("clips"));
        (config.pre_ms, config.post_ms, config.max_length_ms) = (pre, post, max);
        Schedule::new(&config)
    }

    /// Runs frames every 100 ms from 0 to `end`, with `events` (time, reason) arriving at the
    /// frame at or after their time; returns the steps that are not `Idle`/`Write`, with times.
    fn run(s: &mut Schedule, end: u64, events: &[(u64, Reason)]) -> Vec<(u64, Step)> {
        let mut out = Vec::new();
        for t in (0..=end).step_by(100) {
            let now: Vec<_> = events.iter().copied().filter(|&(e, _)| e <= t && e + 100 > t).collect();
            let step = s.step(t, &now);
            if !matches!(step, Step::Idle | Step::Write) {
                out.push((t, step));
            }
        }
        out
    }

    #[test]
    fn a_clip_spans_pre_before_the_first_event_to_post_after_the_last() {
        let mut s = schedule(2000, 3000, 60_000);
        let steps = run(&mut s, 20_000, &[(5000, Reason::People), (6000, Reason::Line)]);
        assert_eq!(steps, [(5000, Step::Open { from_ms: 3000 }), (9100, Step::Close)]);
    }

    #[test]
    fn overlapping_events_merge_and_the_strongest_reason_names_the_clip() {
        let mut s = schedule(1000, 2000, 60_000);
        // People at 3 s, a line at 4.5 s (inside the post-roll), a zone at 6 s.
        let events = [(3000, Reason::People), (4500, Reason::Line), (6000, Reason::Zone)];
        let mut steps = Vec::new();
        let mut reason = None;
        for t in (0..=12_000).step_by(100) {
            let now: Vec<_> = events.iter().copied().filter(|&(e, _)| e == t).collect();
            let step = s.step(t, &now);
            if step == Step::Write {
                reason = Some(s.reason());
            }
            if !matches!(step, Step::Idle | Step::Write) {
                steps.push((t, step));
            }
        }
        assert_eq!(steps, [(3000, Step::Open { from_ms: 2000 }), (8100, Step::Close)], "one clip");
        assert_eq!(reason, Some(Reason::Line));
        // Apart by more than the post-roll: two clips.
        let mut s = schedule(1000, 2000, 60_000);
        let steps = run(&mut s, 12_000, &[(1000, Reason::People), (5000, Reason::People)]);
        assert_eq!(
            steps,
            [
                (1000, Step::Open { from_ms: 0 }),
                (3100, Step::Close),
                (5000, Step::Open { from_ms: 4000 }),
                (7100, Step::Close)
            ]
        );
    }

    #[test]
    fn a_long_event_is_cut_at_the_maximum_length_and_goes_on_in_the_next_clip() {
        let mut s = schedule(1000, 1000, 10_000);
        let people: Vec<_> = (20..300).map(|i| (i * 100, Reason::People)).collect();
        let steps = run(&mut s, 40_000, &people);
        assert_eq!(
            steps,
            [
                (2000, Step::Open { from_ms: 1000 }),
                (11_000, Step::Reopen),
                (21_000, Step::Reopen),
                (31_000, Step::Close)
            ]
        );
    }

    #[test]
    fn a_late_event_opens_from_its_own_time_and_a_stale_one_is_ignored() {
        // The counting thread reports a crossing at 4 s when the frame at 5 s is seen.
        let mut s = schedule(2000, 2000, 60_000);
        assert_eq!(s.step(5000, &[(4000, Reason::Line)]), Step::Open { from_ms: 2000 });
        // One older than the post-roll opens nothing.
        let mut s = schedule(2000, 2000, 60_000);
        assert_eq!(s.step(9000, &[(4000, Reason::Line)]), Step::Idle);
    }

    #[test]
    fn triggers_parse_and_match() {
        assert_eq!(ClipTrigger::parse("people"), Some(ClipTrigger::People));
        assert_eq!(ClipTrigger::parse("line"), Some(ClipTrigger::Line(None)));
        assert_eq!(ClipTrigger::parse("zone:till"), Some(ClipTrigger::Zone(Some("till".into()))));
        for text in ["people", "line", "zone", "line:door", "zone:till"] {
            assert_eq!(ClipTrigger::parse(text).unwrap().to_string(), text);
        }
        for bad in ["", "person", "line:", "people:x", "door:x"] {
            assert_eq!(ClipTrigger::parse(bad), None, "{bad}");
        }
        let till = ClipTrigger::Zone(Some("till".into()));
        assert!(till.matches(&EventKind::Zone("till".into())));
        assert!(!till.matches(&EventKind::Zone("door".into())));
        assert!(!till.matches(&EventKind::Line("till".into())));
        assert!(ClipTrigger::Line(None).matches(&EventKind::Line("door".into())));
        assert!(!ClipTrigger::People.matches(&EventKind::Line("door".into())));
    }
}
