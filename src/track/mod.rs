//! Multi-object tracking, geometry only: a ByteTrack-style tracker that carries detected boxes
//! across the frames between detection passes, through short occlusions, and back to the frames
//! before a person was first detected (for the look-ahead buffer).
//!
//! # Privacy
//! A [`Track`] holds a box, its velocity, its age and counts, and nothing else: no crops, no
//! embeddings, no appearance. Its [`TrackId`] is a counter local to one [`Tracker`] that is never
//! persisted and means nothing outside it. No trajectory is kept: only the Kalman state (and that
//! of the filter counting takes its box from, [`Track::counted_rect`]), the box at the first
//! detection (to extrapolate backwards from) and the boxes of the latest few.
//!
//! # One detection pass ([`Tracker::update`])
//! 1. Tracks not matched for more than [`TrackerSettings::max_lost`] frames are removed.
//! 2. Every track's Kalman filter is predicted to the pass's frame (the gap since the previous
//!    pass, in frames: detection may run every N-th frame).
//! 3. Detections with score ≥ `high` are matched to all tracks (tentative, confirmed, lost) by IoU
//!    of predicted box and detection, IoU ≥ `match_iou`, with the Hungarian method
//!    (`assoc.rs` says why not greedy). Among pairs past that gate, a detection in the direction
//!    the track was moving scores up to `direction_weight` more (OC-SORT's momentum term): when
//!    two people cross, both detections overlap both predictions, and direction tells them apart.
//!    After a gap longer than [`TrackerSettings::far_gap`] (a pass put off, a stream of a few
//!    frames a second) they are matched by motion instead: by the Kalman filter's Mahalanobis
//!    distance of centre and size, gated at its 95th percentile, heights within 1.5×. Over such a
//!    gap people move further than their width; IoU with a prediction that does not yet know
//!    their velocity restarts everyone, and in a file it hands each track to the person behind.
//! 4. Confirmed tracks still unmatched are matched to the detections with `low` ≤ score < `high`,
//!    IoU ≥ `low_match_iou` (ByteTrack's second stage: an occluded or blurred person scores low
//!    but is still where their track predicts). Lost tracks do not take part, as in ByteTrack: a
//!    low-score box is trusted only to continue a track that was seen at the previous pass.
//!    [`Tracker::update_weak`] adds the person detector's boxes below its own threshold (down to
//!    0.1) to this stage: a track one of them continues is matched (and counted) but masked as a
//!    lost track is, plus at that box.
//! 5. Tracks unmatched: confirmed ones become lost; tentative ones are removed (a first detection
//!    not seen again was more likely a false positive than a person). A removed tentative track
//!    that a low box still overlaps is masked on from that box as a lost track would be, for
//!    masks only and until the next pass ([`Tracker::retired`]): someone half seen at the next
//!    pass is not exposed until the pass after.
//! 6. High detections left unmatched start tentative tracks; one scoring ≥ `confirm_score` starts
//!    confirmed. Low detections never start a track.
//!
//! # Between passes ([`Tracker::box_at`], [`Tracker::margin_at`])
//! A track's box at any frame is interpolated between two of its detections, or moved linearly
//! from one at that detection's size: from the latest one (forwards, and backwards over the
//! track's life), or from the first one for frames before it. The mask should grow by [`Tracker::margin_at`] about the box centre: the older the detection
//! the box came from, the wider.

mod assoc;
mod kalman;
pub mod planner;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;

use crate::detect::Detection;
pub use crate::geometry::Anchor;
use crate::geometry::{Point, Rect};

use kalman::{BoxFilter, rect_from};
pub use planner::{
    Counting, FailReason, FollowRate, OnFail, PlanCounts, Planner, REFERENCE_FPS, TemporalSettings, Timing,
    rate_ratio,
};

