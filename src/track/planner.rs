//! The mask policy over time: which regions each frame is redacted with, given detection passes
//! every N-th frame, the trackers that carry people between and through missed passes, a
//! look-ahead buffer, and fail-closed rules.
//!
//! Frame `j` leaves the planner only once the frames up to `j + lookahead` have been seen (or the
//! stream ended), and is masked with the union of:
//! * every track's box at `j` ([`Tracker::box_at`]: predicted forwards between passes and while
//!   the person is missed, or back-extrapolated before their first detection — the look-ahead),
//!   grown by [`Tracker::margin_at`] (the older the detection, the wider), a head mask as deep
//!   as the score of the detection it is extrapolated from asks ([`super::Track::score_at`]);
//! * the raw detections of the pass at or before `j` and of the next pass after it, when that is
//!   within the look-ahead (detections too weak to start a track are still masked).
//!
//! Frame `j` is redacted whole (fail closed) when the latest pass at or before it failed, or when
//! the latest successful pass is more than `max_staleness` frames old.

use gstreamer as gst;
use std::collections::VecDeque;

use super::{TrackId, TrackState, Tracker, TrackerSettings};
use crate::count::{CountError, CountStage, Pass};
use crate::detect::face_scale::FaceScaleUse;
use crate::detect::scale::ScaleUse;
use crate::detect::{
    DetectError, FACE_MASK_SCALE, Found, FrameDetector, head_mask_placed, person_mask, scale_about_centre,
};
use crate::frame::Frame;
use crate::geometry::{Rect, Shape};
use crate::redact::{FrameRegions, Target};

/// Temporal settings of the mask policy.
#[derive(Debug, Clone, PartialEq)]
pub struct TemporalSettings {
    /// Frames held back between detection and redaction, so that a person first detected at
    /// frame `f` is also masked (back-extrapolated along their track) on frames `f - lookahead ..
    /// f`: people walking in from the edge, faces turning to the camera. Default 12 (0.48 s at 25
    /// fps): the output is that much later, and that many frames are held in memory.
    pub lookahead: u32,
    /// The oldest a frame's latest successful detection may be, in frames, before the frame is
    /// redacted whole. Default 12 (about half a second at 25 fps); at least `detect_every - 1`.
    pub max_staleness: u32,
    /// What happens to a frame that fails closed: redacted whole (default), or dropped from the
    /// output (the stream then has a gap in time there).
    pub on_fail: OnFail,
    /// The trackers' settings (persons and faces are tracked apart).
    pub tracker: TrackerSettings,
    /// Which of the frame counts above (and detection's cadence) are durations stated at
    /// [`REFERENCE_FPS`], to be rescaled to the stream's own frame rate: every setting left at its
    /// default; none that the user set.
    pub follow_rate: FollowRate,
}

/// The frame rate at which the frame-count defaults are stated (`detect_every = 3`,
/// `lookahead = 12`, `max_staleness = 12`, the trackers' 25 frames): the rate they were measured
/// at. A stream at another rate gets the same durations in its own frames
/// ([`TemporalSettings::at_rate`]).
pub const REFERENCE_FPS: f64 = 25.0;

/// A stream's frame rate `fps` over [`REFERENCE_FPS`], when the rate is usable (finite and
/// positive): how many of the stream's frames last as long as one at the reference rate. Every
/// default stated in frames at [`REFERENCE_FPS`] is fitted to a stream by it.
pub fn rate_ratio(fps: Option<f64>) -> Option<f64> {
    fps.filter(|f| f.is_finite() && *f > 0.0).map(|f| f / REFERENCE_FPS)
}

/// Frames of a stream that declares no rate after which, without a usable timestamp step, the
/// settings are used as stated.
const UNSTAMPED_LIMIT: u32 = 25;
/// Frame rates taken from timestamps outside this range are not believed.
const MIN_FPS: f64 = 0.5;
const MAX_FPS: f64 = 300.0;

/// Which frame-count settings follow the stream's frame rate (each `true` one is a default,
/// stated at [`REFERENCE_FPS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowRate {
    pub detect_every: bool,
    pub lookahead: bool,
    pub max_staleness: bool,
    /// `max_lost`, `max_extrapolation`, `margin_growth`, `bridge_speed`, `far_gap` and
    /// `frame_length` of the trackers.
    pub tracker: bool,
}

impl FollowRate {
    /// Every setting follows the frame rate (all defaults).
    pub const ALL: Self = Self { detect_every: true, lookahead: true, max_staleness: true, tracker: true };
    /// Every setting is taken as given, in frames.
    pub const NONE: Self =
        Self { detect_every: false, lookahead: false, max_staleness: false, tracker: false };
}

impl Default for FollowRate {
    fn default() -> Self {
        Self::ALL
    }
}

/// The cadence and frame counts a planner runs with, once it knows the stream's frame rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// Detection on every `every`-th frame (0 before the first frame).
    pub every: u32,
    pub lookahead: u32,
    pub max_staleness: u32,
    /// The stream's declared frame rate in thousandths of a frame per second; 0 when it declared
    /// none (the settings are then used as stated, as at [`REFERENCE_FPS`]).
    pub fps_milli: u32,
}

impl Timing {
    /// The stream's frame rate, when it declared one.
    pub fn fps(&self) -> Option<f64> {
        (self.fps_milli > 0).then(|| f64::from(self.fps_milli) / 1000.0)
    }
}

impl TemporalSettings {
    /// These settings, and detection on every `every`-th frame, for a stream of `fps` frames per
    /// second: each setting that [`FollowRate`] names keeps its duration at [`REFERENCE_FPS`],
    /// counted in the stream's frames. So a 5 fps sub-stream is detected on every frame (0.2 s
    /// apart, not 0.6 s), look-ahead and staleness stay about 0.5 s, a lost track is kept about a
    /// second and a mask widens as fast per second.
    ///
    /// Detection never has more frames between passes than at the reference rate (3): a
    /// misplaced mask shows as many frames as there are between passes, and exposure is counted
    /// in frames. A 30 fps stream is detected on every 3rd frame (0.1 s), a 50 fps one on every
    /// 3rd too; below 25 fps the duration holds (every 2nd frame at 15 fps).
    ///
    /// Rounding errs towards masking more: detection at the nearest whole number of frames (at
    /// least 1); look-ahead and staleness rounded up; staleness at least the gap between
    /// detections, and an `every` that follows the rate no longer than a staleness that does not.
    /// Without a usable `fps` (`None`, zero, not finite) everything is used as stated.
    pub fn at_rate(&self, every: u32, fps: Option<f64>) -> (u32, TemporalSettings) {
        let mut out = self.clone();
        let Some(ratio) = rate_ratio(fps) else {
            return (every.max(1), out);
        };
        let follow = self.follow_rate;
        let frames = |n: u32, round: fn(f64) -> f64| round(f64::from(n) * ratio).clamp(0.0, 250.0) as u32;
        let mut every = every.max(1);
        if follow.detect_every {
            every = frames(every, f64::round).clamp(1, every);
        }
        if follow.lookahead {
            out.lookahead = frames(self.lookahead, f64::ceil);
        }
        if follow.max_staleness {
            out.max_staleness = frames(self.max_staleness, f64::ceil).max(every - 1);
        } else {
            every = every.min(out.max_staleness + 1);
        }
        if follow.tracker {
            let t = &mut out.tracker;
            let scaled = |n: u64| ((n as f64 * ratio).round() as u64).max(1);
            t.max_lost = scaled(t.max_lost);
            t.max_extrapolation = scaled(t.max_extrapolation);
            t.margin_growth = (f64::from(t.margin_growth) / ratio) as f32;
            t.bridge_speed = (f64::from(t.bridge_speed) / ratio) as f32;
            t.far_gap = (f64::from(t.far_gap) * ratio) as f32;
            t.frame_length = (f64::from(t.frame_length) / ratio) as f32;
        }
        (every, out)
    }
}

