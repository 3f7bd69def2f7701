//! Builds and runs the stages of one video job: decode → redact → encode, each a thread joined by
//! bounded channels. Files block when a queue is full (nothing is dropped); the output appears
//! only when every stage ended cleanly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::config::EncoderSettings;
use crate::detect::{FaceDetector, FrameDetector};
use crate::frame::Frame;
use crate::redact::{FrameRegions, RedactError, RedactedFrame, Redaction};
use crate::sink::{Mp4Writer, SinkError};
use crate::source::{Decoded, FrameSource, SourceError, VideoDecoder};
use crate::stats::{CameraStats, DropReason};
use crate::track::{Counting, PlanCounts, Planner, TemporalSettings};

/// Frames in flight between two stages. Small: a frame is several MB at 1080p and beyond.
const QUEUE_DEPTH: usize = 4;
/// Frames a live camera may have waiting for detection, at 25 fps (about half a second, 36 MB at
/// 1080p): enough to ride out a detection pass that waits its turn behind other cameras', while
/// the planner puts passes off to catch up ([`Planner::set_behind`]); beyond it a new frame is
/// dropped whole (see [`send_or_drop`]). A faster stream may hold the same time in its own
/// frames, up to [`LIVE_QUEUE_MAX`] ([`live_queue_limit`]).
const LIVE_QUEUE_DEPTH: usize = 12;
/// The most frames a live camera may have waiting, whatever its rate (30: 0.5 s at 60 fps).
const LIVE_QUEUE_MAX: usize = 30;

/// How many frames a live camera of `fps` frames per second may have waiting: the frames of
/// [`LIVE_QUEUE_DEPTH`]'s time at 25 fps (the default staleness limit, 0.48 s: each pass can be
/// followed by as many frames as it may mask), between [`LIVE_QUEUE_DEPTH`] and
/// [`LIVE_QUEUE_MAX`].
fn live_queue_limit(fps: Option<f64>) -> usize {
    let Some(ratio) = crate::track::rate_ratio(fps) else { return LIVE_QUEUE_DEPTH };
    ((LIVE_QUEUE_DEPTH as f64 * ratio).ceil() as usize).clamp(LIVE_QUEUE_DEPTH, LIVE_QUEUE_MAX)
}
/// How often a waiting stage looks at the shutdown flag.
const POLL: Duration = Duration::from_millis(100);

/// A request to stop, shared by every stage of every job.
///
/// `stop` ends sources where they are and lets the frames already decoded drain to complete,
/// valid outputs; `abort` ends everything at once and leaves no output behind.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicU8>);

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const ABORTED: u8 = 2;

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends sources; what was decoded still drains to the outputs.
    pub fn stop(&self) {
        let _ = self.0.compare_exchange(RUNNING, STOPPING, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Ends everything; unfinished outputs are deleted.
    pub fn abort(&self) {
        self.0.store(ABORTED, Ordering::SeqCst);
    }

    pub fn is_stopping(&self) -> bool {
        self.0.load(Ordering::SeqCst) != RUNNING
    }

    pub fn is_aborted(&self) -> bool {
        self.0.load(Ordering::SeqCst) == ABORTED
    }
}

/// Why a job failed. Its output, if any, was not left behind.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("{path}: {source}")]
    Redact { path: PathBuf, source: RedactError },
    #[error("{path}: interrupted; no output written")]
    Interrupted { path: PathBuf },
    #[error("{path}: a pipeline stage panicked")]
    Panicked { path: PathBuf },
}

/// What a finished job did.
#[derive(Debug, Clone)]
pub struct JobReport {
    /// Frames decoded, redacted and (when there is an output) encoded.
    pub frames: u64,
    /// The output written, if the job had one.
    pub output: Option<PathBuf>,
    /// Whether the source was ended early by [`Shutdown::stop`].
    pub stopped_early: bool,
    /// What the mask planner did (zero without detection).
    pub plan: PlanCounts,
    /// What the residual audit found (zero without an audit).
    pub audit: AuditCounts,
    /// Every how many frames the audit looked, as fitted to the stream's rate (`None`: as
    /// configured, or no audit).
    pub audit_every: Option<u32>,
    pub elapsed: Duration,
}

impl JobReport {
    /// Frames on which the detector ran.
    pub fn detected_frames(&self) -> u64 {
        self.plan.passes
    }

    /// Frames redacted whole (or dropped) because detection failed for them or was too old.
    pub fn fail_closed_frames(&self) -> u64 {
        self.plan.fail_closed()
    }
}

/// Observes a job's progress (a progress bar, a log line); called from the decode thread.
pub trait Progress: Send + Sync {
    /// The stream's expected number of frames, once known.
    fn set_total(&self, _frames: u64) {}
    /// One more frame decoded.
    fn tick(&self) {}
}