/// How the tracker matches, confirms, keeps and extrapolates tracks. Frame counts are in frames of
/// the video, not detection passes, so they do not change meaning with `detect_every`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerSettings {
    /// Detections scoring at least this are matched first and may start tracks. Default 0.5
    /// (ByteTrack's `track_thresh`). Lower finds more people sooner but starts more false tracks.
    pub high: f32,
    /// Detections scoring at least this (and below `high`) may continue a confirmed track, never
    /// start one; below it they are ignored. Default 0.1 (ByteTrack's). The detector must pass
    /// boxes this weak through for the second stage to see them.
    pub low: f32,
    /// Least IoU of a track's predicted box and a high detection to match them. Default 0.2
    /// (ByteTrack's `match_thresh` 0.8 on `1 − IoU`): lenient, because the Kalman prediction
    /// across a gap of several frames is only approximately where the person is.
    pub match_iou: f32,
    /// Least IoU to match a low detection to a confirmed track. Default 0.5 (ByteTrack's second
    /// stage): stricter, because a weak box far from the prediction is more likely clutter.
    pub low_match_iou: f32,
    /// Detections (including the first) that confirm a tentative track. Default 2 (ByteTrack
    /// confirms at the second consecutive match): one false positive does not make a track.
    pub min_hits: u32,
    /// A new track whose first detection scores at least this is confirmed at once. Default 0.8: a
    /// detection that confident is rarely a false positive, and a confirmed track survives a
    /// missed next pass (kept lost) where a tentative one is dropped. Set above any score (e.g.
    /// 2.0) to always require `min_hits`.
    pub confirm_score: f32,
    /// Frames a track is kept after its last detection (lost, predicted by its motion) before it
    /// is removed; a lost track that matches again keeps its id. Default 25 (1 s at 25 fps, about
    /// ByteTrack's 30-frame buffer): longer bridges longer occlusions but risks giving the id to
    /// someone else who appears where the lost person was heading.
    pub max_lost: u64,
    /// Most frames [`Tracker::box_at`] extrapolates a box from a detection, forwards or backwards;
    /// beyond it the box stays where it got to. Default 25 (1 s at 25 fps): a velocity estimated
    /// from a few noisy boxes is not trusted to carry a box further than that.
    pub max_extrapolation: u64,
    /// Growth of [`Tracker::margin_at`] per frame between the queried frame and the detection its
    /// box was extrapolated from. Default 0.02 (a box predicted 25 frames ahead is masked 1.5×
    /// wider and taller). More covers faster or less predictable motion, at the cost of masking
    /// more of the scene.
    pub margin_growth: f32,
    /// The largest margin. Default 2.0: past it a wider mask hides the scene without making a
    /// miss less likely.
    pub margin_cap: f32,
    /// Weight of direction consistency in matching high detections (OC-SORT's momentum term):
    /// among the pairs that pass the IoU gate, a detection in the direction the track was moving
    /// is preferred by up to this much IoU, one behind it disfavoured as much. Default 0.2
    /// (OC-SORT's). It keeps identities when two people cross, where both detections overlap
    /// both predictions. 0 turns it off.
    pub direction_weight: f32,
    /// How far a person may move per frame, in heights of their box, for a track that ended
    /// (lost, or tentative and gone) and one arriving at a later pass to be taken as possibly the
    /// same person for masking ([`Bridge`]). Default 0.08 (2 heights a second at 25 fps: running).
    /// Between two passes far apart (a live camera ahead of detection puts passes off to 0.48 s)
    /// a walking person moves further than their own width: matched by motion there
    /// ([`TrackerSettings::far_gap`]), a track may still end or take someone else, and the frames
    /// between would be masked only where the person was and where they ended up. 0 turns
    /// bridging off.
    pub bridge_speed: f32,
    /// Passes more than this many frames apart (a live camera behind detection puts passes off
    /// to 0.48 s; a stream of a few frames a second) match high detections to tracks by motion
    /// instead of IoU: where the box is a plausible measurement of the track by its Kalman filter
    /// ([`kalman::GATE_4DOF`]), whose uncertainty has grown with the gap. Over such a gap a walking
    /// person moves further than their own width: no IoU matches a track that does not yet know
    /// its person's velocity, so everyone restarted as a new track at every pass, and people
    /// walking in a file had each track taken by the person behind. Default 6.5 (0.26 s at
    /// 25 fps: the least gap over which a person walking a height a second leaves a box predicted
    /// at rest with an IoU under the 0.2 gate). Shorter gaps match by IoU, as ByteTrack does (by
    /// motion there too cost counts on the stress set: C-BIoU, docs/models.md). The filter's noise
    /// is per frame whatever a frame lasts, so on a stream of a few frames a second its gate is as
    /// narrow as over as many frames at 25 fps (widened by the time, Stadtmitte's groups swapped:
    /// docs/models.md, "Counts under overload"). Masks bridge from
    /// a track matched by motion as from one that ended ([`Bridge`]): the match may be wrong.
    pub far_gap: f32,
    /// How long one of the stream's frames lasts, in frames at the reference rate (25 fps): 1 at
    /// 25 fps, 5 at 5 fps; set from the stream's rate with the frame counts above
    /// ([`crate::track::planner::TemporalSettings::at_rate`]). Only the box counting takes
    /// ([`Track::counted_rect`]) uses it: that filter's noise is stated per frame at the
    /// reference rate, so its velocity catches up with a walker as soon in seconds on a stream of
    /// a few frames a second as at 25 fps. The matching filter's noise stays per frame (stated
    /// per reference frame for matching too, TUD-Stadtmitte's groups swapped: docs/models.md).
    pub frame_length: f32,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        Self {
            high: 0.5,
            low: 0.1,
            match_iou: 0.2,
            low_match_iou: 0.5,
            min_hits: 2,
            confirm_score: 0.8,
            max_lost: 25,
            max_extrapolation: 25,
            margin_growth: 0.02,
            margin_cap: 2.0,
            direction_weight: 0.2,
            bridge_speed: 0.08,
            far_gap: 6.5,
            frame_length: 1.0,
        }
    }
}

impl TrackerSettings {
    /// Checks every value; the first bad one is returned.
    pub fn validate(&self) -> Result<(), TrackError> {
        let bad = |field: &'static str, value: String, rule: &'static str| {
            Err(TrackError::InvalidSetting { field, value, rule })
        };
        if !(self.low >= 0.0 && self.low.is_finite()) {
            return bad("low", self.low.to_string(), "must be a number ≥ 0");
        }
        if !(self.high >= self.low && self.high.is_finite()) {
            return bad("high", self.high.to_string(), "must be a number ≥ low");
        }
        for (field, iou) in [("match_iou", self.match_iou), ("low_match_iou", self.low_match_iou)] {
            if !(iou > 0.0 && iou <= 1.0) {
                return bad(field, iou.to_string(), "must be in (0, 1]");
            }
        }
        if self.min_hits == 0 {
            return bad("min_hits", "0".into(), "must be ≥ 1");
        }
        if self.confirm_score.is_nan() {
            return bad("confirm_score", "NaN".into(), "must be a number");
        }
        if !(self.margin_growth >= 0.0 && self.margin_growth.is_finite()) {
            return bad("margin_growth", self.margin_growth.to_string(), "must be a number ≥ 0");
        }
        if !(self.margin_cap >= 1.0 && self.margin_cap.is_finite()) {
            return bad("margin_cap", self.margin_cap.to_string(), "must be a number ≥ 1");
        }
        if !(self.bridge_speed >= 0.0 && self.bridge_speed.is_finite()) {
            return bad("bridge_speed", self.bridge_speed.to_string(), "must be a number ≥ 0");
        }
        if !(self.frame_length > 0.0 && self.frame_length.is_finite()) {
            return bad("frame_length", self.frame_length.to_string(), "must be a number > 0");
        }
        if self.far_gap.is_nan() || self.far_gap < 0.0 {
            return bad("far_gap", self.far_gap.to_string(), "must be a number ≥ 0 (inf: never by motion)");
        }
        if !(0.0..=1.0).contains(&self.direction_weight) {
            return bad("direction_weight", self.direction_weight.to_string(), "must be in 0..=1");
        }
        Ok(())
    }
}

/// Why the tracker refused its settings or a detection pass.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrackError {
    #[error("tracker setting {field} = {value}: {rule}")]
    InvalidSetting { field: &'static str, value: String, rule: &'static str },
    #[error(
        "detection pass at frame {frame} is not after the previous one at frame {previous}; frame \
         indices given to the tracker must increase (start a new tracker when the source restarts)"
    )]
    FrameNotAfter { frame: u64, previous: u64 },
}

/// A track's id: unique within one [`Tracker`], in order of creation, never reused or persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrackId(u64);

impl TrackId {
    /// The number behind the id.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TrackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a track is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackState {
    /// Detected fewer than `min_hits` times, at every pass since its first. Mask it (it is a
    /// detection) but do not count it.
    Tentative,
    /// Detected `min_hits` times and at the latest pass.
    Confirmed,
    /// Confirmed once, not detected at the latest pass; its box is predicted. Removed once not
    /// detected for more than `max_lost` frames.
    Lost,
}