/// What happens to a frame whose detection failed or is too old.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFail {
    /// The whole frame is redacted.
    #[default]
    Redact,
    /// The frame is left out of the output.
    Drop,
}

impl std::str::FromStr for OnFail {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "redact" => Ok(OnFail::Redact),
            "drop" => Ok(OnFail::Drop),
            _ => Err(format!("unknown on_fail {s:?}: expected redact (the whole frame) or drop")),
        }
    }
}

impl Default for TemporalSettings {
    fn default() -> Self {
        Self {
            lookahead: 12,
            max_staleness: 12,
            on_fail: OnFail::Redact,
            tracker: TrackerSettings::default(),
            follow_rate: FollowRate::ALL,
        }
    }
}

/// Why a frame was redacted whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// The detection pass covering the frame failed.
    DetectorError,
    /// The detection pass covering the frame gave output that cannot be trusted (NaN or infinite
    /// numbers): a numerical fault, never read as "nobody there".
    InvalidOutput,
    /// The latest successful detection was older than `max_staleness`.
    Stale,
}

/// What the planner did, for the job's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanCounts {
    /// Detection passes run.
    pub passes: u64,
    /// Passes that failed (an error, or output that cannot be trusted).
    pub failed_passes: u64,
    /// Of those, passes whose output held non-finite numbers.
    pub invalid_output_passes: u64,
    /// Frames redacted whole because their detection failed.
    pub fail_closed_error: u64,
    /// Frames redacted whole because their detection's output held non-finite numbers.
    pub fail_closed_invalid: u64,
    /// Frames redacted whole because their detection was too old.
    pub fail_closed_stale: u64,
    /// Frames left out of the output (`on_fail = drop`) instead of redacted whole.
    pub dropped: u64,
    /// Frames of a live camera whose due detection pass was put off because frames were waiting
    /// (detection behind the camera); each still had a detection no older than `max_staleness`.
    pub postponed: u64,
    /// The largest age, in frames, of the detection a frame was masked from.
    pub max_staleness: u64,
    /// Frames emitted with detected masks, and the masks they had in all (for the mean).
    pub masked_frames: u64,
    pub masks: u64,
    /// Frames with at least one mask, and the most masks of any frame.
    pub frames_with_masks: u64,
    pub max_masks: u64,
    /// How the person detector chose its tiles (all zero with a fixed grid or no person detector).
    pub person_scale: ScaleUse,
    /// Face inferences left out because their input had not changed since the latest one, whose
    /// faces were used again (src/detect/unchanged.rs).
    pub faces_reused: u64,
    /// How the face detector chose its input size (all zero where it does not adapt).
    pub face_scale: FaceScaleUse,
    /// Bridges made (person and face tracks; see [`super::Bridge`]), and the frames a bridge
    /// masked.
    pub bridges: u64,
    pub frames_bridged: u64,
    /// The cadence and frame counts used, at the stream's frame rate (zero before a frame).
    pub timing: Timing,
}

impl PlanCounts {
    pub fn fail_closed(&self) -> u64 {
        self.fail_closed_error + self.fail_closed_invalid + self.fail_closed_stale
    }

    /// Adds `more` (another job's counts): sums, and the larger of the maxima.
    pub fn add(&mut self, more: &PlanCounts) {
        self.passes += more.passes;
        self.failed_passes += more.failed_passes;
        self.invalid_output_passes += more.invalid_output_passes;
        self.fail_closed_error += more.fail_closed_error;
        self.fail_closed_invalid += more.fail_closed_invalid;
        self.fail_closed_stale += more.fail_closed_stale;
        self.dropped += more.dropped;
        self.postponed += more.postponed;
        self.max_staleness = self.max_staleness.max(more.max_staleness);
        self.masked_frames += more.masked_frames;
        self.masks += more.masks;
        self.frames_with_masks += more.frames_with_masks;
        self.max_masks = self.max_masks.max(more.max_masks);
        let (mine, theirs) = (&mut self.person_scale, &more.person_scale);
        for (a, b) in mine.passes_by_level.iter_mut().zip(theirs.passes_by_level) {
            *a += b;
        }
        mine.probes += theirs.probes;
        mine.changes += theirs.changes;
        mine.tiles_run += theirs.tiles_run;
        mine.tiles_rested += theirs.tiles_rested;
        mine.tiles_reused += theirs.tiles_reused;
        mine.whole_reused += theirs.whole_reused;
        mine.probe_repeats += theirs.probe_repeats;
        self.faces_reused += more.faces_reused;
        self.face_scale.add(&more.face_scale);
        self.bridges += more.bridges;
        self.frames_bridged += more.frames_bridged;
        if theirs.level > 0 {
            (mine.level, mine.grid) = (theirs.level, theirs.grid);
        }
        if more.timing.every > 0 {
            self.timing = more.timing;
        }
    }

    /// The counts since `base` (earlier counts of the same camera): sums are differences; the
    /// maxima stay the camera's (never less than the part's, so a report errs high).
    pub fn since(&self, base: &PlanCounts) -> PlanCounts {
        PlanCounts {
            passes: self.passes.saturating_sub(base.passes),
            failed_passes: self.failed_passes.saturating_sub(base.failed_passes),
            invalid_output_passes: self.invalid_output_passes.saturating_sub(base.invalid_output_passes),
            fail_closed_error: self.fail_closed_error.saturating_sub(base.fail_closed_error),
            fail_closed_invalid: self.fail_closed_invalid.saturating_sub(base.fail_closed_invalid),
            fail_closed_stale: self.fail_closed_stale.saturating_sub(base.fail_closed_stale),
            dropped: self.dropped.saturating_sub(base.dropped),
            postponed: self.postponed.saturating_sub(base.postponed),
            max_staleness: self.max_staleness,
            masked_frames: self.masked_frames.saturating_sub(base.masked_frames),
            masks: self.masks.saturating_sub(base.masks),
            frames_with_masks: self.frames_with_masks.saturating_sub(base.frames_with_masks),
            max_masks: self.max_masks,
            person_scale: self.person_scale.since(&base.person_scale),
            faces_reused: self.faces_reused.saturating_sub(base.faces_reused),
            face_scale: self.face_scale.since(&base.face_scale),
            bridges: self.bridges.saturating_sub(base.bridges),
            frames_bridged: self.frames_bridged.saturating_sub(base.frames_bridged),
            timing: self.timing,
        }
    }
}

/// Counting from the person tracks: each detection pass's confirmed, detected tracks go to the
/// camera's counting stage, which outlives the planner (a live camera's reconnect starts a new
/// planner, never new buckets). The planner neither closes buckets nor shows any figure.
#[derive(Debug)]
pub struct Counting<'d> {
    /// The stream time of frame timestamp 0, ms since the Unix epoch.
    pub start_ms: u64,
    pub stage: &'d CountStage<TrackId>,
}

