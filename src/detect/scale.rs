//! Scale-adaptive tiling for the person detector: how finely a camera's frames are tiled is chosen
//! from the sizes of the people it finds, so that the small people of a wide or distant view are
//! seen at a size the network finds reliably, and a close view costs one inference.
//!
//! # The rule
//! - Level `k` cuts the frame's short side into `k` rows of overlapping tiles ([`level_tiles`]);
//!   people are seen up to 2× larger than in the whole frame (which is always seen as well, for
//!   people larger than a tile).
//! - Every [`PROBE_EVERY`]-th pass (and the first [`WARMUP_PASSES`]) is a *probe* at the highest
//!   level the frame allows: it finds small people whatever the current level. The heights of the
//!   confident people found by probes (score ≥ [`CONFIDENT`]) are kept, the last
//!   [`SAMPLE_HEIGHTS`] of them, no older than [`SAMPLE_PROBES`] probes.
//! - After each probe the level is the lowest at which the small people of the sample (its
//!   [`SMALL_QUANTILE`] quantile height) are at least [`MIN_PERSON_INPUT_PX`] tall at the network's
//!   input: where the detector's recall holds up (docs/models.md). A lower level is taken only
//!   when two probes in a row agree (no flapping); a higher one at once. With fewer than
//!   [`MIN_SAMPLE`] heights (an empty scene) the level stays.
//! - Before anything is known the level is the highest (look before deciding: a privacy tool
//!   must not miss the first people).
//!
//! # Cost
//! A pass costs 1 + cols × rows inferences of the 300×300 network (a 4:3 frame: 1 at level 1, 5
//! at 2, 10 at 3). The highest level is bounded by [`MAX_TILES`] tiles and by tiles no smaller
//! than [`MIN_TILE_PX`] (no more than a 2× zoom). So the mean cost per pass is at most the current
//! level's plus a probe's / [`PROBE_EVERY`]: at most ~1.8 inferences for a close 4:3 view, ~11
//! for a distant one.

use std::collections::VecDeque;

use super::nms::Detection;
use super::person::INPUT_SIDE;
use super::preprocess::Crop;
use super::tiling::{level_grid, level_tiles};

/// The height, in network input pixels, from which the person detector finds people reliably
/// (its recall falls steeply below ~60 px: docs/models.md).
pub const MIN_PERSON_INPUT_PX: f32 = 64.0;
/// Tiles overlap by at least this many times the [`LARGE_QUANTILE`] height of the people seen,
/// so that a person on a seam is whole in the next tile (a person cut by a seam is found as a
/// partial box, or not at all).
pub const OVERLAP_PEOPLE: f32 = 1.1;
/// The quantile of the sample's heights that the overlap must hold: the tall people.
pub const LARGE_QUANTILE: f32 = 0.9;
/// Detections at least this confident are measured.
pub const CONFIDENT: f32 = 0.5;
/// The quantile of the sample's heights that must reach [`MIN_PERSON_INPUT_PX`]: the small people,
/// not the smallest (one far-away or partial box does not set the level).
pub const SMALL_QUANTILE: f32 = 0.2;
/// Every how many passes one is a probe at the highest level.
pub const PROBE_EVERY: u64 = 10;
/// The first passes, all probes.
pub const WARMUP_PASSES: u64 = 3;
/// Heights kept.
pub const SAMPLE_HEIGHTS: usize = 64;
/// Heights older than this many probes are forgotten (the scene changed).
pub const SAMPLE_PROBES: u64 = 30;
/// Fewest heights to decide on.
pub const MIN_SAMPLE: usize = 3;
/// Most tiles of the highest level (plus the whole frame).
pub const MAX_TILES: u32 = 12;
/// The smallest tile side, in pixels: tiles are zoomed at most this far up to the network's input.
pub const MIN_TILE_PX: u32 = INPUT_SIDE / 2;

/// How one pass is to see the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePlan {
    pub level: u32,
    pub probe: bool,
    pub crops: Vec<Crop>,
}

/// What the controller did, for the privacy report and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScaleUse {
    /// Passes run at each level (index = level − 1), probes included.
    pub passes_by_level: [u64; MAX_LEVELS],
    /// Of those, probes.
    pub probes: u64,
    /// Level changes after the first decision.
    pub changes: u64,
    /// The level of the latest pass that was not a probe (0 before one).
    pub level: u32,
    /// Its grid.
    pub grid: (u32, u32),
}

impl ScaleUse {
    /// What was done since `base` (an earlier reading of the same controller).
    pub fn since(&self, base: &ScaleUse) -> ScaleUse {
        let mut passes_by_level = self.passes_by_level;
        for (now, then) in passes_by_level.iter_mut().zip(base.passes_by_level) {
            *now = now.saturating_sub(then);
        }
        ScaleUse {
            passes_by_level,
            probes: self.probes.saturating_sub(base.probes),
            changes: self.changes.saturating_sub(base.changes),
            level: self.level,
            grid: self.grid,
        }
    }