/// Rates of change of a box, px/frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Velocity {
    /// Of the centre's x.
    pub cx: f32,
    /// Of the centre's y.
    pub cy: f32,
    /// Of the width.
    pub w: f32,
    /// Of the height.
    pub h: f32,
}

/// One tracked object: geometry and counts, nothing that identifies a person.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    id: TrackId,
    state: TrackState,
    filter: BoxFilter,
    hits: u32,
    first_detection_frame: u64,
    /// The box detected first: what [`Tracker::box_at`] extrapolates backwards from.
    first_box: Rect,
    last_detection_frame: u64,
    /// The last frame a track removed after one detection and a faint box is masked at
    /// (`retire_faint`): the next pass's; `None` for every other track.
    masked_until: Option<u64>,
    /// The latest frame a detection or a weak box matched the track at (weak boxes:
    /// [`Tracker::update_weak`]).
    last_matched_frame: u64,
    /// The filtered box and velocity just after the latest detection: what [`Tracker::box_at`]
    /// extrapolates from over the track's life and after it.
    detected_box: Rect,
    detected_velocity: Velocity,
    /// The scores of the first and of the latest detection: how sure the boxes extrapolated
    /// from them are (a weak box is placed less precisely, see [`crate::detect::head_mask_scored`]).
    first_score: f32,
    last_score: f32,
    /// The track's latest detections (at most [`DETECTIONS_KEPT`], oldest first), each as the
    /// filtered box just after it: a frame between two of them is interpolated between them
    /// ([`Tracker::box_at`]).
    detections: VecDeque<Detected>,
    /// The box counting takes, filtered with noise per reference frame
    /// ([`TrackerSettings::frame_length`]), and the frame of its latest match.
    counting: BoxFilter,
    counted_frame: u64,
}

/// How many of a track's latest detections it keeps to interpolate between: enough for the
/// look-ahead window at any cadence the defaults choose (0.48 s at every 0.12 s is 4 passes).
/// A frame older than all of them is extrapolated backwards from the oldest.
const DETECTIONS_KEPT: usize = 8;

/// How far above its filtered box a detected box's mask may reach, as a share of the box's
/// height, when the track had predicted the box's top higher ([`Track::reach_at`]): as much
/// again as a standing person's head is deep.
const REACH_UP: f32 = 0.25;

/// A possible continuation, for masking only: a track that ended without being matched at a
/// pass (lost, or tentative and removed) and a track arriving at that pass (born there, found
/// again after missing the pass before, or after a pass put off any track detected there) near
/// enough, by motion and size alone, to be the same person ([`TrackerSettings::bridge_speed`]). Every such pair is
/// kept, not the likeliest: a wrong one masks a strip between two people, a missing one leaves a
/// person unmasked between the passes. Frames strictly between the two detections are masked
/// along the straight line from one box to the other ([`Tracker::bridges_at`]). A track that
/// ends near an edge of the frame it was heading for (or touching) gets an exit bridge instead,
/// out of the frame: masked as a sweep towards that edge. Counting never sees bridges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bridge {
    from: Detected,
    to: Detected,
    /// A way out of the frame, not to another track (see [`Tracker::set_bounds`]).
    exit: bool,
}

/// Of two boxes of size within this ratio of each other, a bridge may join the smaller and the
/// larger: nearer or further from the camera by a step or two, not a child and an adult.
const BRIDGE_SIZE_RATIO: f32 = 1.5;

/// Whether boxes `h0` and `h1` px tall are further apart in size than [`BRIDGE_SIZE_RATIO`]: not
/// the same person a step or two nearer, for a bridge or a match by motion.
fn sizes_apart(h0: f32, h1: f32) -> bool {
    h0.max(h1) > BRIDGE_SIZE_RATIO * h0.min(h1)
}

/// A track moving towards an edge at this many box heights a frame or more is heading for it
/// (a slow walk at 25 fps is about 0.02).
const EXIT_HEADING: f32 = 0.005;
/// A bridge's reach beyond the motion allowed: detection jitter, in box heights.
const BRIDGE_SLACK: f32 = 0.1;

/// What a bridge needs of a track that ended at a pass: its latest detection, its velocity
/// there, and how many detections it had.
#[derive(Debug)]
struct Ended {
    last: Detected,
    velocity: Velocity,
    hits: u32,
}

/// One detection of a track, as the track's filtered box just after it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Detected {
    frame: u64,
    rect: Rect,
    score: f32,
    /// How far above `rect` its mask reaches, pixels ([`Track::reach_at`]).
    reach: f32,
    /// How much deeper its head mask reaches, pixels ([`Track::sink_at`]).
    sink: f32,
}

/// How far above a detection's filtered box `filtered` its mask reaches, pixels, where the track
/// had predicted `predicted`: up to the predicted top when that was higher, by at most
/// [`REACH_UP`] of the box's height. A box that comes in lower at the top than its track
/// expected is mostly a person partly out of sight (walking out of the frame at its side, half
/// behind someone or something), whose box the detector places low: the head is where the track
/// last saw it, not where the cut box says. (A head exposed for 3 frames on the stress set's
/// portrait Stadtmitte row was such a person, cut by the picture's side: boxes 17 px below the
/// head's top.) Only masks reach, upwards: matching, the motion model and counting keep the box.
fn mask_reach(filtered: &Rect, predicted: &Rect) -> f32 {
    (filtered.y0 - predicted.y0).clamp(0.0, REACH_UP * filtered.height().max(0.0))
}

/// How much deeper a detection's head mask reaches, pixels ([`crate::detect::head_mask_placed`]),
/// where its track had predicted the box `predicted` and the filtered box, found with `score`, is
/// `filtered`: as much as the box grew upwards past the prediction (its top higher, its height
/// larger by as much), when that is more than [`SINK_JITTER`] of its height, by at most
/// [`REACH_UP`] of it (the mask takes at most its own margin above the box of that). The other
/// way round from
/// [`mask_reach`]: a box that grows upwards past what its track expected has mostly taken in
/// something above the person (a dark shrub behind a dark coat, a sign, someone further back),
/// and the head is lower in it than its top says. (A head exposed for 3 frames on a view of
/// TUD-Stadtmitte 2.5x smaller than recorded, made after the stress set to check it against, was
/// such a person: a box scoring 0.55, 20 px higher than the head, its head mask ending above the
/// chin.) A box that moved up whole moved its head with it; a box scoring [`SURE_TOP`] or more
/// is taken at its top (the detector is sure of the person, and the close views' masks, a
/// quarter of the frame, have no room for more). Masks only: matching, the motion model and
/// counting keep the box.
fn mask_sink(filtered: &Rect, predicted: &Rect, score: f32) -> f32 {
    let height = filtered.height().max(0.0);
    let sink = (predicted.y0 - filtered.y0).min(height - predicted.height());
    if score >= SURE_TOP || sink <= SINK_JITTER * height { 0.0 } else { sink.min(REACH_UP * height) }
}