struct Pending {
    frame: Frame,
    index: u64,
    fail: Option<FailReason>,
}

/// One frame's regions, decided frames later. Feed frames in order with [`Planner::push`], then
/// [`Planner::finish`].
pub struct Planner<'d, 'c> {
    detector: &'d mut dyn FrameDetector,
    every: u64,
    settings: TemporalSettings,
    persons: Tracker,
    faces: Tracker,
    pending: VecDeque<Pending>,
    /// Recent successful passes: frame index and detections; the oldest is the latest pass at or
    /// before the oldest pending frame.
    passes: VecDeque<(u64, Found)>,
    next: u64,
    /// How the latest pass went: `Ok`, or why it failed (`None` before the first).
    latest_pass: Option<Result<(), FailReason>>,
    last_ok: Option<u64>,
    counts: PlanCounts,
    counting: Option<Counting<'c>>,
    /// The person tracks at the previous pass, to tell the counter which ended.
    known: Vec<TrackId>,
    /// The source frame number of the latest detection pass: the next runs `every` frames later.
    last_pass: Option<u64>,
    /// The detector's scale use when the planner started.
    scale_base: Option<ScaleUse>,
    /// The detector's reused face inferences when the planner started.
    faces_base: u64,
    face_scale_base: FaceScaleUse,
    /// Whether `every` and `settings` were fitted to the stream's frame rate (at the first frame
    /// when its caps declare the rate, else from the timestamps of the first frames).
    timed: bool,
    /// A stream that declares no rate: the first frame's index and timestamp, and how many frames
    /// came without a usable timestamp step.
    first_stamp: Option<(u64, gst::ClockTime)>,
    unstamped: u32,
    /// Frames are waiting for this planner (a live camera ahead of detection).
    behind: bool,
}