    /// The grid as text, e.g. `3x3` (`-` before any pass at a chosen level).
    pub fn grid_name(&self) -> String {
        match self.level {
            0 => "-".to_owned(),
            _ => format!("{}x{}", self.grid.0, self.grid.1),
        }
    }
}

/// Levels a report can tell apart.
pub const MAX_LEVELS: usize = 8;

/// One camera's scale controller (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct ScaleControl {
    passes: u64,
    probes: u64,
    /// Heights in frame pixels, with the probe they were seen at.
    heights: VecDeque<(u64, f32)>,
    /// The level decided; `None` until the first decision.
    level: Option<u32>,
    /// A lower level the latest probe asked for (taken when the next agrees).
    lower: Option<u32>,
    /// The least overlap of tiles, pixels, from the tall people seen.
    overlap: f32,
    frame: (u32, u32),
    /// [`ScaleControl::max_level`] of `frame`.
    max: u32,
    used: ScaleUse,
}

impl ScaleControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// The highest level of a `width × height` frame: at most [`MAX_TILES`] tiles, none smaller
    /// than [`MIN_TILE_PX`] on its short side.
    pub fn max_level(width: u32, height: u32) -> u32 {
        let mut level = 1;
        for next in 2..=MAX_LEVELS as u32 {
            let (cols, rows) = level_grid(width, height, next);
            let tile = level_tiles(width, height, next, 0.0).pop().unwrap_or_default();
            if cols * rows > MAX_TILES || tile.w.min(tile.h) < MIN_TILE_PX {
                break;
            }
            level = next;
        }
        level
    }

    /// How the next pass over a `width × height` frame sees it.
    pub fn plan(&mut self, width: u32, height: u32) -> ScalePlan {
        if self.frame != (width, height) {
            // A new stream size: what was measured no longer applies.
            *self = Self { used: self.used, ..Self::default() };
            self.frame = (width, height);
            self.max = Self::max_level(width, height);
        }
        let max = self.max;
        let probe = self.passes < WARMUP_PASSES || self.passes.is_multiple_of(PROBE_EVERY);
        self.passes += 1;
        let level = if probe { max } else { self.level.unwrap_or(max).min(max) };
        let index = (level as usize).clamp(1, MAX_LEVELS) - 1;
        self.used.passes_by_level[index] += 1;
        if probe {
            self.used.probes += 1;
        } else {
            self.used.level = level;
            self.used.grid = level_grid(width, height, level);
        }
        ScalePlan { level, probe, crops: level_tiles(width, height, level, self.overlap) }
    }

    /// Takes what a pass planned by [`ScaleControl::plan`] found (frame pixels); `probe` is the
    /// plan's.
    pub fn observe(&mut self, probe: bool, found: &[Detection]) {
        if !probe {
            return;
        }
        self.probes += 1;
        let probe = self.probes;
        for d in found.iter().filter(|d| d.score >= CONFIDENT) {
            self.heights.push_back((probe, d.rect.height()));
        }
        while self.heights.len() > SAMPLE_HEIGHTS
            || self.heights.front().is_some_and(|&(p, _)| probe - p >= SAMPLE_PROBES)
        {
            self.heights.pop_front();
        }
        if self.heights.len() < MIN_SAMPLE {
            return;
        }
        self.overlap = OVERLAP_PEOPLE * self.quantile(LARGE_QUANTILE);
        let wanted = self.wanted();
        match self.level {
            Some(current) if wanted < current => {
                if let Some(previous) = self.lower.replace(wanted) {
                    self.set(wanted.max(previous));
                    self.lower = None;
                }
            }
            Some(current) if wanted == current => self.lower = None,
            _ => {
                self.set(wanted);
                self.lower = None;
            }
        }
    }

    fn set(&mut self, level: u32) {
        let (width, height) = self.frame;
        if let Some(previous) = self.level
            && previous != level
        {
            self.used.changes += 1;
        }
        if self.level != Some(level) {
            let (cols, rows) = level_grid(width, height, level);
            tracing::info!(
                level,
                tiles = %format!("{cols}x{rows}"),
                small_person_px = self.quantile(SMALL_QUANTILE).round(),
                overlap_px = self.overlap.round(),
                "person detector scale chosen from the people seen"
            );
        }
        self.level = Some(level);
    }

    /// The `q` quantile of the sample's heights, frame pixels.
    fn quantile(&self, q: f32) -> f32 {
        let mut heights: Vec<f32> = self.heights.iter().map(|&(_, h)| h).collect();
        heights.sort_by(f32::total_cmp);
        let at = ((heights.len() as f32 - 1.0) * q).round() as usize;
        heights.get(at).copied().unwrap_or(0.0)
    }

    /// The lowest level at which the sample's small people reach [`MIN_PERSON_INPUT_PX`].
    fn wanted(&self) -> u32 {
        let ((width, height), max) = (self.frame, self.max);
        let small = self.quantile(SMALL_QUANTILE);
        (1..=max)
            .find(|&level| {
                let tile = level_tiles(width, height, level, self.overlap).pop().unwrap_or_default();
                // The network stretches a tile's height to its input's.
                small * INPUT_SIDE as f32 / tile.h.max(1) as f32 >= MIN_PERSON_INPUT_PX
            })
            .unwrap_or(max)
    }

    /// What the controller did so far.
    pub fn used(&self) -> ScaleUse {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Rect;

    fn people(height: f32, n: usize) -> Vec<Detection> {
        (0..n)
            .map(|i| Detection {
                rect: Rect::new(10.0 * i as f32, 0.0, 10.0 * i as f32 + 20.0, height),
                score: 0.9,
            })
            .collect()
    }

    /// Runs `passes` passes over a `w×h` stream whose people are `height` px tall (probes only
    /// see them, as in a scene the current level cannot see).
    fn run(control: &mut ScaleControl, w: u32, h: u32, height: f32, passes: usize) -> Vec<ScalePlan> {
        (0..passes)
            .map(|_| {
                let plan = control.plan(w, h);
                control.observe(plan.probe, &people(height, 4));
                plan
            })
            .collect()
    }

    #[test]
    fn the_level_follows_the_size_of_the_people_at_any_resolution() {
        for (w, h) in [(768u32, 576u32), (1024, 576), (1920, 1080), (640, 480), (576, 1024)] {
            let short = w.min(h) as f32;
            // Large people (half the frame's short side): the whole frame suffices.
            let mut control = ScaleControl::new();
            let plans = run(&mut control, w, h, 0.5 * short, 40);
            assert!(plans[..3].iter().all(|p| p.probe), "warm-up probes");
            assert_eq!(plans[5].level, 1, "{w}x{h}: large people, level 1");
            // Small people (a tenth of the short side): a finer level, higher than 1.
            let mut control = ScaleControl::new();
            let plans = run(&mut control, w, h, 0.1 * short, 40);
            let level = plans[5].level;
            assert!(level >= 2, "{w}x{h}: small people, level {level}");
            let tile = level_tiles(w, h, level, OVERLAP_PEOPLE * 0.1 * short).pop().unwrap();
            let seen = 0.1 * short * INPUT_SIDE as f32 / tile.h as f32;
            assert!(
                seen >= MIN_PERSON_INPUT_PX || level == ScaleControl::max_level(w, h),
                "{w}x{h}: people seen at {seen} px at level {level}"
            );
            // The same scene scaled 2×: people as large relative to the frame get the same level.
            let mut control = ScaleControl::new();
            let doubled = run(&mut control, 2 * w, 2 * h, 0.2 * short, 40);
            assert!(doubled[5].level <= level, "{w}x{h} doubled");
        }
    }

    #[test]
    fn cost_is_bounded_and_probes_are_periodic() {
        for (w, h) in [(3840u32, 2160u32), (640, 480), (320, 240), (1920, 1080)] {
            let max = ScaleControl::max_level(w, h);
            let (cols, rows) = level_grid(w, h, max);
            assert!(cols * rows <= MAX_TILES || max == 1, "{w}x{h}");
        }
        let mut control = ScaleControl::new();
        let plans = run(&mut control, 1280, 720, 600.0, 100);
        let probes = plans.iter().filter(|p| p.probe).count();
        assert_eq!(probes, 3 + 10 - 1, "3 warm-up passes, then one pass in 10 (pass 0 is both)");
        let inferences: usize = plans.iter().map(|p| p.crops.len()).sum();
        let max = level_tiles(1280, 720, ScaleControl::max_level(1280, 720), 0.0).len();
        let level1 = level_tiles(1280, 720, 1, 0.0).len();
        assert!(inferences <= 100 * level1 + probes * max, "{inferences}");
        assert_eq!(control.used().probes, probes as u64);
    }

    #[test]
    fn the_level_goes_down_only_when_two_probes_agree_and_up_at_once() {
        let mut control = ScaleControl::new();
        let plans = run(&mut control, 768, 576, 50.0, 12);
        let small = plans[11].level;
        assert!(small >= 2);
        // People now large: the first probe after the change does not lower the level…
        let mut seen = Vec::new();
        for _ in 0..40 {
            let plan = control.plan(768, 576);
            control.observe(plan.probe, &people(400.0, 30));
            if !plan.probe {
                seen.push(plan.level);
            }
        }
        // …until enough large heights push the small ones out of the quantile and two probes agree.
        assert_eq!(*seen.last().unwrap(), 1);
        assert_eq!(seen[0], small);
        // Small people again: up at the next probe.
        let mut after = Vec::new();
        for _ in 0..12 {
            let plan = control.plan(768, 576);
            control.observe(plan.probe, &people(40.0, 30));
            if !plan.probe {
                after.push(plan.level);
            }
        }
        assert!(*after.last().unwrap() >= 2);
    }

    #[test]
    fn an_empty_scene_keeps_the_level() {
        let mut control = ScaleControl::new();
        let before = run(&mut control, 768, 576, 50.0, 12).last().unwrap().level;
        for _ in 0..200 {
            let plan = control.plan(768, 576);
            control.observe(plan.probe, &[]);
        }
        let plan = (0..3).map(|_| control.plan(768, 576)).find(|p| !p.probe).unwrap();
        assert_eq!(plan.level, before);
    }
}