/// How much a box may grow upwards past its track's prediction, as a share of its height, before
/// its head mask reaches deeper ([`mask_sink`]): a box's top jitters by this much from pass to
/// pass.
const SINK_JITTER: f32 = 0.05;

/// A box scoring this or more is taken at its top by [`mask_sink`] (the tracker's default
/// `confirm_score`: a detection this sure starts a confirmed track).
const SURE_TOP: f32 = 0.8;

impl Track {
    fn new(id: TrackId, frame: u64, detection: &Detection, confirmed: bool) -> Self {
        let filter = BoxFilter::new(&detection.rect);
        let rect = filter.rect();
        Self {
            id,
            state: if confirmed { TrackState::Confirmed } else { TrackState::Tentative },
            filter,
            hits: 1,
            first_detection_frame: frame,
            first_box: rect,
            last_detection_frame: frame,
            masked_until: None,
            last_matched_frame: frame,
            detected_box: rect,
            detected_velocity: Velocity::default(),
            counting: BoxFilter::new(&detection.rect),
            counted_frame: frame,
            first_score: detection.score,
            last_score: detection.score,
            detections: VecDeque::from([Detected {
                frame,
                rect,
                score: detection.score,
                reach: 0.0,
                sink: 0.0,
            }]),
        }
    }

    pub fn id(&self) -> TrackId {
        self.id
    }

    pub fn state(&self) -> TrackState {
        self.state
    }

    /// The box at the latest pass: filtered if detected there, predicted if lost.
    pub fn rect(&self) -> Rect {
        self.filter.rect()
    }

    /// The box a counter takes at the latest pass the track was matched at (filtered, as
    /// [`Track::rect`], but by a filter whose noise is per frame at the reference rate: see
    /// [`TrackerSettings::frame_length`]). At 25 fps it is [`Track::rect`] but after a lost spell
    /// (the matching filter holds a lost track's size). On a stream of a few frames a second the
    /// matching filter's box lags a walker (its velocity starts at rest and follows per frame,
    /// whatever a frame lasts): a person crossing a line near the end of a stream, or a track
    /// that breaks, was counted where they had been a frame or two before.
    pub fn counted_rect(&self) -> Rect {
        self.counting.rect()
    }

    /// `anchor`'s point of [`Track::counted_rect`]: the position a counter compares between
    /// passes.
    pub fn anchor(&self, anchor: Anchor) -> Point {
        anchor.point(&self.counted_rect())
    }

    /// The velocity at the latest pass, px/frame (0 with one detection; a lost track's size
    /// velocity is held at 0).
    pub fn velocity(&self) -> Velocity {
        self.filter.velocity()
    }

    /// Detections matched to the track, including the first.
    pub fn hits(&self) -> u32 {
        self.hits
    }

    pub fn first_detection_frame(&self) -> u64 {
        self.first_detection_frame
    }

    pub fn last_detection_frame(&self) -> u64 {
        self.last_detection_frame
    }

    /// How well `rect` continues the track's motion: the cosine of the angle between the track's
    /// velocity at its latest detection and the step from that detection's centre to `rect`'s,
    /// halved into `-0.5..=0.5` (OC-SORT's momentum cost); 0 while the track is (nearly) still or
    /// has one detection.
    fn direction_agreement(&self, rect: &Rect) -> f32 {
        let v = self.detected_velocity;
        let speed = v.cx.hypot(v.cy);
        // Less than 1% of the box height per frame is standing, not a direction.
        if self.hits < 2 || speed < 0.01 * self.detected_box.height() {
            return 0.0;
        }
        let (cx, cy) = ((rect.x0 + rect.x1) / 2.0, (rect.y0 + rect.y1) / 2.0);
        let b = &self.detected_box;
        let (sx, sy) = (cx - (b.x0 + b.x1) / 2.0, cy - (b.y0 + b.y1) / 2.0);
        let step = sx.hypot(sy);
        if step < 1e-3 {
            return 0.0;
        }
        0.5 * (v.cx * sx + v.cy * sy) / (speed * step)
    }

    /// How sure the box [`Tracker::box_at`] gives `frame` is: between two kept detections the
    /// weaker one's score; otherwise that of the detection it extrapolates from (the first for
    /// frames before it, else the latest).
    pub fn score_at(&self, frame: u64) -> f32 {
        match self.bracket(frame) {
            Some((a, b)) => a.score.min(b.score),
            None => self.origin(frame).3,
        }
    }

    /// [`Tracker::kept_at`] with the tracker's `max_lost`.
    fn kept_at(&self, frame: u64, max_lost: u64) -> bool {
        frame <= self.last_detection_frame + max_lost && self.masked_until.is_none_or(|until| frame <= until)
    }

    /// How far above the box [`Tracker::box_at`] gives `frame` its mask reaches, pixels (see
    /// [`REACH_UP`]): between two kept detections the larger of theirs; otherwise that of the
    /// kept detection the box extrapolates from (none before the first, which had no prediction).
    pub fn reach_at(&self, frame: u64) -> f32 {
        self.masked_at(frame, |d| d.reach)
    }

    /// How much deeper the head mask of the box [`Tracker::box_at`] gives `frame` reaches,
    /// pixels (see [`mask_sink`]), taken as [`Track::reach_at`] is.
    pub fn sink_at(&self, frame: u64) -> f32 {
        self.masked_at(frame, |d| d.sink)
    }

    /// `of` a kept detection's mask for `frame`: between two kept detections the larger of
    /// theirs; otherwise that of the kept detection the box extrapolates from (0 before the
    /// first, which had no prediction).
    fn masked_at(&self, frame: u64, of: impl Fn(&Detected) -> f32) -> f32 {
        if let Some((a, b)) = self.bracket(frame) {
            return of(a).max(of(b));
        }
        if frame < self.first_detection_frame {
            return 0.0;
        }
        match self.detections.front() {
            Some(oldest) if frame < oldest.frame => of(oldest),
            _ => self.detections.back().map_or(0.0, of),
        }
    }

