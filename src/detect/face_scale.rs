//! Scale-adaptive face detection: how large the face detector sees a camera's frames is chosen
//! from the sizes of the faces it finds, so that the small faces of a wide 1080p view are seen at
//! a size CenterFace finds reliably, and a view of large faces costs no more than the default.
//!
//! Only where faces are the only masks (`target = "faces"`): with `heads` and `persons` the
//! person detector's boxes cover people whose faces are too small to find, and the face detector
//! stays at its configured input.
//!
//! # The rule
//! - Level `k` sees the frame with its long side at `input_long_side` × [`LEVELS`]`[k]` (640, 960,
//!   1280 and 1920 px at the default), never above the frame's own size nor [`MAX_INPUT`]: on a
//!   640×360 frame every level is the same and nothing changes.
//! - The first [`WARMUP_PASSES`] passes and every [`PROBE_EVERY`]-th are *probes* at the highest
//!   level: they find small faces whatever the current level. The heights of the confident faces
//!   found by probes (score ≥ [`CONFIDENT`]) are kept, the last [`SAMPLE_HEIGHTS`], no older than
//!   [`SAMPLE_PROBES`] probes.
//! - After each probe the level is the lowest at which the small faces of the sample (their
//!   [`SMALL_QUANTILE`] quantile height) are at least [`MIN_FACE_INPUT_PX`] tall at the network's
//!   input. A lower level is taken only when two probes in a row agree; a higher one at once. With
//!   fewer than [`MIN_SAMPLE`] heights (nobody facing the camera yet) the level stays, and it
//!   starts at the highest: a privacy tool looks before it decides.
//! - A still image (no timestamp) is a picture of its own: always seen at the highest level.
//!
//! # Cost
//! CenterFace's cost grows with the input's pixels: level 1 (1.5×) costs ~2.25× the default, level
//! 2 ~4×, level 3 ~9×. The mean per pass is the chosen level's plus a probe's ÷ [`PROBE_EVERY`]; a
//! view of large faces (or a frame no larger than the default input) runs at the default.

use super::nms::Detection;
// The probing and sampling rule is the person detector's (scale.rs): the same probe cadence,
// sample and level choice, with faces' heights instead of people's.
use super::scale::ProbeSample;
pub use super::scale::{
    CONFIDENT, MIN_SAMPLE, PROBE_EVERY, SAMPLE_HEIGHTS, SAMPLE_PROBES, SMALL_QUANTILE, WARMUP_PASSES,
};

/// The face height, in network input pixels, from which CenterFace finds faces reliably: on the
/// faces-stills photos placed in a 1080p frame (faces 37–53 px), 15 of 18 faces were covered when
/// seen at 12–18 px (the default 640 px input), all 18 at 18–26 px and larger.
pub const MIN_FACE_INPUT_PX: f32 = 18.0;
/// The input sizes of the levels, as multiples of the configured `input_long_side`.
pub const LEVELS: [f32; 4] = [1.0, 1.5, 2.0, 3.0];
/// The largest input long side any level uses, px (a 4K frame is seen at half its size at most).
pub const MAX_INPUT: u32 = 1920;

/// The input long side of `level` for a detector configured with `base`, for frames at least that
/// large (a smaller frame is seen at its own size).
pub fn level_input(base: u32, level: usize) -> u32 {
    ((base as f32 * LEVELS[level]).round() as u32).min(MAX_INPUT.max(base))
}

/// How the face detector's scale was chosen so far (cumulative; see [`FaceScaleUse::since`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaceScaleUse {
    /// Passes at each level, probes included.
    pub passes_by_level: [u64; LEVELS.len()],
    pub probes: u64,
    /// Level changes after the first decision.
    pub changes: u64,
    /// The input long side of the latest pass (0 before the first).
    pub latest_input: u32,
}

impl FaceScaleUse {
    /// What happened after `base` (an earlier copy of the same counters).
    pub fn since(&self, base: &FaceScaleUse) -> FaceScaleUse {
        let mut out = *self;
        for (o, b) in out.passes_by_level.iter_mut().zip(base.passes_by_level) {
            *o = o.saturating_sub(b);
        }
        out.probes = self.probes.saturating_sub(base.probes);
        out.changes = self.changes.saturating_sub(base.changes);
        out
    }

    /// Adds `more` (another input's counters) to these.
    pub fn add(&mut self, more: &FaceScaleUse) {
        for (o, m) in self.passes_by_level.iter_mut().zip(more.passes_by_level) {
            *o += m;
        }
        self.probes += more.probes;
        self.changes += more.changes;
        if more.latest_input > 0 {
            self.latest_input = more.latest_input;
        }
    }
}

/// One camera's face scale controller.
#[derive(Debug, Clone)]
pub struct FaceScale {
    /// The configured input long side (level 0).
    base: u32,
    /// The level decided; `None` until the first decision (the highest is used until then).
    level: Option<u32>,
    passes: u64,
    /// Face heights in frame pixels ÷ the frame's long side, and the rule deciding by them.
    sample: ProbeSample,
    used: FaceScaleUse,
}

/// One pass's input size, and whether it is a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FacePlan {
    pub input_long_side: u32,
    pub probe: bool,
}

impl FaceScale {
    /// A controller for a detector configured with `base` as its input long side.
    pub fn new(base: u32) -> Self {
        Self { base, level: None, passes: 0, sample: ProbeSample::default(), used: FaceScaleUse::default() }
    }