impl std::fmt::Debug for Planner<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planner")
            .field("next", &self.next)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl<'d, 'c> Planner<'d, 'c> {
    /// A planner running `detector` every `every`-th frame (from the first).
    pub fn new(
        detector: &'d mut dyn FrameDetector,
        every: u32,
        settings: TemporalSettings,
    ) -> Result<Self, super::TrackError> {
        let persons = Tracker::new(settings.tracker.clone())?;
        let scale_base = detector.scale_use();
        let faces_base = detector.faces_reused();
        let face_scale_base = detector.face_scale().unwrap_or_default();
        let faces = Tracker::new(face_settings(&settings.tracker))?;
        Ok(Self {
            detector,
            every: u64::from(every.max(1)),
            settings,
            persons,
            faces,
            pending: VecDeque::new(),
            passes: VecDeque::new(),
            next: 0,
            latest_pass: None,
            last_ok: None,
            counts: PlanCounts::default(),
            counting: None,
            known: Vec::new(),
            last_pass: None,
            scale_base,
            faces_base,
            face_scale_base,
            timed: false,
            first_stamp: None,
            unstamped: 0,
            behind: false,
        })
    }

    /// Counts people with `counting` from now on (needs a detector that finds persons).
    pub fn with_counting(mut self, counting: Counting<'c>) -> Self {
        self.counting = Some(counting);
        self
    }

    pub fn counts(&self) -> PlanCounts {
        self.counts
    }

    /// Tells the planner whether the source is ahead of detection (a live camera whose frames are
    /// waiting, or were dropped since the latest pass began). While it is, a due detection pass is
    /// put off until the latest detection would become stale (`max_staleness`): the frames
    /// between are masked from the tracks (with their margins growing) instead of being dropped
    /// whole before redaction, and none is ever masked from a detection older than
    /// `max_staleness`. Files never set it: they wait.
    pub fn set_behind(&mut self, behind: bool) {
        self.behind = behind;
    }

    /// Takes the next frame; hands every frame whose look-ahead is complete to `emit`, in order.
    /// Stops early (returns `false`) when `emit` does.
    pub fn push(&mut self, frame: Frame, emit: &mut impl FnMut(Frame, FrameRegions) -> bool) -> bool {
        // Frames are numbered as the source numbered them: a live camera's frames dropped before
        // the planner leave holes, and detection cadence, staleness and the trackers' motion all
        // count source frames (time), not frames that made it here. Without holes (files) this is
        // 0, 1, 2, …
        let index = frame.meta().index.max(self.next);
        if !self.timed {
            self.fit_when_known(&frame, index);
        }
        self.next = index + 1;
        let due = self.last_pass.is_none_or(|last| index >= last + self.every);
        // Put off no further than the frame that would be stale, nor after a failed pass (its
        // frames are redacted whole until a pass succeeds).
        let overdue = self.last_ok.is_none_or(|ok| index > ok + u64::from(self.settings.max_staleness))
            || matches!(self.latest_pass, Some(Err(_)));
        if due && (!self.behind || overdue) {
            let put_off = self.last_pass.is_some_and(|last| index > last + self.every);
            self.persons.set_put_off(put_off);
            self.faces.set_put_off(put_off);
            self.last_pass = Some(index);
            self.detect(&frame, index);
        } else if due {
            self.counts.postponed += 1;
        }
        let fail = match (self.latest_pass, self.last_ok) {
            (Some(Err(reason)), _) => Some(reason),
            (_, Some(ok)) if index - ok > u64::from(self.settings.max_staleness) => Some(FailReason::Stale),
            (_, None) => Some(FailReason::DetectorError),
            _ => None,
        };
        self.pending.push_back(Pending { frame, index, fail });
        while self.pending.len() > self.settings.lookahead as usize {
            if !self.emit_oldest(emit) {
                return false;
            }
        }
        true
    }

    /// Hands every frame still held to `emit` (the stream ended). Counting's buckets stay open:
    /// the owner of the counting stage closes them.
    pub fn finish(&mut self, emit: &mut impl FnMut(Frame, FrameRegions) -> bool) -> bool {
        while !self.pending.is_empty() {
            if !self.emit_oldest(emit) {
                return false;
            }
        }
        true
    }

    /// Fits the timing to the stream's rate as soon as it is known: the rate its caps declare (at
    /// the first frame), else the step between the timestamps of its first two stamped frames (a
    /// variable-rate file, a camera whose stream says nothing). Until then, and for good after
    /// [`UNSTAMPED_LIMIT`] frames without a usable step, the settings are used as stated.
    fn fit_when_known(&mut self, frame: &Frame, index: u64) {
        if let Some(fps) = frame.fps() {
            return self.fit_to_rate(Some(fps), "caps");
        }
        let stamp = frame.meta().pts;
        if let (Some((first, first_pts)), Some(pts)) = (self.first_stamp, stamp)
            && index > first
            && pts > first_pts
        {
            let fps = (index - first) as f64 / (pts - first_pts).seconds_f64();
            if (MIN_FPS..=MAX_FPS).contains(&fps) {
                return self.fit_to_rate(Some(fps), "timestamps");
            }
        }
        if self.first_stamp.is_none() {
            self.first_stamp = stamp.map(|pts| (index, pts));
        }
        self.unstamped += 1;
        if self.unstamped >= UNSTAMPED_LIMIT {
            self.fit_to_rate(None, "none");
        }
    }

    /// Fits the cadence and frame counts to the frame rate `fps` ([`TemporalSettings::at_rate`]).
    /// The trackers keep their tracks (a fit from timestamps comes after the first pass) and take
    /// the fitted settings from their next pass on.
    fn fit_to_rate(&mut self, fps: Option<f64>, from: &'static str) {
        self.timed = true;
        let every = u32::try_from(self.every).unwrap_or(u32::MAX);
        let (every, mut settings) = self.settings.at_rate(every, fps);
        if let Err(err) = settings.tracker.validate() {
            // Scaled settings stay valid; if not, the stated ones (already checked) are kept.
            tracing::warn!(%err, "tracker settings for the stream's frame rate refused; kept as stated");
            settings.tracker = self.settings.tracker.clone();
        }
        self.persons.settings = settings.tracker.clone();
        self.faces.settings = face_settings(&settings.tracker);
        if fps.is_some() && (u64::from(every), &settings) != (self.every, &self.settings) {
            tracing::info!(
                fps = fps.unwrap_or_default(),
                from,
                every,
                lookahead = settings.lookahead,
                max_staleness = settings.max_staleness,
                "detection timing fitted to the stream's frame rate"
            );
        }
        self.every = u64::from(every);
        self.settings = settings;
        self.counts.timing = Timing {
            every,
            lookahead: self.settings.lookahead,
            max_staleness: self.settings.max_staleness,
            fps_milli: rate_ratio(fps).and(fps).map_or(0, |f| (f * 1000.0).round() as u32),
        };
    }

    fn detect(&mut self, frame: &Frame, index: u64) {
        self.counts.passes += 1;
        let result = self.detector.detect(frame);
        if let Some(scale) = self.detector.scale_use() {
            // The detector outlives the planner (a camera's reconnects, redact's inputs).
            let base = *self.scale_base.get_or_insert(ScaleUse::default());
            self.counts.person_scale = scale.since(&base);
        }
        self.counts.faces_reused = self.detector.faces_reused().saturating_sub(self.faces_base);
        if let Some(used) = self.detector.face_scale() {
            self.counts.face_scale = used.since(&self.face_scale_base);
        }
        match result {
            Ok(mut found) => {
                let (width, height) = frame.size();
                self.persons.set_bounds(width as f32, height as f32);
                self.faces.set_bounds(width as f32, height as f32);
                // Indices increase by construction: the trackers cannot refuse them.
                let _ = self.persons.update_weak(index, &found.persons, &found.weak_persons);
                found.continuing = self.persons.continued().to_vec();
                let _ = self.faces.update(index, &found.faces);
                self.counts.bridges = self.persons.bridges_made() + self.faces.bridges_made();
                if let Err(err) = self.count(frame, index) {
                    tracing::warn!(frame = index, %err, "counting skipped this pass");
                }
                self.passes.push_back((index, found));
                self.latest_pass = Some(Ok(()));
                self.last_ok = Some(index);
            }
            Err(err) => {
                self.counts.failed_passes += 1;
                log_failure(index, &err);
                let reason = if err.is_invalid_output() {
                    self.counts.invalid_output_passes += 1;
                    FailReason::InvalidOutput
                } else {
                    FailReason::DetectorError
                };
                self.latest_pass = Some(Err(reason));
            }
        }
    }

    /// Hands the pass's confirmed, detected person tracks to the counter, if any.
    fn count(&mut self, frame: &Frame, index: u64) -> Result<(), CountError> {
        let Some(counting) = self.counting.as_mut() else { return Ok(()) };
        let detected = |state: TrackState| {
            move |t: &&super::Track| t.state() == state && t.last_matched_frame() == index
        };
        let mut tracks: Vec<(TrackId, Rect)> = self
            .persons
            .tracks()
            .iter()
            .filter(detected(TrackState::Confirmed))
            .map(|t| (t.id(), t.counted_rect()))
            .collect();
        let mut tentative: Vec<(TrackId, Rect)> = self
            .persons
            .tracks()
            .iter()
            .filter(detected(TrackState::Tentative))
            .map(|t| (t.id(), t.counted_rect()))
            .collect();
        // A box that is the upper part of another of this pass is that person seen twice.
        let all: Vec<Rect> = tracks.iter().chain(&tentative).map(|&(_, r)| r).collect();
        let whole = |&(_, r): &(TrackId, Rect)| !crate::count::part_of_another(&r, &all);
        tracks.retain(whole);
        tentative.retain(whole);
        let alive: Vec<TrackId> = self.persons.tracks().iter().map(|t| t.id()).collect();
        let ended: Vec<TrackId> =
            self.known.iter().copied().filter(|id| alive.binary_search(id).is_err()).collect();
        self.known = alive;
        let (width, height) = frame.size();
        let pts_ms = frame.meta().pts.map_or(0, |t| t.mseconds());
        let pass = Pass {
            time_ms: counting.start_ms + pts_ms,
            width,
            height,
            tracks: &tracks,
            tentative: &tentative,
            ended: &ended,
        };
        counting.stage.pass(&pass)
    }

    fn emit_oldest(&mut self, emit: &mut impl FnMut(Frame, FrameRegions) -> bool) -> bool {
        let Some(p) = self.pending.pop_front() else { return true };
        let drop = p.fail.is_some() && self.settings.on_fail == OnFail::Drop;
        let regions = match p.fail {
            Some(FailReason::DetectorError) => {
                self.counts.fail_closed_error += 1;
                FrameRegions::FailClosed
            }
            Some(FailReason::InvalidOutput) => {
                self.counts.fail_closed_invalid += 1;
                FrameRegions::FailClosed
            }
            Some(FailReason::Stale) => {
                self.counts.fail_closed_stale += 1;
                FrameRegions::FailClosed
            }
            None => {
                let masks = self.masks_at(p.index);
                self.counts.masked_frames += 1;
                self.counts.masks += masks.len() as u64;
                self.counts.frames_with_masks += u64::from(!masks.is_empty());
                self.counts.max_masks = self.counts.max_masks.max(masks.len() as u64);
                FrameRegions::Detected(masks.into())
            }
        };
        // Passes older than the latest one at or before the next pending frame are done with.
        let next = self.pending.front().map_or(self.next, |q| q.index);
        while self.passes.len() > 1 && self.passes[1].0 <= next {
            self.passes.pop_front();
        }
        self.persons.forget_retired(next);
        self.faces.forget_retired(next);
        if drop {
            self.counts.dropped += 1;
            return true;
        }
        emit(p.frame, regions)
    }

    /// The masks of frame `j` (see the module docs).
    fn masks_at(&mut self, j: u64) -> Vec<Shape> {
        let target = self.detector.target();
        let before = self.passes.iter().rev().find(|(i, _)| *i <= j);
        let after = self.passes.iter().find(|(i, _)| *i > j);
        if let Some((i, _)) = before {
            self.counts.max_staleness = self.counts.max_staleness.max(j - i);
        }
        let mut masks: Vec<Shape> = Vec::new();
        for (_, found) in before.into_iter().chain(after) {
            masks.extend(found.masks(target));
        }
        if target.masks_persons() {
            let persons = &self.persons;
            let kept = persons.tracks().iter().chain(persons.retired()).filter(|t| persons.kept_at(t, j));
            for track in kept {
                let (r, margin) = (persons.box_at(track, j), persons.margin_at(track, j));
                let placed = (track.reach_at(j), track.sink_at(j));
                masks.push(person_shape(target, &r, track.score_at(j), placed, margin));
            }
        }
        let faces = &self.faces;
        for track in faces.tracks().iter().chain(faces.retired()).filter(|t| faces.kept_at(t, j)) {
            masks.push(face_shape(&faces.box_at(track, j), faces.margin_at(track, j)));
        }
        // Where a track ended and another began a pass later within reach, the frames between
        // are masked along the way too (see `Bridge`).
        let tracked = masks.len();
        if target.masks_persons() {
            for (r, score, d) in self.persons.bridges_at(j) {
                masks.push(person_shape(target, &r, score, (0.0, 0.0), self.persons.margin_after(d)));
            }
        }
        for (r, _, d) in self.faces.bridges_at(j) {
            masks.push(face_shape(&r, self.faces.margin_after(d)));
        }
        self.counts.frames_bridged += u64::from(masks.len() > tracked);
        masks
    }
}