    /// The latest frame a detection or a weak box matched the track at: a track matched at a
    /// pass is where counting sees the person.
    pub fn last_matched_frame(&self) -> u64 {
        self.last_matched_frame
    }

    /// Corrects the track's motion with a weak box matched at `frame` (see
    /// [`Tracker::update_weak`]; only confirmed tracks take part, so it stays confirmed); its
    /// masks go on from its latest detection.
    fn continued(&mut self, frame: u64, weak: &Detection, frame_length: f32) {
        self.count(frame, &weak.rect, frame_length);
        self.filter.update(&weak.rect);
        self.last_matched_frame = frame;
    }

    /// Corrects the counting filter with a box matched at `frame`, each frame since its latest
    /// match lasting `frame_length` reference frames.
    fn count(&mut self, frame: u64, rect: &Rect, frame_length: f32) {
        let frames = frame.saturating_sub(self.counted_frame) as f64;
        self.counting.predict_span(frames * f64::from(frame_length));
        self.counting.update(rect);
        self.counted_frame = frame;
    }

    /// Corrects the track with a detection matched at `frame`.
    fn detected(&mut self, frame: u64, detection: &Detection, min_hits: u32, frame_length: f32) {
        let rect = &detection.rect;
        self.count(frame, rect, frame_length);
        self.last_score = detection.score;
        let predicted = self.filter.rect();
        self.filter.update(rect);
        self.hits = self.hits.saturating_add(1);
        self.last_detection_frame = frame;
        self.last_matched_frame = frame;
        self.detected_box = self.filter.rect();
        self.detected_velocity = self.filter.velocity();
        if self.detections.len() == DETECTIONS_KEPT {
            self.detections.pop_front();
        }
        let sink = mask_sink(&self.detected_box, &predicted, detection.score);
        let reach = mask_reach(&self.detected_box, &predicted);
        self.detections.push_back(Detected {
            frame,
            rect: self.detected_box,
            score: detection.score,
            reach,
            sink,
        });
        if self.state != TrackState::Tentative || self.hits >= min_hits {
            self.state = TrackState::Confirmed;
        }
    }

    /// The box, frame, velocity and score to extrapolate to `frame` from: the first detection
    /// for frames before it, the latest for frames after it, and for a frame older than the
    /// detections kept, the oldest kept. Before the second detection there is no velocity (0).
    fn origin(&self, frame: u64) -> (Rect, u64, Velocity, f32) {
        if frame < self.first_detection_frame {
            let velocity = if self.hits >= 2 { self.detected_velocity } else { Velocity::default() };
            return (self.first_box, self.first_detection_frame, velocity, self.first_score);
        }
        match self.detections.front() {
            Some(oldest) if frame < oldest.frame => {
                (oldest.rect, oldest.frame, self.detected_velocity, oldest.score)
            }
            _ => (self.detected_box, self.last_detection_frame, self.detected_velocity, self.last_score),
        }
    }

    /// The track as a bridge from it needs it, should it end at this pass.
    fn ended(&self) -> Ended {
        let last = Detected {
            frame: self.last_detection_frame,
            rect: self.detected_box,
            score: self.last_score,
            reach: 0.0,
            sink: 0.0,
        };
        Ended { last, velocity: self.detected_velocity, hits: self.hits }
    }

    /// The two kept detections on either side of `frame` (the one at or before it, the one after
    /// it), when there are both.
    fn bracket(&self, frame: u64) -> Option<(&Detected, &Detected)> {
        let after = self.detections.partition_point(|d| d.frame <= frame);
        (after > 0 && after < self.detections.len())
            .then(|| (&self.detections[after - 1], &self.detections[after]))
    }
}

/// What one detection pass did, for metrics: every track change and every invalid detection
/// counted (detections below `low`, and low ones that continue no track, are ignored by design).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PassStats {
    /// Tracks matched to a high-score detection.
    pub matched_high: usize,
    /// Tracks matched to a low-score detection (second stage).
    pub matched_low: usize,
    /// Tracks started.
    pub started: usize,
    /// Confirmed tracks that became lost.
    pub lost: usize,
    /// Tracks removed: lost for more than `max_lost` frames, or tentative and not detected again.
    pub removed: usize,
    /// Detections ignored for a non-finite or empty box or a non-finite score.
    pub invalid: usize,
}

/// A ByteTrack-style multi-object tracker for one camera. See the module docs for one pass.
#[derive(Debug, Clone)]
pub struct Tracker {
    settings: TrackerSettings,
    /// Sorted by id (ids are handed out in increasing order and removal keeps the order).
    tracks: Vec<Track>,
    /// Tracks removed after being lost for `max_lost` frames, kept until
    /// [`Tracker::forget_retired`] says no frame of their coasting is waiting any more.
    retired: Vec<Track>,
    /// Bridges whose later end is not yet masked ([`Tracker::forget_retired`]).
    bridges: Vec<Bridge>,
    /// The frame the detections are in ([`Tracker::set_bounds`]).
    bounds: Option<Rect>,
    /// Bridges made over the tracker's life.
    bridges_made: u64,
    /// Whether the coming pass was put off (see [`Tracker::set_put_off`]).
    put_off: bool,
    /// The weak boxes that continued a track at the latest pass ([`Tracker::continued`]).
    continued: Vec<Detection>,
    next_id: u64,
    last_frame: Option<u64>,
}

impl Tracker {
    pub fn new(settings: TrackerSettings) -> Result<Self, TrackError> {
        settings.validate()?;
        Ok(Self {
            settings,
            tracks: Vec::new(),
            retired: Vec::new(),
            bridges: Vec::new(),
            bounds: None,
            bridges_made: 0,
            continued: Vec::new(),
            put_off: false,
            next_id: 1,
            last_frame: None,
        })
    }

    pub fn settings(&self) -> &TrackerSettings {
        &self.settings
    }

    /// The frame of the latest detection pass, if any.
    pub fn last_frame(&self) -> Option<u64> {
        self.last_frame
    }

    /// The tracks after the latest pass (tentative, confirmed and lost), sorted by id.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Tracks removed for being lost too long whose last `max_lost` frames of coasting (the frames
    /// they were still kept for, predicted) may still be waiting to be masked: a frame's masks must
    /// not depend on whether the pass that removed a track came before or after the frame was
    /// masked (with look-ahead it comes before). See [`Tracker::kept_at`]. Also tentative tracks
    /// removed where a low-score box still overlapped them, with that box as their latest
    /// detection (`retire_faint`): masked on from it until the next pass, never matched or
    /// counted again.
    pub fn retired(&self) -> &[Track] {
        &self.retired
    }