    /// The input long side of `level` for a frame whose long side is `long`.
    fn side(&self, level: usize, long: u32) -> u32 {
        level_input(self.base, level).min(long.max(1))
    }

    /// The next pass over a frame whose long side is `long`; a `still` (a picture with no frames
    /// before or after it) is always a probe, whatever the pictures before it showed.
    pub fn plan(&mut self, long: u32, still: bool) -> FacePlan {
        let probe = still || self.passes < WARMUP_PASSES || self.passes.is_multiple_of(PROBE_EVERY);
        self.passes += 1;
        let level = match self.level {
            Some(level) if !probe => level as usize,
            _ => LEVELS.len() - 1,
        };
        let input_long_side = self.side(level, long);
        self.used.passes_by_level[level] += 1;
        self.used.probes += u64::from(probe);
        self.used.latest_input = input_long_side;
        FacePlan { input_long_side, probe }
    }

    /// What a pass planned as `plan` over a frame whose long side is `long` found.
    pub fn observe(&mut self, plan: FacePlan, long: u32, faces: &[Detection]) {
        let long_f = long.max(1) as f32;
        if !plan.probe || !self.sample.record(faces, |f| f.rect.height() / long_f) {
            return;
        }
        let small = self.sample.quantile(SMALL_QUANTILE) * long_f;
        let wanted = (0..LEVELS.len())
            .find(|&k| small * self.side(k, long) as f32 / long_f >= MIN_FACE_INPUT_PX)
            .unwrap_or(LEVELS.len() - 1);
        let Some(level) = self.sample.choose(self.level, wanted as u32) else { return };
        if self.level.is_some_and(|before| before != level) {
            self.used.changes += 1;
        }
        if self.level != Some(level) {
            tracing::info!(
                input = self.side(level as usize, long),
                small_face_px = small.round(),
                "face detector scale chosen from the faces seen"
            );
        }
        self.level = Some(level);
    }

    pub fn used(&self) -> FaceScaleUse {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Rect;

    fn faces(height: f32, n: usize) -> Vec<Detection> {
        (0..n)
            .map(|i| Detection {
                rect: Rect::new(i as f32 * 100.0, 0.0, i as f32 * 100.0 + height, height),
                score: 0.9,
            })
            .collect()
    }

    /// Runs `passes` passes over 1080p frames where every probe finds `found`.
    fn run(scale: &mut FaceScale, passes: usize, found: &[Detection]) -> Vec<u32> {
        (0..passes)
            .map(|_| {
                let plan = scale.plan(1920, false);
                scale.observe(plan, 1920, if plan.probe { found } else { &[] });
                plan.input_long_side
            })
            .collect()
    }

    #[test]
    fn small_faces_in_a_large_frame_raise_the_input_large_ones_keep_the_default() {
        // 37 px faces at 1080p: 12 px at 640; 18.5 px at 960 (level 1).
        let mut small = FaceScale::new(640);
        let sides = run(&mut small, 30, &faces(37.0, 5));
        assert_eq!(&sides[..3], &[1920, 1920, 1920], "warm-up probes at the highest level");
        assert_eq!(sides[4], 960);
        assert_eq!(sides[10], 1920, "every 10th pass is a probe");
        // 60 px faces: 20 px at 640, the default.
        let mut large = FaceScale::new(640);
        let sides = run(&mut large, 30, &faces(60.0, 5));
        assert_eq!(sides[4], 640);
        assert_eq!(large.used().passes_by_level[0], 30 - 5, "all but the probes at the default");
    }

    #[test]
    fn nobody_facing_the_camera_keeps_the_highest_level_and_a_small_frame_changes_nothing() {
        let mut empty = FaceScale::new(640);
        assert!(run(&mut empty, 12, &[]).iter().all(|&s| s == 1920));
        let mut small_frame = FaceScale::new(640);
        for _ in 0..12 {
            let plan = small_frame.plan(640, false);
            assert_eq!(plan.input_long_side, 640);
            small_frame.observe(plan, 640, &faces(10.0, 5));
        }
    }

    #[test]
    fn every_still_is_seen_at_the_highest_level() {
        let mut scale = FaceScale::new(640);
        for _ in 0..20 {
            let plan = scale.plan(1920, true);
            assert!(plan.probe && plan.input_long_side == 1920);
            scale.observe(plan, 1920, &faces(120.0, 5));
        }
    }

    #[test]
    fn the_level_rises_at_once_and_falls_after_two_probes_agree() {
        let mut scale = FaceScale::new(640);
        run(&mut scale, 5, &faces(90.0, 5));
        assert_eq!(scale.plan(1920, false).input_long_side, 640);
        // Small faces arrive: the first probe that sees them raises the level.
        let mut sides = run(&mut scale, 11, &faces(20.0, 40));
        assert_eq!(*sides.last().unwrap(), 1920);
        // Large faces again (the small ones age out of the sample after 30 probes): one probe
        // asking for less does not lower it, two do.
        sides = run(&mut scale, 400, &faces(90.0, 64));
        assert_eq!(*sides.last().unwrap(), 640);
        assert!(scale.used().changes >= 2);
        let lowered = sides.iter().position(|&s| s == 640).unwrap();
        assert!(lowered > 10, "not at the first probe that asked: {lowered}");
    }
}