/// The mask of a person box `r` of a track or bridge, grown by `margin`: for `heads` the head
/// region (as deep as `score` asks and `sink` pixels more, `reach` pixels higher:
/// [`super::Track::reach_at`], [`super::Track::sink_at`]), grown about the head, not about the
/// person's centre; else the person, `reach` pixels taller.
fn person_shape(target: Target, r: &Rect, score: f32, (reach, sink): (f32, f32), margin: f32) -> Shape {
    match target {
        Target::Heads => grow_shape(head_mask_placed(r, score, reach, sink), margin),
        _ => person_mask(&scale_about_centre(&Rect { y0: r.y0 - reach.max(0.0), ..*r }, margin)),
    }
}

/// The mask of a face box `r` of a track or bridge, grown by `margin`.
fn face_shape(r: &Rect, margin: f32) -> Shape {
    Shape::Ellipse(scale_about_centre(r, FACE_MASK_SCALE * margin))
}

/// About how many face heights a standing person is tall: a face moves this many of its own
/// heights for each of the person's.
const FACE_HEIGHTS_PER_PERSON: f32 = 7.0;

/// The face tracker's settings: the person tracker's, with the bridge speed in face heights.
fn face_settings(person: &super::TrackerSettings) -> super::TrackerSettings {
    super::TrackerSettings { bridge_speed: person.bridge_speed * FACE_HEIGHTS_PER_PERSON, ..person.clone() }
}

fn log_failure(index: u64, err: &DetectError) {
    tracing::warn!(frame = index, %err, "detection failed: frames redacted whole until the next good pass");
}