    /// Whether `track` is (or was) kept at `frame`: not more than `max_lost` frames after its
    /// latest detection (for a tentative track retired at a faint box, `retire_faint`, not past
    /// the next pass either).
    pub fn kept_at(&self, track: &Track, frame: u64) -> bool {
        track.kept_at(frame, self.settings.max_lost)
    }

    /// Forgets the retired tracks whose coasting ended before `frame` (the oldest frame still to
    /// be masked).
    pub fn forget_retired(&mut self, frame: u64) {
        let max_lost = self.settings.max_lost;
        self.retired.retain(|t| t.kept_at(frame, max_lost));
        self.bridges.retain(|b| b.to.frame > frame);
    }

    /// The boxes bridges give `frame` (see [`Bridge`]): each interpolated between its two
    /// detections, with the weaker detection's score and the frames to the nearer of them.
    ///
    /// An exit bridge gives the box swept from the track's last detected box towards the edge as
    /// far as the person could have got at running pace by `frame` (at most to beyond the edge).
    pub fn bridges_at(&self, frame: u64) -> impl Iterator<Item = (Rect, f32, u64)> + '_ {
        let speed = self.settings.bridge_speed;
        self.bridges.iter().filter(move |b| b.from.frame < frame && frame < b.to.frame).map(move |b| {
            let (a, z) = (&b.from, &b.to);
            let d = frame - a.frame;
            if b.exit {
                let (c0, c1) = (a.rect.centre(), z.rect.centre());
                let way = (c1.x - c0.x).hypot(c1.y - c0.y).max(1.0);
                let t = (speed * a.rect.height() * d as f32 / way).min(1.0);
                let (r, s) = (&a.rect, &lerp(&a.rect, &z.rect, t));
                let swept = Rect::new(r.x0.min(s.x0), r.y0.min(s.y0), r.x1.max(s.x1), r.y1.max(s.y1));
                return (swept, a.score, d);
            }
            let t = d as f32 / (z.frame - a.frame) as f32;
            (lerp(&a.rect, &z.rect, t), a.score.min(z.score), d.min(z.frame - frame))
        })
    }

    /// How many bridges the tracker has made (each pair of tracks, each exit).
    pub fn bridges_made(&self) -> u64 {
        self.bridges_made
    }

    /// Tells the tracker whether the next pass comes later than its cadence (a live camera ahead
    /// of detection puts passes off): then a track that ends is bridged to every track detected
    /// within reach at that pass, not only to those born or found again there.
    pub fn set_put_off(&mut self, put_off: bool) {
        self.put_off = put_off;
    }

    /// The frame (`width × height`) the detections are in, so that a track that ends near its
    /// edge gets an exit bridge ([`Tracker::bridges_at`]). Unset, there are none.
    pub fn set_bounds(&mut self, width: f32, height: f32) {
        self.bounds = Some(Rect::new(0.0, 0.0, width, height));
    }

    /// Bridges from each track in `ended` (as it was before the pass at `frame`, not matched
    /// there) to each track arriving at that pass that the person could have reached, and out of
    /// the frame from those that ended near an edge (see [`Bridge`]).
    fn bridge(&mut self, frame: u64, ended: &[Ended], far: bool) {
        let speed = self.settings.bridge_speed;
        if speed <= 0.0 {
            return;
        }
        // A track detected at the previous pass and not at this one, near an edge it was heading
        // for (or touching), may have left through it between the passes: an exit bridge to its
        // box moved just beyond that edge.
        if let (Some(bounds), Some(previous)) = (self.bounds, self.last_frame) {
            for old in ended.iter().filter(|t| t.last.frame == previous) {
                let from = old.last;
                let r = &from.rect;
                let (h, v) = (r.height(), old.velocity);
                let reach = h * (BRIDGE_SLACK + speed * (frame - previous) as f32);
                // The distance to each edge, the speed towards it, the step just beyond it.
                let ways = [
                    (r.x0 - bounds.x0, -v.cx, (-(r.x1 - bounds.x0), 0.0)),
                    (bounds.x1 - r.x1, v.cx, (bounds.x1 - r.x0, 0.0)),
                    (r.y0 - bounds.y0, -v.cy, (0.0, -(r.y1 - bounds.y0))),
                    (bounds.y1 - r.y1, v.cy, (0.0, bounds.y1 - r.y0)),
                ];
                for (distance, towards, (dx, dy)) in ways {
                    let heading = old.hits >= 2 && towards >= EXIT_HEADING * h;
                    if distance <= reach && (heading || distance <= BRIDGE_SLACK * h) && h > 0.0 {
                        let rect = Rect::new(r.x0 + dx, r.y0 + dy, r.x1 + dx, r.y1 + dy);
                        let to = Detected { frame, rect, score: from.score, reach: 0.0, sink: 0.0 };
                        self.bridges.push(Bridge { from, to, exit: true });
                        self.bridges_made += 1;
                    }
                }
            }
        }
        // Tracks that arrive here: born at this pass, or found again after missing the previous
        // one (the person who ended may be the one a lost track's prediction picked up); after a
        // pass put off or matched by motion (`far`), every track detected here (over a long gap
        // one track takes another's person more often: the person who ended may be the one it
        // took).
        let previous = self.last_frame.unwrap_or(frame);
        let arrived: Vec<Detected> = self
            .tracks
            .iter()
            .filter_map(|t| {
                let (&now, before) = (t.detections.back()?, t.detections.iter().rev().nth(1));
                (now.frame == frame && (self.put_off || far || before.is_none_or(|b| b.frame < previous)))
                    .then_some(now)
            })
            .collect();
        for to in arrived {
            for old in ended {
                let from = old.last;
                let (h0, h1) = (from.rect.height(), to.rect.height());
                if sizes_apart(h0, h1) {
                    continue;
                }
                let gap = (frame - from.frame) as f32;
                let (c0, c1) = (from.rect.centre(), to.rect.centre());
                let reach = h0.max(h1) * (BRIDGE_SLACK + speed * gap);
                if (c1.x - c0.x).hypot(c1.y - c0.y) <= reach {
                    self.bridges.push(Bridge { from, to, exit: false });
                    self.bridges_made += 1;
                }
            }
        }
    }

    /// The weak boxes that continued a track at the latest pass ([`Tracker::update_weak`]).
    pub fn continued(&self) -> &[Detection] {
        &self.continued
    }

    /// The track with `id`, if it is still kept.
    pub fn track(&self, id: TrackId) -> Option<&Track> {
        self.tracks.binary_search_by_key(&id, |t| t.id).ok().map(|i| &self.tracks[i])
    }

    /// One detection pass over the frame `frame` (frame indices must increase; gaps are the
    /// frames detection skipped). On error nothing changes.
    pub fn update(&mut self, frame: u64, detections: &[Detection]) -> Result<PassStats, TrackError> {
        self.update_weak(frame, detections, &[])
    }

    /// [`Tracker::update`] with `weak` boxes as well: found below the detector's threshold (a
    /// person half hidden by someone or something, or cut by the frame's edge, scores low), they
    /// only continue tracks detected at the previous pass, in the second stage with the `low`
    /// boxes, and never start one. A track continued by one is matched (its motion follows the
    /// box, it stays confirmed and is counted) but not detected for masking: its masks go on from
    /// its latest detection as a lost track's would, because a weak box is placed by what shows
    /// of the person (traced on the stress set: a person walking out at the picture's side was
    /// masked where a weak box of the part still in sight was, and the head beside it showed).
    /// The weak boxes that continued a track ([`Tracker::continued`]) are masked as well, as
    /// detections are, so someone tracked only by them stays masked past a lost track's window.
    pub fn update_weak(
        &mut self,
        frame: u64,
        detections: &[Detection],
        weak: &[Detection],
    ) -> Result<PassStats, TrackError> {
        if let Some(previous) = self.last_frame
            && frame <= previous
        {
            return Err(TrackError::FrameNotAfter { frame, previous });
        }
        let mut stats = PassStats::default();
        self.expire(frame, &mut stats);
        // The tracks' latest detections, to bridge those that end here (`bridge`).
        let before: Vec<Ended> = self.tracks.iter().map(Track::ended).collect();
        let gap = self.last_frame.map_or(0, |previous| frame - previous);
        for track in &mut self.tracks {
            if track.state == TrackState::Lost {
                track.filter.hold_size();
            }
            track.filter.predict(gap);
        }
        self.continued.clear();
        let (high, mut low) = self.split(detections, &mut stats);
        let sure_low = low.len();
        low.extend(self.split(weak, &mut stats).1);
        let predicted: Vec<Rect> = self.tracks.iter().map(Track::rect).collect();
        let mut track_matched = vec![false; self.tracks.len()];
        // Matched by a detection at or above the detector's threshold (not a weak box).
        let mut track_detected = vec![false; self.tracks.len()];
        let mut high_matched = vec![false; high.len()];

        // After a long gap, by motion (masks then bridge from every track matched, as from one
        // that ended); else by IoU, preferring the direction each track was moving.
        let far = gap as f32 > self.settings.far_gap;
        let high_boxes: Vec<Rect> = high.iter().map(|d| d.rect).collect();
        let pairs = if far {
            self.match_by_motion(&predicted, &high_boxes)
        } else {
            let weight = self.settings.direction_weight;
            let tracks = &self.tracks;
            let bonus = |t: usize, d: usize| weight * tracks[t].direction_agreement(&high_boxes[d]);
            assoc::match_with_bonus(&predicted, &high_boxes, self.settings.match_iou, bonus)
        };
        for (t, d) in pairs {
            self.tracks[t].detected(frame, high[d], self.settings.min_hits, self.settings.frame_length);
            track_matched[t] = true;
            track_detected[t] = true;
            high_matched[d] = true;
            stats.matched_high += 1;
        }
        // Matched by motion (a snapshot: not the low boxes' matches below).
        let far_matched: Vec<bool> = track_detected.iter().map(|&detected| far && detected).collect();

        let second: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| !track_matched[t] && self.tracks[t].state == TrackState::Confirmed)
            .collect();
        let second_boxes: Vec<Rect> = second.iter().map(|&t| predicted[t]).collect();
        let low_boxes: Vec<Rect> = low.iter().map(|d| d.rect).collect();
        let mut low_taken = vec![false; low.len()];
        for (s, d) in assoc::match_by_iou(&second_boxes, &low_boxes, self.settings.low_match_iou) {
            low_taken[d] = true;
            let t = second[s];
            if d < sure_low {
                self.tracks[t].detected(frame, low[d], self.settings.min_hits, self.settings.frame_length);
                track_detected[t] = true;
            } else {
                self.tracks[t].continued(frame, low[d], self.settings.frame_length);
                self.continued.push(*low[d]);
            }
            track_matched[t] = true;
            stats.matched_low += 1;
        }

        self.retire_faint(frame, gap, &predicted, &track_matched, &low[..sure_low], &low_taken[..sure_low]);
        self.miss(&track_matched, &mut stats);
        for (detection, _) in high.iter().zip(high_matched).filter(|(_, matched)| !matched) {
            self.start(frame, detection);
            stats.started += 1;
        }
        // A match by motion alone may have joined two people: the person it left behind is
        // bridged for masking as if their track had ended.
        let ended: Vec<Ended> = before
            .into_iter()
            .zip(track_detected.iter().zip(&far_matched))
            .filter(|(_, (detected, far))| !**detected || **far)
            .map(|(t, _)| t)
            .collect();
        self.bridge(frame, &ended, far);
        self.last_frame = Some(frame);
        Ok(stats)
    }

    /// The track's box at any frame. Between two of its kept detections, on the straight line
    /// from the box of one to the box of the other. Otherwise moved linearly over at most
    /// `max_extrapolation` frames from a detection, at that detection's size: from the first
    /// detection for frames before it, with the velocity known at the latest detection (0 until
    /// there have been two); from the latest detection, with its velocity, for frames after it
    /// (between passes, while lost); from the oldest kept detection for frames before the kept
    /// ones.
    ///
    /// Only the centre moves: the growing margin ([`Tracker::margin_at`]) is what allows for a
    /// person coming nearer. A size velocity measured over a track's first detections is mostly
    /// noise (a box cut by the frame's edge, two people's box splitting) and, extrapolated for a
    /// second, doubled boxes on top of the margin: in the stress set's close view a lost track
    /// grew from 112 to 231 px wide in two detections and masked a third of the frame's width.
    pub fn box_at(&self, track: &Track, frame: u64) -> Rect {
        if let Some((a, b)) = track.bracket(frame) {
            let t = (frame - a.frame) as f32 / (b.frame - a.frame) as f32;
            return lerp(&a.rect, &b.rect, t);
        }
        let (origin, from, velocity, _) = track.origin(frame);
        let span = frame.abs_diff(from).min(self.settings.max_extrapolation) as f32;
        let dt = if frame < from { -span } else { span };
        rect_from(
            (origin.x0 + origin.x1) / 2.0 + velocity.cx * dt,
            (origin.y0 + origin.y1) / 2.0 + velocity.cy * dt,
            origin.width(),
            origin.height(),
        )
    }

    /// How much wider and taller than [`Tracker::box_at`] to mask the track at `frame`, about the
    /// box centre: `min(1 + margin_growth · d, margin_cap)`, where `d` is the number of frames
    /// between `frame` and the latest detection (the first, for frames before it; the oldest
    /// kept, for frames before those). 1 at that detection; it keeps growing past
    /// `max_extrapolation`, where the box stops moving. Between two detections, where the box is
    /// interpolated, the margin is as wide as it was when the box was extrapolated back from the
    /// latest: the margin of the nearer detection, tried, cost head coverage on the stress set.
    pub fn margin_at(&self, track: &Track, frame: u64) -> f32 {
        self.margin_after(frame.abs_diff(track.origin(frame).1))
    }

    /// The margin of a box `frames` from the detection it comes from (see [`Tracker::margin_at`]).
    pub fn margin_after(&self, frames: u64) -> f32 {
        (1.0 + self.settings.margin_growth * frames as f32).min(self.settings.margin_cap)
    }

    /// Pairs of (track, detection) by motion: where the detected box is a plausible next
    /// measurement of the track by its Kalman filter (squared Mahalanobis distance under
    /// [`kalman::GATE_4DOF`]) and the two heights are within [`BRIDGE_SIZE_RATIO`], with the
    /// least total distance (over the gate).
    fn match_by_motion(&self, predicted: &[Rect], detections: &[Rect]) -> Vec<(usize, usize)> {
        let cost: Vec<f64> = self
            .tracks
            .iter()
            .zip(predicted)
            .flat_map(|(track, p)| {
                detections.iter().map(move |r| {
                    if sizes_apart(p.height(), r.height()) {
                        f64::INFINITY
                    } else {
                        track.filter.distance2(r) / kalman::GATE_4DOF
                    }
                })
            })
            .collect();
        assoc::assign_gated(&cost, self.tracks.len(), detections.len(), 1.0)
    }

    /// Removes tracks not detected for more than `max_lost` frames before `frame`.
    fn expire(&mut self, frame: u64, stats: &mut PassStats) {
        let max_lost = self.settings.max_lost;
        let before = self.tracks.len();
        let retired = &mut self.retired;
        self.tracks.retain(|t| {
            let kept = frame - t.last_matched_frame <= max_lost;
            if !kept {
                retired.push(t.clone());
            }
            kept
        });
        stats.removed += before - self.tracks.len();
    }

    /// The valid detections scoring ≥ `high`, and those in `low..high`; the rest ignored.
    fn split<'d>(
        &self,
        detections: &'d [Detection],
        stats: &mut PassStats,
    ) -> (Vec<&'d Detection>, Vec<&'d Detection>) {
        let (mut high, mut low) = (Vec::new(), Vec::new());
        for d in detections {
            let r = &d.rect;
            let finite = [r.x0, r.y0, r.x1, r.y1, d.score].iter().all(|v| v.is_finite());
            if !finite || r.width() <= 0.0 || r.height() <= 0.0 {
                stats.invalid += 1;
            } else if d.score >= self.settings.high {
                high.push(d);
            } else if d.score >= self.settings.low {
                low.push(d);
            }
        }
        (high, low)
    }

    /// Tentative tracks no detection matched at `frame` but where a low-score box (at or above
    /// `low`, not taken by a confirmed track) overlaps their prediction (IoU ≥ `match_iou`, the
    /// first stage's gate: a one-detection track's prediction has no velocity yet): dropped from
    /// tracking as ever (ByteTrack drops them: one box then a faint one is too little to follow or
    /// count), but masked on from that box as a removed lost track's coasting is
    /// ([`Tracker::retired`]), so for masks only, and only until the next pass is due (`gap`, the
    /// frames since the pass before, later): a detection there starts a track and masks from its
    /// own look-ahead. A person found once coming in at the picture's edge and only faintly at
    /// the next pass stayed exposed until the pass after (traced under overload,
    /// docs/models.md).
    fn retire_faint(
        &mut self,
        frame: u64,
        gap: u64,
        predicted: &[Rect],
        matched: &[bool],
        low: &[&Detection],
        taken: &[bool],
    ) {
        let open: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| !matched[t] && self.tracks[t].state == TrackState::Tentative)
            .collect();
        let free: Vec<usize> = (0..low.len()).filter(|&d| !taken[d]).collect();
        let open_boxes: Vec<Rect> = open.iter().map(|&t| predicted[t]).collect();
        let free_boxes: Vec<Rect> = free.iter().map(|&d| low[d].rect).collect();
        for (o, f) in assoc::match_by_iou(&open_boxes, &free_boxes, self.settings.match_iou) {
            let mut track = self.tracks[open[o]].clone();
            track.detected(frame, low[free[f]], self.settings.min_hits, self.settings.frame_length);
            track.masked_until = Some(frame + gap);
            self.retired.push(track);
        }
    }

    /// Confirmed tracks not matched this pass become lost; tentative ones are removed.
    fn miss(&mut self, matched: &[bool], stats: &mut PassStats) {
        let mut matched = matched.iter();
        self.tracks.retain_mut(|track| {
            if *matched.next().unwrap_or(&false) {
                return true;
            }
            match track.state {
                TrackState::Tentative => {
                    stats.removed += 1;
                    false
                }
                TrackState::Confirmed => {
                    track.state = TrackState::Lost;
                    stats.lost += 1;
                    true
                }
                TrackState::Lost => true,
            }
        });
    }

    fn start(&mut self, frame: u64, detection: &Detection) {
        let confirmed = self.settings.min_hits <= 1 || detection.score >= self.settings.confirm_score;
        self.tracks.push(Track::new(TrackId(self.next_id), frame, detection, confirmed));
        self.next_id += 1;
    }
}

/// The box a fraction `t` of the way from `a` to `b`, edge by edge.
fn lerp(a: &Rect, b: &Rect, t: f32) -> Rect {
    let mix = |p: f32, q: f32| p + (q - p) * t;
    Rect::new(mix(a.x0, b.x0), mix(a.y0, b.y0), mix(a.x1, b.x1), mix(a.y1, b.y1))
}