/// No progress display.
#[derive(Debug)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// Writes a file that must accompany a job's output (its privacy report), once the output is
/// complete and before it is renamed into place; returns the file's path, or why it failed (the
/// output is then not written).
pub type Companion<'d> = Box<dyn FnOnce(&JobReport) -> Result<PathBuf, String> + Send + 'd>;

/// One video (a file, or one connection to a camera) through decode → detect → redact →
/// (optionally) encode.
pub struct VideoJob<'d> {
    /// The input: the file to open when `source` is `None`; else the source's label in errors.
    pub input: PathBuf,
    /// An opened source (a camera, a scripted source in tests); `None` opens `input` as a file.
    pub source: Option<Box<dyn FrameSource + 'd>>,
    /// The camera's live figures, updated as frames flow, if any.
    pub stats: Option<Arc<CameraStats>>,
    pub output: Option<PathBuf>,
    pub redaction: Redaction,
    /// The detector, for targets that need one.
    pub detection: Option<Detection<'d>>,
    /// The residual audit of the redacted output, if any.
    pub audit: Option<Audit<'d>>,
    pub encoder: EncoderSettings,
    /// Written beside the output before the output appears (the privacy report), if any.
    pub companion: Option<Companion<'d>>,
    /// The camera's event-clip recorder, shown every redacted frame, if it records clips.
    pub clips: Option<&'d mut crate::clips::ClipRecorder>,
}

impl std::fmt::Debug for VideoJob<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoJob")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("redaction", &self.redaction)
            .field("detection", &self.detection)
            .field("audit", &self.audit)
            .field("encoder", &self.encoder)
            .field("companion", &self.companion.is_some())
            .field("clips", &self.clips.is_some())
            .finish()
    }
}

/// The residual audit: the face detector again (the same CenterFace model: not an independent
/// detector), at twice detection's configured resolution (and never below the largest an
/// adaptive face scale may choose: `camera::audit_side`) and a fixed threshold, run on every `every`-th
/// *redacted* frame; what it still finds is counted in the job's report, split by where it is:
/// inside the frame's masks (a redacted shape that still looks like a face to the network) or
/// outside them (a possible miss).
#[derive(Debug)]
pub struct Audit<'d> {
    pub detector: &'d mut FaceDetector,
    /// Every how many redacted frames the audit looks.
    pub every: u32,
    /// Whether `every` is the default, stated at [`crate::track::REFERENCE_FPS`] and fitted to
    /// the stream's frame rate at its first frame ([`audit_every_at`]): the audit then looks as
    /// often per second at every rate. A written value is frames, used as it is.
    pub follow_rate: bool,
}

/// The audit's cadence `every` (frames at [`crate::track::REFERENCE_FPS`]) for a stream of `fps`
/// frames per second: the same time between audits, in the stream's frames (at least 1). Without
/// a usable `fps`, `every` as it is.
pub fn audit_every_at(every: u32, fps: Option<f64>) -> u32 {
    match crate::track::rate_ratio(fps) {
        Some(ratio) => ((f64::from(every) * ratio).round() as u32).max(1),
        None => every,
    }
}

/// What the residual audit found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditCounts {
    /// Redacted frames the audit looked at.
    pub frames_checked: u64,
    /// Faces it still found in them, in all.
    pub faces_found: u64,
    /// Frames in which it found at least one face.
    pub frames_with_faces: u64,
    /// Of the faces found, those mostly (half or more of the box) inside the frame's masks:
    /// redacted shapes that still look like a face to the network (nothing recognisable is left
    /// there; blur keeps a face-like oval).
    pub faces_in_masks: u64,
    /// Of the faces found, those mostly outside the masks: possible misses (or textures the
    /// network takes for faces). The number to watch.
    pub faces_outside_masks: u64,
    /// Frames with at least one face outside the masks.
    pub frames_with_faces_outside: u64,
    /// Frames it could not check (its detector failed).
    pub errors: u64,
    /// Frames due for an audit that a live camera skipped because the previous audit was still
    /// running (the audit is a check, not a protection: a camera's frames never wait for it).
    pub skipped_busy: u64,
}

impl AuditCounts {
    /// Counts what the audit found in one redacted frame, whose masks were `masks` (the fixed
    /// ones and the frame's regions; `None`: the whole frame was redacted).
    pub fn add(&mut self, faces: &[crate::detect::Detection], masks: Option<&[&[crate::geometry::Shape]]>) {
        self.frames_checked += 1;
        self.faces_found += faces.len() as u64;
        self.frames_with_faces += u64::from(!faces.is_empty());
        let outside =
            faces.iter().filter(|f| masks.is_some_and(|m| covered_share(&f.rect, m) < 0.5)).count() as u64;
        self.faces_outside_masks += outside;
        self.faces_in_masks += faces.len() as u64 - outside;
        self.frames_with_faces_outside += u64::from(outside > 0);
    }
}

/// Runs the residual audit on one redacted frame, which `redaction` redacted with `regions`.
pub fn audit_frame(
    audit: &mut Audit<'_>,
    redaction: &Redaction,
    regions: &FrameRegions,
    redacted: &RedactedFrame,
    counts: &mut AuditCounts,
) {
    audit_masks(audit, redaction.target(), redaction.fixed_shapes(), regions, redacted, counts);
}