/// `shape` scaled by `factor` about the centre of its bounds.
fn grow_shape(shape: Shape, factor: f32) -> Shape {
    let b = shape.bounds();
    let (cx, cy) = ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
    match shape {
        Shape::Rect(r) => Shape::Rect(scale_about_centre(&r, factor)),
        Shape::Ellipse(r) => Shape::Ellipse(scale_about_centre(&r, factor)),
        Shape::Polygon(points) => Shape::Polygon(
            points
                .into_iter()
                .map(|p| crate::geometry::Point::new(cx + (p.x - cx) * factor, cy + (p.y - cy) * factor))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Detection;
    use crate::frame::StillImage;

    /// A detector whose answer for each frame index is scripted.
    struct Scripted<F: FnMut(u64) -> Result<Found, DetectError> + Send> {
        target: Target,
        answer: F,
        calls: Vec<u64>,
    }

    impl<F: FnMut(u64) -> Result<Found, DetectError> + Send> FrameDetector for Scripted<F> {
        fn target(&self) -> Target {
            self.target
        }

        fn detect(&mut self, frame: &Frame) -> Result<Found, DetectError> {
            let index = frame.meta().index;
            self.calls.push(index);
            (self.answer)(index)
        }
    }

    fn frame(index: u64) -> Frame {
        let mut frame = Frame::from_still(StillImage {
            width: 640,
            height: 480,
            channels: 3,
            data: vec![0; 640 * 480 * 3],
        });
        frame.meta.index = index;
        frame
    }

    fn person(x: f32, score: f32) -> Found {
        Found {
            faces: Vec::new(),
            persons: vec![Detection { rect: Rect::new(x, 100.0, x + 60.0, 280.0), score }],
            weak_persons: Vec::new(),
            continuing: Vec::new(),
        }
    }

    /// Runs `frames` frames through a planner; returns each frame's regions, in order.
    fn run(
        detector: &mut dyn FrameDetector,
        every: u32,
        settings: TemporalSettings,
        frames: u64,
    ) -> (Vec<FrameRegions>, PlanCounts) {
        let mut planner = Planner::new(detector, every, settings).unwrap();
        let mut out = Vec::new();
        let mut emit = |f: Frame, r: FrameRegions| {
            assert_eq!(f.meta().index, out.len() as u64, "frames leave in order, none dropped");
            out.push(r);
            true
        };
        for i in 0..frames {
            assert!(planner.push(frame(i), &mut emit));
        }
        assert!(planner.finish(&mut emit));
        let counts = planner.counts();
        (out, counts)
    }

    fn masked_at(regions: &FrameRegions, x: usize, y: usize) -> bool {
        match regions {
            FrameRegions::FailClosed => true,
            FrameRegions::None => false,
            FrameRegions::Detected(masks) => masks.iter().any(|m| crate::redact::raster::covers(m, x, y)),
        }
    }

    #[test]
    fn cadence_counts_source_frames_across_holes() {
        // A live camera's frames 4..=9 were dropped before the planner: frame 10 is 7 frames after
        // the pass at 3, so it is detected at once (its masks would otherwise come from a pass
        // older than it looks), and the cadence goes on from it. Dropped frames cost no extra pass.
        let mut detector =
            Scripted { target: Target::Faces, answer: |_| Ok(Found::default()), calls: Vec::new() };
        let mut planner = Planner::new(&mut detector, 3, TemporalSettings::default()).unwrap();
        let mut emit = |_: Frame, _: FrameRegions| true;
        for i in (0..4).chain(10..17) {
            assert!(planner.push(frame(i), &mut emit));
        }
        assert!(planner.finish(&mut emit));
        drop(planner);
        assert_eq!(detector.calls, [0, 3, 10, 13, 16]);
    }

    #[test]
    fn non_finite_detector_output_fails_closed_and_is_counted_apart() {
        // A detector whose numbers went bad (NaN from a broken execution provider) at passes 6
        // and 9: never read as "nobody there".
        let mut detector = Scripted {
            target: Target::Faces,
            answer: |i| match i {
                6 | 9 => {
                    Err(DetectError::NonFinite { path: "model.onnx".into(), output: "scores", count: 3 })
                }
                _ => Ok(Found::default()),
            },
            calls: Vec::new(),
        };
        let (regions, counts) = run(&mut detector, 3, TemporalSettings::default(), 18);
        let fail_closed: Vec<usize> = regions
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r, FrameRegions::FailClosed))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(fail_closed, [6, 7, 8, 9, 10, 11]);
        assert_eq!((counts.failed_passes, counts.invalid_output_passes), (2, 2));
        assert_eq!((counts.fail_closed_invalid, counts.fail_closed_error), (6, 0));
        assert_eq!(counts.fail_closed(), 6);
    }

    #[test]
    fn failed_passes_redact_their_frames_whole_until_a_good_pass() {
        let mut detector = Scripted {
            target: Target::Heads,
            answer: |i| match i {
                6 | 9 | 21 => {
                    Err(DetectError::Inference { path: "model.onnx".into(), reason: "injected".into() })
                }
                _ => Ok(person(100.0, 0.9)),
            },
            calls: Vec::new(),
        };
        let (regions, counts) = run(&mut detector, 3, TemporalSettings::default(), 30);
        assert_eq!(detector.calls, (0..30).step_by(3).collect::<Vec<_>>());
        let fail_closed: Vec<usize> = regions
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r, FrameRegions::FailClosed))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(fail_closed, [6, 7, 8, 9, 10, 11, 21, 22, 23]);
        assert!(regions.iter().all(|r| !matches!(r, FrameRegions::None)), "never passed unredacted");
        assert_eq!(
            counts,
            PlanCounts {
                passes: 10,
                failed_passes: 3,
                invalid_output_passes: 0,
                fail_closed_error: 9,
                fail_closed_invalid: 0,
                fail_closed_stale: 0,
                dropped: 0,
                postponed: 0,
                max_staleness: 2,
                masked_frames: 21,
                masks: counts.masks,
                frames_with_masks: 21,
                max_masks: counts.max_masks,
                person_scale: Default::default(),
                faces_reused: 0,
                face_scale: Default::default(),
                // The pass at 12 comes 9 frames after the tracker's last (at 3): matched by
                // motion (`far_gap`), the person's track is bridged from as if it had ended.
                bridges: 1,
                frames_bridged: 2,
                // Stills declare no frame rate: the settings as stated.
                timing: Timing { every: 3, lookahead: 12, max_staleness: 12, fps_milli: 0 },
            }
        );
        // Every frame that was not failed closed has the person's head masked.
        for (i, r) in regions.iter().enumerate() {
            assert!(masked_at(r, 130, 110), "frame {i}");
        }
    }

    #[test]
    fn failed_frames_can_be_dropped_instead() {
        let mut detector = Scripted {
            target: Target::Faces,
            answer: |i| {
                if i == 3 { Err(DetectError::Input("injected".into())) } else { Ok(Found::default()) }
            },
            calls: Vec::new(),
        };
        let settings = TemporalSettings { on_fail: OnFail::Drop, ..TemporalSettings::default() };
        let mut planner = Planner::new(&mut detector, 3, settings).unwrap();
        let mut kept = Vec::new();
        let mut emit = |f: Frame, r: FrameRegions| {
            assert!(!matches!(r, FrameRegions::FailClosed), "failed frames are not emitted");
            kept.push(f.meta().index);
            true
        };
        for i in 0..9 {
            assert!(planner.push(frame(i), &mut emit));
        }
        assert!(planner.finish(&mut emit));
        assert_eq!(kept, [0, 1, 2, 6, 7, 8]);
        assert_eq!((planner.counts().dropped, planner.counts().fail_closed()), (3, 3));
    }

    #[test]
    fn the_first_pass_failing_fails_its_frames_closed() {
        let mut detector = Scripted {
            target: Target::Faces,
            answer: |i| {
                if i == 0 { Err(DetectError::Input("injected".into())) } else { Ok(Found::default()) }
            },
            calls: Vec::new(),
        };
        let (regions, counts) = run(&mut detector, 2, TemporalSettings::default(), 4);
        assert!(
            matches!(regions[0], FrameRegions::FailClosed) && matches!(regions[1], FrameRegions::FailClosed)
        );
        assert!(
            matches!(regions[2], FrameRegions::Detected(_))
                && matches!(regions[3], FrameRegions::Detected(_))
        );
        assert_eq!(counts.fail_closed(), 2);
    }

    #[test]
    fn defaults_keep_their_durations_at_the_streams_frame_rate() {
        let base = TemporalSettings::default();
        // At the reference rate, and without a rate, everything is as stated.
        assert_eq!(base.at_rate(3, Some(REFERENCE_FPS)), (3, base.clone()));
        assert_eq!(base.at_rate(3, None), (3, base.clone()));
        assert_eq!(base.at_rate(3, Some(0.0)), (3, base.clone()));
        assert_eq!(base.at_rate(3, Some(f64::NAN)), (3, base.clone()));
        // 5 fps: every frame (0.2 s apart, not 0.6 s); look-ahead and staleness 0.48 s rounded up
        // to 3 frames; a lost track kept 1 s = 5 frames; a mask widens as fast per second.
        let (every, five) = base.at_rate(3, Some(5.0));
        assert_eq!((every, five.lookahead, five.max_staleness), (1, 3, 3));
        assert_eq!((five.tracker.max_lost, five.tracker.max_extrapolation), (5, 5));
        assert!((five.tracker.margin_growth - 0.1).abs() < 1e-6);
        // A frame there lasts 5 at the reference rate (the box counting takes follows that).
        assert!((five.tracker.frame_length - 5.0).abs() < 1e-6);
        // 30 fps (NTSC's 29.97 too): every 3rd frame, never more frames apart than at 25 fps
        // (0.12 s would be 3.6); 0.48 s is 15 frames.
        let (every, thirty) = base.at_rate(3, Some(30_000.0 / 1001.0));
        assert_eq!((every, thirty.lookahead, thirty.max_staleness, thirty.tracker.max_lost), (3, 15, 15, 30));
        // 50 fps: every 3rd too; 15 fps: every 2nd (1.8 rounded); 12.5 fps: every 2nd (1.5 rounded up).
        assert_eq!(base.at_rate(3, Some(50.0)).0, 3);
        assert_eq!(base.at_rate(3, Some(15.0)).0, 2);
        assert_eq!(base.at_rate(3, Some(12.5)).0, 2);
    }

    #[test]
    fn settings_the_user_wrote_are_frames_and_bound_the_ones_that_follow_the_rate() {
        let written = TemporalSettings { follow_rate: FollowRate::NONE, ..TemporalSettings::default() };
        assert_eq!(written.at_rate(3, Some(5.0)), (3, written.clone()));
        // A written staleness of 2 caps a cadence that would follow a 60 fps stream (7 frames).
        let stale = TemporalSettings {
            max_staleness: 2,
            follow_rate: FollowRate { max_staleness: false, ..FollowRate::ALL },
            ..TemporalSettings::default()
        };
        let (every, fitted) = stale.at_rate(3, Some(60.0));
        assert_eq!((every, fitted.max_staleness), (3, 2));
        // A written cadence of 10 at 5 fps keeps staleness at least the gap between detections.
        let cadence = TemporalSettings {
            follow_rate: FollowRate { detect_every: false, ..FollowRate::ALL },
            ..TemporalSettings::default()
        };
        let (every, fitted) = cadence.at_rate(10, Some(5.0));
        assert_eq!((every, fitted.max_staleness, fitted.lookahead), (10, 9, 3));
    }

    /// A black 64×48 video frame of a stream declaring `fps` (0: none), stamped `pts_ms`.
    fn stamped_frame(index: u64, fps: i32, pts_ms: Option<u64>) -> Frame {
        gstreamer::init().unwrap();
        let info = gstreamer_video::VideoInfo::builder(gstreamer_video::VideoFormat::I420, 64, 48)
            .fps(gstreamer::Fraction::new(fps, 1))
            .build()
            .unwrap();
        let mut buffer = gstreamer::Buffer::from_mut_slice(vec![16u8; info.size()]);
        buffer.get_mut().unwrap().set_pts(pts_ms.map(gst::ClockTime::from_mseconds));
        Frame::from_video(buffer, info, index)
    }

    fn video_frame(index: u64, fps: i32) -> Frame {
        stamped_frame(index, fps, None)
    }

    /// The frames `detector` was run on, and the timing, for `frames` frames from `make`.
    fn cadence(frames: u64, make: impl Fn(u64) -> Frame) -> (Vec<u64>, Timing) {
        let mut detector =
            Scripted { target: Target::Heads, answer: |_| Ok(Found::default()), calls: Vec::new() };
        let mut planner = Planner::new(&mut detector, 3, TemporalSettings::default()).unwrap();
        for i in 0..frames {
            assert!(planner.push(make(i), &mut |_, _| true));
        }
        assert!(planner.finish(&mut |_, _| true));
        let timing = planner.counts().timing;
        drop(planner);
        (detector.calls, timing)
    }

    #[test]
    fn a_stream_that_declares_no_rate_is_timed_by_its_timestamps() {
        // 5 fps by its timestamps: the first frame is detected before the rate is known, then
        // every frame.
        let (calls, timing) = cadence(8, |i| stamped_frame(i, 0, Some(200 * i)));
        assert_eq!(calls, (0..8).collect::<Vec<_>>());
        assert_eq!((timing.every, timing.lookahead, timing.fps_milli), (1, 3, 5000));
        // 50 fps: every 3rd frame (at most as many frames apart as at 25 fps), look-ahead 24.
        let (calls, timing) = cadence(13, |i| stamped_frame(i, 0, Some(20 * i)));
        assert_eq!(calls, [0, 3, 6, 9, 12]);
        assert_eq!((timing.every, timing.lookahead, timing.fps_milli), (3, 24, 50_000));
        // Declared caps win over timestamps.
        let (_, timing) = cadence(4, |i| stamped_frame(i, 25, Some(200 * i)));
        assert_eq!(timing.fps_milli, 25_000);
        // No rate and no timestamps: as stated, once enough frames came to give up waiting.
        let (calls, timing) = cadence(30, |i| stamped_frame(i, 0, None));
        assert_eq!(calls, (0..30).step_by(3).collect::<Vec<_>>());
        assert_eq!(timing, Timing { every: 3, lookahead: 12, max_staleness: 12, fps_milli: 0 });
        // Timestamps that do not move on (or jump to an unbelievable rate) are not a rate.
        let (_, timing) = cadence(30, |i| stamped_frame(i, 0, Some(7)));
        assert_eq!(timing.fps_milli, 0);
    }

    #[test]
    fn a_planner_fits_its_cadence_to_the_frame_rate_of_the_frames_it_gets() {
        let mut detector =
            Scripted { target: Target::Heads, answer: |_| Ok(Found::default()), calls: Vec::new() };
        let mut planner = Planner::new(&mut detector, 3, TemporalSettings::default()).unwrap();
        let mut emitted = 0;
        let mut emit = |_: Frame, _: FrameRegions| {
            emitted += 1;
            true
        };
        for i in 0..10 {
            assert!(planner.push(video_frame(i, 5), &mut emit));
        }
        assert!(planner.finish(&mut emit));
        let timing = planner.counts().timing;
        assert_eq!(timing, Timing { every: 1, lookahead: 3, max_staleness: 3, fps_milli: 5000 });
        assert_eq!(timing.fps(), Some(5.0));
        drop(planner);
        assert_eq!(emitted, 10);
        assert_eq!(detector.calls, (0..10).collect::<Vec<_>>(), "every frame of a 5 fps stream is detected");
        // A cadence written by the user stays.
        let mut detector =
            Scripted { target: Target::Heads, answer: |_| Ok(Found::default()), calls: Vec::new() };
        let written = TemporalSettings { follow_rate: FollowRate::NONE, ..TemporalSettings::default() };
        let mut planner = Planner::new(&mut detector, 3, written).unwrap();
        for i in 0..10 {
            assert!(planner.push(video_frame(i, 5), &mut |_, _| true));
        }
        drop(planner);
        assert_eq!(detector.calls, vec![0, 3, 6, 9]);
    }

    #[test]
    fn frames_older_than_max_staleness_are_redacted_whole() {
        let mut detector =
            Scripted { target: Target::Heads, answer: |_| Ok(Found::default()), calls: Vec::new() };
        let settings = TemporalSettings { max_staleness: 2, ..TemporalSettings::default() };
        let (regions, counts) = run(&mut detector, 5, settings, 10);
        let stale: Vec<usize> = regions
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r, FrameRegions::FailClosed))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(stale, [3, 4, 8, 9]);
        assert_eq!((counts.fail_closed_stale, counts.fail_closed_error), (4, 0));
    }

    /// A person walking right at 4 px/frame, detected from frame 30 on, every 3rd frame.
    fn walker(i: u64) -> Result<Found, DetectError> {
        Ok(if i >= 30 { person(4.0 * i as f32, 0.9) } else { Found::default() })
    }

    #[test]
    fn look_ahead_masks_the_frames_before_the_first_detection() {
        let mut detector = Scripted { target: Target::Heads, answer: walker, calls: Vec::new() };
        let (regions, _) =
            run(&mut detector, 3, TemporalSettings { lookahead: 9, ..TemporalSettings::default() }, 45);
        // The head's centre at frame i is x = 4i + 30, y ≈ 110.
        for (i, r) in regions.iter().enumerate().skip(22) {
            let x = 4 * i + 30;
            assert!(masked_at(r, x, 110), "frame {i}: head at x={x} masked");
        }
        // Without look-ahead the frames before the first detection have nothing.
        let mut detector = Scripted { target: Target::Heads, answer: walker, calls: Vec::new() };
        let (regions, _) =
            run(&mut detector, 3, TemporalSettings { lookahead: 0, ..TemporalSettings::default() }, 45);
        assert!(!masked_at(&regions[29], 4 * 29 + 30, 110));
        assert!(masked_at(&regions[30], 4 * 30 + 30, 110));
    }

    #[test]
    fn masks_follow_a_person_through_missed_passes() {
        // Detected at 0..=12, missed at 15..=24 (occluded), seen again from 27.
        let answer = |i: u64| {
            Ok(if (15..=24).contains(&i) { Found::default() } else { person(200.0 + 3.0 * i as f32, 0.9) })
        };
        let mut detector = Scripted { target: Target::Heads, answer, calls: Vec::new() };
        let (regions, counts) = run(&mut detector, 3, TemporalSettings::default(), 36);
        for (i, r) in regions.iter().enumerate() {
            let x = 3 * i + 230;
            assert!(masked_at(r, x, 110), "frame {i}: head at x={x} masked");
        }
        assert_eq!(counts.fail_closed(), 0);
    }

    #[test]
    fn a_person_tracked_only_by_weak_boxes_stays_masked_past_the_lost_tracks_window() {
        // Seen whole at 0..=12, then for 3 s only as weak boxes (half hidden, scoring under the
        // threshold) walking on: far longer than a lost track is masked (1 s). A weak box that
        // continues no track (clutter) is never masked.
        let clutter = Detection { rect: Rect::new(560.0, 300.0, 620.0, 470.0), score: 0.15 };
        let answer = move |i: u64| {
            let mut found = person(100.0 + 3.0 * i as f32, 0.9);
            if i > 12 {
                found.weak_persons = std::mem::take(&mut found.persons);
                found.weak_persons[0].score = 0.15;
            }
            found.weak_persons.push(clutter);
            Ok(found)
        };
        let mut detector = Scripted { target: Target::Heads, answer, calls: Vec::new() };
        let (regions, counts) = run(&mut detector, 3, TemporalSettings::default(), 90);
        for (i, r) in regions.iter().enumerate().take(88) {
            let x = 3 * i + 130;
            assert!(masked_at(r, x, 110), "frame {i}: head at x={x} masked");
            assert!(!masked_at(r, 590, 320), "frame {i}: clutter unmasked");
        }
        assert_eq!(counts.fail_closed(), 0);
    }

    #[test]
    fn a_person_whose_track_restarts_between_passes_far_apart_stays_masked_between() {
        // Passes 13 frames apart (a live camera ahead of detection puts them off that far): a
        // person 60 px wide walking 8 px a frame moves 104 px between passes, and no box overlaps
        // the last. A second person stands 300 px away the whole time.
        let answer = |i: u64| {
            let mut found = person(20.0 + 8.0 * i as f32, 0.9);
            found.persons.push(Detection { rect: Rect::new(560.0, 100.0, 620.0, 280.0), score: 0.9 });
            Ok(found)
        };
        let masked_throughout = |settings: TemporalSettings| {
            let mut detector = Scripted { target: Target::Heads, answer, calls: Vec::new() };
            let (regions, counts) = run(&mut detector, 13, settings, 53);
            for (i, r) in regions.iter().enumerate() {
                let x = 8 * i + 50;
                assert!(masked_at(r, x, 110), "frame {i}: head at x={x} masked");
            }
            assert_eq!(counts.fail_closed(), 0);
            (counts.bridges, counts.frames_bridged)
        };
        let settings = TemporalSettings { max_staleness: 12, ..TemporalSettings::default() };
        // Matched by motion over that gap (`far_gap`), the walker's track goes on and is masked
        // between its detections; every track matched that way is bridged from as well, to each
        // track detected within reach (the walker's own next box, the stander's own).
        assert_eq!(masked_throughout(settings.clone()).1, 48);
        // Matched by overlap alone, every pass starts a new track without a velocity: one bridge
        // a pass after the first, each over the 12 frames between, keeps the head masked.
        let mut by_overlap = settings;
        by_overlap.tracker.far_gap = 13.0;
        assert_eq!(masked_throughout(by_overlap.clone()), (4, 48));
        // Without bridges the frames in the middle between passes show the head.
        let mut off = by_overlap;
        off.tracker.bridge_speed = 0.0;
        let mut detector = Scripted { target: Target::Heads, answer, calls: Vec::new() };
        let (regions, _) = run(&mut detector, 13, off, 53);
        assert!(!masked_at(&regions[19], 8 * 19 + 50, 110));
    }

    #[test]
    fn a_track_last_seen_weakly_keeps_the_deeper_head_mask_of_a_weak_box_between_passes() {
        // Standing still, found surely at frame 0, then only weakly (0.25, continuing the track)
        // up to frame 12, then missed. Frame 20 is masked from the track alone (the passes at 18
        // and 21 found nobody): its head mask reaches as deep into the box as the weak
        // detection's own mask does, not as deep as a sure box's.
        let below_head = (330, 155);
        let masked_at_20 = |weak: f32| {
            let answer = move |i: u64| {
                Ok(match i {
                    0 => person(300.0, 0.9),
                    1..=12 => person(300.0, weak),
                    _ => Found::default(),
                })
            };
            let mut detector = Scripted { target: Target::Heads, answer, calls: Vec::new() };
            let (regions, _) = run(&mut detector, 3, TemporalSettings::default(), 30);
            masked_at(&regions[20], below_head.0, below_head.1)
        };
        assert!(masked_at_20(0.25), "a weak box's head may lie lower in it");
        assert!(!masked_at_20(0.9), "a sure box's head mask is shallower");
    }

    #[test]
    fn a_lost_person_stays_masked_for_max_lost_frames_also_when_removed_before_they_are_emitted() {
        // Standing still, detected at 0..=12, then never again: the track coasts until frame
        // 12 + max_lost (25) = 37 and is removed by the pass at 39, before the look-ahead has
        // emitted frames 28..=37. They keep its mask all the same.
        let answer = |i: u64| Ok(if i <= 12 { person(300.0, 0.9) } else { Found::default() });
        let mut detector = Scripted { target: Target::Heads, answer, calls: Vec::new() };
        let (regions, counts) = run(&mut detector, 3, TemporalSettings::default(), 60);
        for (i, r) in regions.iter().enumerate().take(38) {
            assert!(masked_at(r, 330, 110), "frame {i}: within the coasting window");
        }
        for (i, r) in regions.iter().enumerate().skip(45) {
            assert!(!masked_at(r, 330, 110), "frame {i}: long after the track ended");
        }
        assert_eq!(counts.fail_closed(), 0);
    }

    #[test]
    fn a_camera_ahead_of_detection_gets_its_passes_put_off_to_the_staleness_limit_never_past() {
        // Someone walking 4 px a frame throughout.
        let walking = |i: u64| Ok(person(4.0 * i as f32, 0.9));
        let mut detector = Scripted { target: Target::Heads, answer: walking, calls: Vec::new() };
        let mut planner = Planner::new(&mut detector, 3, TemporalSettings::default()).unwrap();
        let mut regions = Vec::new();
        let mut emit = |_: Frame, r: FrameRegions| {
            regions.push(r);
            true
        };
        for i in 0..40 {
            // Frames waiting throughout, but not on frames 30..33: passes run when due again.
            planner.set_behind(!(30..33).contains(&i));
            assert!(planner.push(frame(i), &mut emit));
        }
        assert!(planner.finish(&mut emit));
        let counts = planner.counts();
        drop(planner);
        // Every 13th frame (max_staleness 12 + 1) while behind; frame 30, due and with nothing
        // waiting, at once; then behind again.
        assert_eq!(detector.calls, [0, 13, 26, 30]);
        assert_eq!(counts.max_staleness, 12, "no frame masked from a detection older than the limit");
        assert_eq!(counts.fail_closed(), 0);
        // Frames on which a pass was due and put off: 3..=12, 16..=25, 29 and 33..=39.
        assert_eq!(counts.postponed, 10 + 10 + 1 + 7);
        // Every frame masked from detections, the head where the person is at that frame (the
        // track carries it across the passes put off).
        for (i, r) in regions.iter().enumerate() {
            assert!(matches!(r, FrameRegions::Detected(_)), "frame {i}");
            assert!(masked_at(r, 4 * i + 30, 110), "frame {i}: head at x = {}", 4 * i + 30);
        }
    }

    #[test]
    fn a_slow_detector_changes_nothing_for_files() {
        let slow = |i: u64| {
            std::thread::sleep(std::time::Duration::from_millis(15));
            walker(i)
        };
        let mut fast = Scripted { target: Target::Heads, answer: walker, calls: Vec::new() };
        let mut slow = Scripted { target: Target::Heads, answer: slow, calls: Vec::new() };
        let (a, _) = run(&mut fast, 3, TemporalSettings::default(), 40);
        let (b, _) = run(&mut slow, 3, TemporalSettings::default(), 40);
        assert_eq!(a, b, "a file waits for its detector: same masks, no frame dropped or passed stale");
    }
}