/// [`audit_frame`] for a frame redacted for `target` with the fixed masks `fixed` (pixels) and
/// `regions`.
fn audit_masks(
    audit: &mut Audit<'_>,
    target: crate::redact::Target,
    fixed: &[crate::geometry::Shape],
    regions: &FrameRegions,
    redacted: &RedactedFrame,
    counts: &mut AuditCounts,
) {
    match audit.detector.audit(redacted) {
        Ok(faces) => {
            let detected: &[crate::geometry::Shape] = match regions {
                FrameRegions::Detected(shapes) => shapes,
                _ => &[],
            };
            let whole = matches!(regions, FrameRegions::FailClosed) || target == crate::redact::Target::Frame;
            let masks = [fixed, detected];
            counts.add(&faces, (!whole).then_some(&masks[..]));
        }
        Err(err) => {
            counts.frames_checked += 1;
            counts.errors += 1;
            tracing::warn!(frame = redacted.meta().index, %err, "residual audit failed on this frame");
        }
    }
}

/// The share of `rect` covered by any of `masks`, sampled on a 7×7 grid of points.
fn covered_share(rect: &crate::geometry::Rect, masks: &[&[crate::geometry::Shape]]) -> f32 {
    const N: usize = 7;
    let mut covered = 0;
    for i in 0..N {
        for j in 0..N {
            let x = rect.x0 + (i as f32 + 0.5) / N as f32 * rect.width();
            let y = rect.y0 + (j as f32 + 0.5) / N as f32 * rect.height();
            let (x, y) = (x.max(0.0) as usize, y.max(0.0) as usize);
            covered += usize::from(
                masks.iter().any(|shapes| shapes.iter().any(|s| crate::redact::raster::covers(s, x, y))),
            );
        }
    }
    covered as f32 / (N * N) as f32
}

/// Detection for a job: the detectors (loaded once, lent to each job), run on every `every`-th
/// frame, with tracking, look-ahead and fail-closed rules between (see [`crate::track::planner`]).
pub struct Detection<'d> {
    pub detector: &'d mut dyn FrameDetector,
    pub every: u32,
    pub temporal: TemporalSettings,
    /// People counting from the person tracks, if configured.
    pub counting: Option<Counting<'d>>,
    /// Treat the source as always ahead of detection, as an overloaded live camera is: every
    /// pass put off to the staleness limit (`obscura eval mot --overloaded`, to measure masks
    /// under overload on a file, frame for frame the same each run). Never set for real output.
    pub overloaded: bool,
}

impl std::fmt::Debug for Detection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detection").field("every", &self.every).field("temporal", &self.temporal).finish()
    }
}

/// Sees each frame and the regions it is about to be redacted with, on the detect thread (for
/// `obscura eval`: measuring coverage without writing video).
pub trait RegionObserver: Send {
    fn observe(&mut self, frame: &Frame, regions: &FrameRegions);
}

impl<F: FnMut(&Frame, &FrameRegions) + Send> RegionObserver for F {
    fn observe(&mut self, frame: &Frame, regions: &FrameRegions) {
        self(frame, regions)
    }
}

/// How a stage ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StageEnd {
    /// Its input ended (end of stream, or the stage upstream ended).
    Complete,
    /// Ended early by `Shutdown::stop`.
    Stopped,
    /// The stage downstream went away (it reports its own error).
    DownstreamGone,
    /// Ended by `Shutdown::abort`.
    Aborted,
}

impl VideoJob<'_> {
    /// Runs the job to the end of its input, or until `shutdown`. The output appears only on
    /// success; on any error or abort, nothing is left behind.
    pub fn run(self, shutdown: &Shutdown, progress: &dyn Progress) -> Result<JobReport, JobError> {
        self.run_observed(shutdown, progress, None)
    }

    /// [`VideoJob::run`], showing every frame and its regions to `observer` first.
    pub fn run_observed(
        self,
        shutdown: &Shutdown,
        progress: &dyn Progress,
        observer: Option<&mut dyn RegionObserver>,
    ) -> Result<JobReport, JobError> {
        let started = Instant::now();
        let input = self.input;
        let decoder: Box<dyn FrameSource + '_> = match self.source {
            Some(source) => source,
            None => Box::new(VideoDecoder::open(&input)?),
        };
        let stats = self.stats;
        if let Some(stats) = &stats {
            stats.start_job();
        }
        let writer = self.output.as_deref().map(|o| Mp4Writer::create(o, &self.encoder)).transpose()?;
        let mut redaction = self.redaction;
        let mut detection = self.detection;
        let mut audit = self.audit;
        let clips = self.clips;
        let live = decoder.is_live();

        // A live camera's queue is bounded again by its rate at the first frame (live_queue_limit).
        let (frame_tx, frame_rx) = bounded::<Frame>(if live { LIVE_QUEUE_MAX } else { QUEUE_DEPTH });
        // Frames a live source dropped because the queue was full.
        let dropped = AtomicU64::new(0);
        let (found_tx, found_rx) = bounded::<(Frame, FrameRegions)>(QUEUE_DEPTH);
        let (redacted_tx, redacted_rx) = bounded::<(RedactedFrame, bool)>(QUEUE_DEPTH);
        // The residual audit runs beside the stages, fed by the redact stage (see AuditFeed).
        let (audit_tx, audit_rx) = bounded::<AuditItem>(1);
        let feed = audit.as_ref().map(|a| AuditFeed {
            tx: audit_tx,
            every: a.every,
            follow_rate: a.follow_rate,
            live,
            skipped: 0,
            errors: 0,
        });
        let target = redaction.target();
        let (decoded, detected, redacted, encoded, audited) = thread::scope(|s| {
            let decode = thread::Builder::new().name("decode".into()).spawn_scoped(s, || {
                decode_stage(decoder, frame_tx, &dropped, stats.as_deref(), shutdown, progress)
            });
            let detect = thread::Builder::new().name("detect".into()).spawn_scoped(s, || {
                detect_stage(
                    detection.as_mut(),
                    observer,
                    frame_rx,
                    found_tx,
                    live.then_some(&dropped),
                    stats.as_deref(),
                    shutdown,
                )
            });
            let redact = thread::Builder::new()
                .name("redact".into())
                .spawn_scoped(s, || redact_stage(&mut redaction, feed, found_rx, redacted_tx, shutdown));
            let audited = audit.as_mut().map(|audit| {
                thread::Builder::new()
                    .name("audit".into())
                    .spawn_scoped(s, move || audit_stage(audit, target, audit_rx, shutdown))
            });
            let encoded = encode_stage(writer, clips, redacted_rx, stats.as_deref(), shutdown);
            let audited = audited.map(|handle| joined(handle, &input));
            (joined(decode, &input), joined(detect, &input), joined(redact, &input), encoded, audited)
        });
        let (decode_end, frames) = decoded??;
        let (detect_end, counts) = detected?;
        let (redact_end, fed) =
            redacted?.map_err(|source| JobError::Redact { path: input.clone(), source })?;
        let mut audit_counts = audited.transpose()?.unwrap_or_default();
        audit_counts.skipped_busy += fed.skipped;
        audit_counts.errors += fed.errors;
        audit_counts.frames_checked += fed.errors;
        let (encode_end, writer) = encoded?;
        let ends = [decode_end, detect_end, redact_end, encode_end];
        if shutdown.is_aborted()
            || ends.contains(&StageEnd::Aborted)
            || ends.contains(&StageEnd::DownstreamGone)
        {
            return Err(JobError::Interrupted { path: input });
        }
        let mut report = JobReport {
            frames,
            output: writer.as_ref().map(|w| w.path().to_owned()),
            stopped_early: decode_end == StageEnd::Stopped,
            plan: counts,
            audit: audit_counts,
            audit_every: fed.every,
            elapsed: started.elapsed(),
        };
        if let Some(writer) = writer {
            let companion = self.companion;
            let job = report.clone();
            let output = writer.finish_with(|| companion.map(|write| write(&job)).transpose())?;
            report.output = Some(output);
        }
        Ok(report)
    }
}

/// The result of a stage thread; a stage that could not start or panicked fails the job.
fn joined<T>(handle: std::io::Result<thread::ScopedJoinHandle<'_, T>>, input: &Path) -> Result<T, JobError> {
    handle.ok().and_then(|h| h.join().ok()).ok_or_else(|| JobError::Panicked { path: input.to_owned() })
}

fn decode_stage(
    mut decoder: Box<dyn FrameSource + '_>,
    out: Sender<Frame>,
    dropped: &AtomicU64,
    stats: Option<&CameraStats>,
    shutdown: &Shutdown,
    progress: &dyn Progress,
) -> Result<(StageEnd, u64), SourceError> {
    let live = decoder.is_live();
    let mut total_known = false;
    let mut limit = LIVE_QUEUE_DEPTH;
    loop {
        if shutdown.is_aborted() {
            return Ok((StageEnd::Aborted, decoder.frames()));
        }
        if shutdown.is_stopping() {
            return Ok((StageEnd::Stopped, decoder.frames()));
        }
        match decoder.pull(POLL)? {
            Decoded::Frame(frame) => {
                if !total_known {
                    total_known = true;
                    limit = live_queue_limit(frame.fps());
                    if let Some(total) = decoder.stream_info().and_then(|i| i.expected_frames()) {
                        progress.set_total(total);
                    }
                }
                progress.tick();
                if let Some(stats) = stats {
                    stats.frame();
                }
                let sent = if live {
                    send_or_drop(&out, limit, frame, dropped, stats)
                } else {
                    out.send(frame).is_ok()
                };
                if !sent {
                    return Ok((StageEnd::DownstreamGone, decoder.frames()));
                }
            }
            Decoded::Pending => {}
            Decoded::End => return Ok((StageEnd::Complete, decoder.frames())),
        }
    }
}

/// Queues `frame` for a live source, or drops it whole (before any redaction, counted) when
/// `limit` frames are waiting, so that the source never waits and latency stays bounded by the
/// queue. The planner sees the hole in frame indices.
///
/// The new frame goes, not the oldest waiting: a frame can only be masked within
/// `max_staleness` of the detection pass before it, and the frames waiting are the ones right
/// after the latest pass. Dropping the oldest instead, a pass that takes longer than the
/// staleness limit (cameras taking turns on an overloaded box) would leave only frames too old
/// for it, each needing a pass of its own: one frame out per pass. This way each pass is followed
/// by the frames it can mask, and an overloaded camera loses the frames between those runs.
fn send_or_drop(
    out: &Sender<Frame>,
    limit: usize,
    frame: Frame,
    dropped: &AtomicU64,
    stats: Option<&CameraStats>,
) -> bool {
    let full = || {
        dropped.fetch_add(1, Ordering::SeqCst);
        if let Some(stats) = stats {
            stats.dropped(DropReason::QueueFull);
        }
        true
    };
    // Only this stage sends: the queue can only shrink between this check and the send.
    if out.len() >= limit {
        return full();
    }
    match out.try_send(frame) {
        Ok(()) => true,
        Err(crossbeam_channel::TrySendError::Disconnected(_)) => false,
        Err(crossbeam_channel::TrySendError::Full(_)) => full(),
    }
}

/// Tags each frame with the regions to redact: none without detection, else what the mask
/// planner decides (detection every N-th frame, tracking, look-ahead, fail closed).
fn detect_stage(
    detection: Option<&mut Detection<'_>>,
    mut observer: Option<&mut dyn RegionObserver>,
    input: Receiver<Frame>,
    out: Sender<(Frame, FrameRegions)>,
    live_drops: Option<&AtomicU64>,
    stats: Option<&CameraStats>,
    shutdown: &Shutdown,
) -> (StageEnd, PlanCounts) {
    let mut send = |frame: Frame, regions: FrameRegions| {
        if let Some(observer) = observer.as_deref_mut() {
            observer.observe(&frame, &regions);
        }
        out.send((frame, regions)).is_ok()
    };
    let Some(detection) = detection else {
        for frame in input {
            if shutdown.is_aborted() {
                return (StageEnd::Aborted, PlanCounts::default());
            }
            if !send(frame, FrameRegions::None) {
                return (StageEnd::DownstreamGone, PlanCounts::default());
            }
        }
        return (StageEnd::Complete, PlanCounts::default());
    };
    let counting = detection.counting.take();
    let overloaded = detection.overloaded;
    let mut timed = Timed { inner: &mut *detection.detector, stats };
    let mut planner = match Planner::new(&mut timed, detection.every, detection.temporal.clone()) {
        Ok(planner) => match counting {
            Some(counting) => planner.with_counting(counting),
            None => planner,
        },
        Err(err) => {
            // Settings are validated with the config; if they were not, fail closed on every frame.
            tracing::error!(%err, "tracker settings refused: every frame redacted whole");
            for frame in input {
                if !send(frame, FrameRegions::FailClosed) {
                    return (StageEnd::DownstreamGone, PlanCounts::default());
                }
            }
            return (StageEnd::Complete, PlanCounts::default());
        }
    };
    // The source's drop count when the latest pass began.
    let mut dropped_at_pass = 0;
    for frame in input.iter() {
        if shutdown.is_aborted() {
            return (StageEnd::Aborted, planner.counts());
        }
        // A live camera whose frames wait here, or were dropped since the latest pass began, is
        // ahead of detection: its passes are put off (up to the staleness limit), so that each
        // pass is followed by the frames it can mask. A file just waits.
        let dropped = live_drops.map(|d| d.load(Ordering::SeqCst));
        planner.set_behind(overloaded || dropped.is_some_and(|d| !input.is_empty() || d > dropped_at_pass));
        let passes = planner.counts().passes;
        let pushed = planner.push(frame, &mut send);
        if planner.counts().passes != passes {
            dropped_at_pass = dropped.unwrap_or_default();
        }
        if let Some(stats) = stats {
            stats.set_plan(&planner.counts());
        }
        if !pushed {
            return (StageEnd::DownstreamGone, planner.counts());
        }
    }
    let end = if planner.finish(&mut send) { StageEnd::Complete } else { StageEnd::DownstreamGone };
    if let Some(stats) = stats {
        stats.set_plan(&planner.counts());
    }
    (end, planner.counts())
}

/// A detector whose passes are timed into the camera's figures.
struct Timed<'a, 's> {
    inner: &'a mut dyn FrameDetector,
    stats: Option<&'s CameraStats>,
}

impl FrameDetector for Timed<'_, '_> {
    fn target(&self) -> crate::redact::Target {
        self.inner.target()
    }

    fn detect(&mut self, frame: &Frame) -> Result<crate::detect::Found, crate::detect::DetectError> {
        let started = Instant::now();
        let found = self.inner.detect(frame);
        if let Some(stats) = self.stats {
            stats.detection(started.elapsed());
        }
        found
    }

    fn scale_use(&self) -> Option<crate::detect::scale::ScaleUse> {
        self.inner.scale_use()
    }

    fn faces_reused(&self) -> u64 {
        self.inner.faces_reused()
    }

    fn face_scale(&self) -> Option<crate::detect::face_scale::FaceScaleUse> {
        self.inner.face_scale()
    }
}

/// A redacted frame for the residual audit: a copy of its own (the decoder's buffer goes back to
/// its pool at once) and the masks it was redacted with.
struct AuditItem {
    frame: RedactedFrame,
    regions: FrameRegions,
    fixed: Vec<crate::geometry::Shape>,
}

/// How the redact stage feeds the residual audit, which runs on a thread of its own: every
/// `every`-th redacted frame. A live camera never waits for it: with one audit running and one
/// queued, a frame due for an audit is skipped (counted). One audit costs about four detection
/// passes; run in line, on an overloaded box it held up a camera's frames until its queue
/// dropped them (four 1080p cameras kept 35–48 % of their frames with the audit in line, 73 %
/// without it). A file waits for the audit, as for everything.
struct AuditFeed {
    tx: Sender<AuditItem>,
    every: u32,
    /// `every` is the default, to be fitted to the stream's rate at its first frame.
    follow_rate: bool,
    live: bool,
    skipped: u64,
    /// Frames that could not be copied for the audit.
    errors: u64,
}

impl AuditFeed {
    fn offer(&mut self, redacted: &RedactedFrame, regions: &FrameRegions, fixed: &[crate::geometry::Shape]) {
        if self.live && self.tx.is_full() {
            self.skipped += 1;
            return;
        }
        let frame = match redacted.to_owned_copy() {
            Ok(frame) => frame,
            Err(err) => {
                self.errors += 1;
                tracing::warn!(frame = redacted.meta().index, %err, "residual audit: the frame could not be copied");
                return;
            }
        };
        let item = AuditItem { frame, regions: regions.clone(), fixed: fixed.to_vec() };
        let sent = if self.live { self.tx.try_send(item).is_ok() } else { self.tx.send(item).is_ok() };
        // Full (live) or gone (the audit thread ended: aborted): not audited.
        self.skipped += u64::from(!sent);
    }
}

/// The residual audit's thread: audits each frame the redact stage hands over, until it stops.
fn audit_stage(
    audit: &mut Audit<'_>,
    target: crate::redact::Target,
    input: Receiver<AuditItem>,
    shutdown: &Shutdown,
) -> AuditCounts {
    let mut counts = AuditCounts::default();
    for item in input {
        if shutdown.is_aborted() {
            break;
        }
        audit_masks(audit, target, &item.fixed, &item.regions, &item.frame, &mut counts);
    }
    counts
}

/// What the redact stage did for the audit: the cadence it used, frames skipped and frames that
/// could not be copied.
#[derive(Debug, Clone, Copy, Default)]
struct AuditFed {
    every: Option<u32>,
    skipped: u64,
    errors: u64,
}

/// Redacts each frame; every `every`-th redacted frame goes to the residual audit. Each frame
/// goes on with whether detection found something in it (people present, for event clips).
fn redact_stage(
    redaction: &mut Redaction,
    mut feed: Option<AuditFeed>,
    input: Receiver<(Frame, FrameRegions)>,
    out: Sender<(RedactedFrame, bool)>,
    shutdown: &Shutdown,
) -> Result<(StageEnd, AuditFed), RedactError> {
    let fed = |feed: &Option<AuditFeed>| {
        feed.as_ref().map_or_else(AuditFed::default, |a| AuditFed {
            every: Some(a.every),
            skipped: a.skipped,
            errors: a.errors,
        })
    };
    for (index, (frame, regions)) in input.into_iter().enumerate() {
        if shutdown.is_aborted() {
            return Ok((StageEnd::Aborted, fed(&feed)));
        }
        if let Some(feed) = feed.as_mut()
            && std::mem::take(&mut feed.follow_rate)
        {
            feed.every = audit_every_at(feed.every, frame.fps());
        }
        let redacted = redaction.apply(frame, &regions)?;
        if let Some(feed) = feed.as_mut()
            && (index as u64).is_multiple_of(u64::from(feed.every.max(1)))
        {
            feed.offer(&redacted, &regions, redaction.fixed_shapes());
        }
        let found = matches!(&regions, FrameRegions::Detected(shapes) if !shapes.is_empty());
        if out.send((redacted, found)).is_err() {
            return Ok((StageEnd::DownstreamGone, fed(&feed)));
        }
    }
    Ok((StageEnd::Complete, fed(&feed)))
}

/// Encodes until the channel closes; hands the writer back so the caller finishes it only when
/// every stage succeeded. The clip recorder sees every frame first; its open clip is finished
/// when the stream ends (also by an error upstream: what it holds is redacted and complete) and
/// deleted on an abort.
fn encode_stage(
    mut writer: Option<Mp4Writer>,
    mut clips: Option<&mut crate::clips::ClipRecorder>,
    input: Receiver<(RedactedFrame, bool)>,
    stats: Option<&CameraStats>,
    shutdown: &Shutdown,
) -> Result<(StageEnd, Option<Mp4Writer>), JobError> {
    let result = (|| {
        for (frame, found) in input {
            if shutdown.is_aborted() {
                return Ok((StageEnd::Aborted, None));
            }
            // A camera's snapshot: the redacted frame, scaled down, at most once a second.
            if let Some(stats) = stats {
                stats.offer_preview(&frame);
            }
            if let Some(clips) = clips.as_deref_mut() {
                clips.offer(&frame, found);
            }
            if let Some(writer) = writer.as_mut() {
                writer.write(frame)?;
            }
        }
        Ok((StageEnd::Complete, writer))
    })();
    if let Some(clips) = clips {
        match &result {
            Ok((StageEnd::Aborted, _)) => clips.abandon(),
            _ => clips.end_stream(),
        }
    }
    result
}

/// Where `redact` writes the redacted version of `input` when `-o` is a directory: the input's
/// file name, with `.mp4` for videos in any other container.
pub fn output_name_in(dir: &Path, input: &Path, is_video: bool) -> PathBuf {
    let name = input.file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("output"));
    let keeps_ext = name.extension().is_some_and(|e| e.eq_ignore_ascii_case("mp4"));
    if is_video && !keeps_ext { dir.join(name.with_extension("mp4")) } else { dir.join(name) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Detection;
    use crate::geometry::{Rect, Shape};

    /// A live source that gives `total` tiny frames, one every millisecond.
    struct ScriptedLive {
        next: u64,
        total: u64,
    }

    impl FrameSource for ScriptedLive {
        fn pull(&mut self, _: Duration) -> Result<Decoded, SourceError> {
            if self.next == self.total {
                return Ok(Decoded::End);
            }
            std::thread::sleep(Duration::from_millis(1));
            let mut frame = Frame::from_still(crate::frame::StillImage {
                width: 32,
                height: 24,
                channels: 3,
                data: vec![200; 32 * 24 * 3],
            });
            frame.meta.index = self.next;
            self.next += 1;
            Ok(Decoded::Frame(frame))
        }
        fn frames(&self) -> u64 {
            self.next
        }
        fn is_live(&self) -> bool {
            true
        }
    }

    /// A detector much slower than the camera: 60 ms a pass, the time of 60 frames.
    struct Slow;

    impl FrameDetector for Slow {
        fn target(&self) -> crate::redact::Target {
            crate::redact::Target::Faces
        }
        fn detect(&mut self, _: &Frame) -> Result<crate::detect::Found, crate::detect::DetectError> {
            std::thread::sleep(Duration::from_millis(60));
            Ok(crate::detect::Found::default())
        }
    }

    #[test]
    fn a_live_source_ahead_of_detection_drops_frames_whole_between_the_runs_each_pass_masks() {
        let stats = Arc::new(CameraStats::new("scripted"));
        let mut detector = Slow;
        let seen = std::sync::Mutex::new(Vec::new());
        let mut observe = |frame: &Frame, regions: &FrameRegions| {
            assert!(!matches!(regions, FrameRegions::None), "every frame goes to redaction with a plan");
            seen.lock().unwrap().push(frame.meta().index);
        };
        let redaction = Redaction::new(
            crate::redact::Target::Faces,
            crate::redact::Method::Fill,
            crate::redact::Rgb { r: 0, g: 0, b: 0 },
            Vec::new(),
        )
        .unwrap();
        let job = VideoJob {
            input: PathBuf::from("scripted"),
            source: Some(Box::new(ScriptedLive { next: 0, total: 300 })),
            stats: Some(stats.clone()),
            output: None,
            redaction,
            detection: Some(super::Detection {
                detector: &mut detector,
                every: 3,
                temporal: TemporalSettings::default(),
                counting: None,
                overloaded: false,
            }),
            audit: None,
            encoder: EncoderSettings::default(),
            companion: None,
            clips: None,
        };
        let report = job.run_observed(&Shutdown::new(), &NoProgress, Some(&mut observe)).unwrap();
        let seen = seen.into_inner().unwrap();
        let dropped = stats.dropped_by(DropReason::QueueFull);
        assert_eq!(report.frames, 300, "every frame decoded");
        assert!(dropped > 50, "the slow detector made the source drop frames: {dropped}");
        assert_eq!(seen.len() as u64 + dropped, 300, "a frame is either dropped whole or redacted");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order");
        assert_eq!(stats.frames(), 300);
        assert_eq!(report.plan.fail_closed(), 0);
        // Every frame after a hole had a detection pass of its own: no mask older than it looks.
        assert!(report.plan.passes as usize >= seen.windows(2).filter(|w| w[1] > w[0] + 1).count());
        // Each pass is followed by the frames it can mask (up to the staleness limit, 12), not
        // by frames already too old for it: dropping the oldest waiting frames instead gave
        // about one frame per pass here.
        assert!(
            seen.len() as u64 >= 10 * report.plan.passes,
            "{} frames out of {} passes",
            seen.len(),
            report.plan.passes
        );
    }

    /// A redacted grey still.
    fn redacted_still(index: u64) -> RedactedFrame {
        let mut frame = Frame::from_still(crate::frame::StillImage {
            width: 32,
            height: 24,
            channels: 3,
            data: vec![128; 32 * 24 * 3],
        });
        frame.meta.index = index;
        let mut redaction = Redaction::new(
            crate::redact::Target::Frame,
            crate::redact::Method::Fill,
            crate::redact::Rgb { r: 0, g: 0, b: 0 },
            Vec::new(),
        )
        .unwrap();
        redaction.apply(frame, &FrameRegions::None).unwrap()
    }

    #[test]
    fn a_live_camera_never_waits_for_the_audit_and_a_file_does() {
        // Nobody takes the audit's frames: one is queued, and a live camera skips the rest.
        let (tx, rx) = bounded::<AuditItem>(1);
        let mut live = AuditFeed { tx, every: 1, follow_rate: false, live: true, skipped: 0, errors: 0 };
        let started = Instant::now();
        for i in 0..5 {
            live.offer(&redacted_still(i), &FrameRegions::None, &[]);
        }
        assert!(started.elapsed() < Duration::from_secs(1), "the live feed never blocked");
        assert_eq!((rx.len(), live.skipped, live.errors), (1, 4, 0));
        assert_eq!(rx.recv().unwrap().frame.meta().index, 0);
        // A file's feed waits for the audit to take each frame: none is skipped.
        let (tx, rx) = bounded::<AuditItem>(1);
        let taker = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for item in rx {
                std::thread::sleep(Duration::from_millis(20));
                seen.push(item.frame.meta().index);
            }
            seen
        });
        let mut file = AuditFeed { tx, every: 1, follow_rate: false, live: false, skipped: 0, errors: 0 };
        for i in 0..5 {
            file.offer(&redacted_still(i), &FrameRegions::None, &[]);
        }
        assert_eq!(file.skipped, 0);
        drop(file);
        assert_eq!(taker.join().unwrap(), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_live_queue_holds_half_a_second_in_the_streams_own_frames() {
        assert_eq!(live_queue_limit(Some(25.0)), 12);
        assert_eq!(live_queue_limit(Some(5.0)), 12, "never fewer than at 25 fps");
        assert_eq!(live_queue_limit(Some(30_000.0 / 1001.0)), 15);
        assert_eq!(live_queue_limit(Some(50.0)), 24);
        assert_eq!(live_queue_limit(Some(120.0)), LIVE_QUEUE_MAX);
        assert_eq!(live_queue_limit(None), 12);
    }

    #[test]
    fn the_audit_default_keeps_its_time_between_audits_at_every_frame_rate() {
        assert_eq!(audit_every_at(100, Some(25.0)), 100);
        assert_eq!(audit_every_at(100, Some(5.0)), 20);
        assert_eq!(audit_every_at(100, Some(30_000.0 / 1001.0)), 120);
        assert_eq!(audit_every_at(100, Some(60.0)), 240);
        assert_eq!(audit_every_at(1, Some(5.0)), 1, "at least every frame");
        for fps in [None, Some(0.0), Some(f64::NAN), Some(-5.0)] {
            assert_eq!(audit_every_at(100, fps), 100, "{fps:?}: as stated");
        }
    }

    #[test]
    fn audit_faces_are_split_by_whether_the_masks_cover_them() {
        let mask = [Shape::Ellipse(Rect::new(100.0, 100.0, 200.0, 200.0))];
        let face = |x: f32| Detection { rect: Rect::new(x, 130.0, x + 40.0, 170.0), score: 0.5 };
        let mut counts = AuditCounts::default();
        // One blurred face still found inside its mask, one face outside any mask.
        counts.add(&[face(130.0), face(400.0)], Some(&[&mask[..]]));
        // A frame redacted whole: whatever is found is inside.
        counts.add(&[face(400.0)], None);
        counts.add(&[], Some(&[&mask[..]]));
        assert_eq!(
            counts,
            AuditCounts {
                frames_checked: 3,
                faces_found: 3,
                frames_with_faces: 2,
                faces_in_masks: 2,
                faces_outside_masks: 1,
                frames_with_faces_outside: 1,
                errors: 0,
                skipped_busy: 0,
            }
        );
    }
}
