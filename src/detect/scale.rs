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
//! # Quiet tiles (counting only)
//! When the person detector serves counting only (`target = "faces"` and the like: its boxes
//! mask nothing), a pass between probes runs only the tiles it needs ([`ScaleControl::focus`]):
//! - the whole frame, always;
//! - for each person the previous pass found who is too small for the whole frame to see
//!   reliably, a tile holding the box grown by the way people move between passes
//!   ([`FOCUS_GROW_X`], [`FOCUS_GROW_Y`]), or every tile meeting it when none holds it;
//! - every tile that had someone in it (the tile centred nearest them) in the last
//!   [`ACTIVE_MS`]: where people were, others come (a doorway, a till), and a person hidden for
//!   a moment reappears;
//! - every other tile ("quiet") in turn, an equal share each pass, each at least every
//!   [`SWEEP_MS`] of stream time, or every [`SWEEP_PASSES`] passes when passes are further apart
//!   (an overloaded live camera, where the savings matter most), so someone who appears where
//!   nobody was is found within that time.
//!
//! Frames without a timestamp (stills) run every tile. When person boxes are masks (`heads`, `persons`) every tile runs every
//! pass: on the stress set (docs/models.md) quiet tiles found some people a few frames late, and
//! a privacy tool does not trade exposure for detector time.
//!
//! # Cost
//! A pass costs 1 + cols × rows inferences of the 300×300 network (a 4:3 frame: 1 at level 1, 5
//! at 2, 10 at 3). The highest level is bounded by [`MAX_TILES`] tiles and by tiles no smaller
//! than [`MIN_TILE_PX`] (no more than a 2× zoom). So the mean cost per pass is at most the current
//! level's plus a probe's / [`PROBE_EVERY`]: at most ~1.8 inferences for a close 4:3 view, ~11
//! for a distant one; for counting only, quiet tiles lower it to the tiles people were in lately
//! plus a third of the others (at the default 0.12 s between passes).

use std::collections::VecDeque;

use super::nms::Detection;
use super::person::INPUT_SIDE;
use super::preprocess::Crop;
use super::tiling::{level_grid, level_tiles};
use crate::geometry::{Point, Rect};

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

/// The longest stream time, ms, a quiet tile (see the module docs) goes without a pass: three
/// passes at the default cadence (0.12 s)…
pub const SWEEP_MS: u64 = 360;
/// …or this many passes, when passes are further apart (an overloaded live camera).
pub const SWEEP_PASSES: u64 = 3;
/// The least time between passes the sweep assumes, ms (frames with equal timestamps must not
/// stretch a quiet tile's turn without bound): at most 36 passes between turns.
const MIN_INTERVAL_MS: u64 = 10;
/// A tile that had someone in it runs every pass for this long, ms, of stream time: where people
/// were a moment ago, others (or the same, after an occlusion) are likely to be.
pub const ACTIVE_MS: u64 = 5000;
/// How far around a person found at the previous pass the tile that looks for them again must
/// reach, in the person's box heights: sideways (people walk about a body height a second, and
/// a quiet tile may wait up to [`SWEEP_MS`])…
pub const FOCUS_GROW_X: f32 = 0.3;
/// …and up and down (people on a floor move less on the picture that way).
pub const FOCUS_GROW_Y: f32 = 0.1;

/// How one pass is to see the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePlan {
    pub level: u32,
    pub probe: bool,
    /// The level the camera sees its people at between probes (on a probe, the level the pass
    /// would have had: the highest while nothing is known).
    pub chosen: u32,
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
    /// Tile inferences run (the whole frame not counted).
    pub tiles_run: u64,
    /// Tile inferences left out because nobody was near the tile lately and its turn had not come
    /// ("quiet tiles"; counting only).
    pub tiles_rested: u64,
    /// Of the tile inferences run (`tiles_run`), those whose input had not changed since the
    /// tile's latest inference: its detections were used again (unchanged.rs).
    pub tiles_reused: u64,
    /// Whole-frame passes whose input had not changed likewise.
    pub whole_reused: u64,
    /// Boxes of probes' tiles dropped as a person the whole frame had found surely, seen again
    /// (cameras that see their people in the whole frame alone; person.rs, `drop_probe_repeats`).
    pub probe_repeats: u64,
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
            tiles_run: self.tiles_run.saturating_sub(base.tiles_run),
            tiles_rested: self.tiles_rested.saturating_sub(base.tiles_rested),
            tiles_reused: self.tiles_reused.saturating_sub(base.tiles_reused),
            whole_reused: self.whole_reused.saturating_sub(base.whole_reused),
            probe_repeats: self.probe_repeats.saturating_sub(base.probe_repeats),
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

/// The rule both scale controllers (people here, faces in `face_scale.rs`) decide by: the heights
/// of the confident detections of the latest probes (the last [`SAMPLE_HEIGHTS`], none older than
/// [`SAMPLE_PROBES`] probes), and a level taken at once when higher (or first), when lower only
/// once two probes in a row ask for less.
#[derive(Debug, Clone, Default)]
pub(super) struct ProbeSample {
    probes: u64,
    /// Heights (in the controller's unit), with the probe they were seen at.
    heights: VecDeque<(u64, f32)>,
    /// A lower level the latest probe asked for (taken when the next agrees).
    lower: Option<u32>,
}

impl ProbeSample {
    /// Takes the detections a probe `found`, measured by `height`; whether the sample now holds
    /// enough heights ([`MIN_SAMPLE`]) to decide on.
    pub(super) fn record(&mut self, found: &[Detection], height: impl Fn(&Detection) -> f32) -> bool {
        self.probes += 1;
        let probe = self.probes;
        for d in found.iter().filter(|d| d.score >= CONFIDENT) {
            self.heights.push_back((probe, height(d)));
        }
        while self.heights.len() > SAMPLE_HEIGHTS
            || self.heights.front().is_some_and(|&(p, _)| probe - p >= SAMPLE_PROBES)
        {
            self.heights.pop_front();
        }
        self.heights.len() >= MIN_SAMPLE
    }

    /// The `q` quantile of the sample's heights.
    pub(super) fn quantile(&self, q: f32) -> f32 {
        let mut heights: Vec<f32> = self.heights.iter().map(|&(_, h)| h).collect();
        heights.sort_by(f32::total_cmp);
        let at = ((heights.len() as f32 - 1.0) * q).round() as usize;
        heights.get(at).copied().unwrap_or(0.0)
    }

    /// The level to take after a probe that wants `wanted`, with `current` decided so far (`None`
    /// before the first decision): `None` to keep it.
    pub(super) fn choose(&mut self, current: Option<u32>, wanted: u32) -> Option<u32> {
        match current {
            Some(current) if wanted < current => {
                let previous = self.lower.replace(wanted)?;
                self.lower = None;
                Some(wanted.max(previous))
            }
            Some(current) if wanted == current => {
                self.lower = None;
                None
            }
            _ => {
                self.lower = None;
                Some(wanted)
            }
        }
    }
}

/// One camera's scale controller (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct ScaleControl {
    passes: u64,
    /// The heights of the people probes found, frame pixels, and the rule deciding by them.
    sample: ProbeSample,
    /// The level decided; `None` until the first decision.
    level: Option<u32>,
    /// The least overlap of tiles, pixels, from the tall people seen.
    overlap: f32,
    frame: (u32, u32),
    /// [`ScaleControl::max_level`] of `frame`.
    max: u32,
    used: ScaleUse,
    /// The people the latest pass found (frame pixels).
    people: Vec<Rect>,
    /// The pass at which each tile last ran; a tile not listed never did.
    last_run: Vec<(Crop, u64)>,
    /// When (stream ms) each tile last had a person in it (or was needed for one); tiles not
    /// listed had none for [`ACTIVE_MS`].
    last_active: Vec<(Crop, u64)>,
    /// The stream time of the latest pass that had one.
    last_pass_ms: Option<u64>,
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
        let chosen = self.level.unwrap_or(max).min(max);
        let level = if probe { max } else { chosen };
        let index = (level as usize).clamp(1, MAX_LEVELS) - 1;
        self.used.passes_by_level[index] += 1;
        if probe {
            self.used.probes += 1;
        } else {
            self.used.level = level;
            self.used.grid = level_grid(width, height, level);
        }
        ScalePlan { level, probe, chosen, crops: level_tiles(width, height, level, self.overlap) }
    }

    /// Leaves out of `crops` (a plan's, the whole frame first, possibly fewer tiles since) the
    /// quiet tiles whose turn has not come (see the module docs), for a pass over a frame at
    /// `time_ms` of stream time, when `may_rest` (not a probe, and the person detector's boxes
    /// mask nothing); else (or with no time) every tile runs. Counts the tiles either way.
    pub fn focus(&mut self, crops: &mut Vec<Crop>, may_rest: bool, time_ms: Option<u64>) {
        let tiles = crops.len().saturating_sub(1);
        if let (Some(now), Some(previous)) = (time_ms, self.last_pass_ms)
            && now < previous
        {
            // The stream's clock started again (a live camera reconnected): what ran when is moot.
            self.last_run.clear();
            self.last_active.clear();
            self.last_pass_ms = None;
        }
        let Some(now) = time_ms.filter(|_| may_rest && tiles > 1) else {
            self.ran(crops, time_ms);
            return;
        };
        let (width, height) = self.frame;
        let mut keep = vec![false; tiles];
        let mut active = vec![false; tiles];
        let rects: Vec<Rect> = crops[1..].iter().map(Crop::rect).collect();
        // The tile among `candidates` whose centre is nearest `p`.
        let nearest = |candidates: &mut dyn Iterator<Item = usize>, p: Point| {
            candidates.min_by(|&a, &b| {
                let d = |i: usize| {
                    let c = rects[i].centre();
                    (c.x - p.x).hypot(c.y - p.y)
                };
                d(a).total_cmp(&d(b))
            })
        };
        for person in &self.people {
            // Seen well enough by the whole frame: no tile needed.
            if person.height() * INPUT_SIDE as f32 / height.max(1) as f32 >= MIN_PERSON_INPUT_PX {
                continue;
            }
            let h = person.height();
            let grown = Rect::new(
                (person.x0 - FOCUS_GROW_X * h).max(0.0),
                (person.y0 - FOCUS_GROW_Y * h).max(0.0),
                (person.x1 + FOCUS_GROW_X * h).min(width as f32),
                (person.y1 + FOCUS_GROW_Y * h).min(height as f32),
            );
            if !rects.iter().zip(&keep).any(|(r, &k)| k && r.contains(&grown)) {
                match nearest(&mut (0..tiles).filter(|&i| rects[i].contains(&grown)), grown.centre()) {
                    Some(i) => keep[i] = true,
                    None => {
                        for (k, r) in keep.iter_mut().zip(&rects) {
                            *k |= r.overlaps(&grown);
                        }
                    }
                }
            }
            // Where the person is: the tile centred nearest them, among those holding their centre.
            let at = person.centre();
            if let Some(i) = nearest(&mut (0..tiles).filter(|&i| rects[i].contains_point(at)), at) {
                active[i] = true;
            }
        }
        for (i, crop) in crops[1..].iter().enumerate() {
            if keep[i] || active[i] {
                match self.last_active.iter_mut().find(|(c, _)| c == crop) {
                    Some(entry) => entry.1 = now,
                    None => self.last_active.push((*crop, now)),
                }
            }
        }
        self.last_active.retain(|&(_, ms)| now.saturating_sub(ms) < ACTIVE_MS);
        for (k, crop) in keep.iter_mut().zip(&crops[1..]) {
            *k |= self.last_active.iter().any(|(c, _)| c == crop);
        }
        // Quiet tiles: each every `period` passes (SWEEP_MS, or SWEEP_PASSES when passes are
        // further apart), an equal share every pass.
        let interval = self.last_pass_ms.map_or(SWEEP_MS, |p| now.saturating_sub(p).max(MIN_INTERVAL_MS));
        let period = SWEEP_MS.div_ceil(interval).max(SWEEP_PASSES);
        let pass = self.passes;
        let last = |c: &Crop| self.last_run.iter().find(|(t, _)| t == c).map(|&(_, p)| p);
        let mut quiet: Vec<(Option<u64>, usize)> =
            (0..tiles).filter(|&i| !keep[i]).map(|i| (last(&crops[1 + i]), i)).collect();
        let share = (quiet.len() as u64).div_ceil(period) as usize;
        quiet.sort_by_key(|&(ran, i)| (ran.map_or(0, |p| p + 1), i));
        for (n, &(ran, i)) in quiet.iter().enumerate() {
            let due = ran.is_none_or(|p| pass.saturating_sub(p) >= period);
            keep[i] |= due || n < share;
        }
        self.used.tiles_rested += keep.iter().filter(|&&k| !k).count() as u64;
        let mut index = 0;
        crops.retain(|_| {
            index += 1;
            index == 1 || keep[index - 2]
        });
        self.ran(crops, time_ms);
    }

    /// Records that of this pass's tiles, `tiles` (the whole frame not counted) and the whole frame
    /// (when `whole`) had an unchanged input and took their latest inference's detections again.
    pub fn reused(&mut self, tiles: u64, whole: bool) {
        self.used.tiles_reused += tiles;
        self.used.whole_reused += u64::from(whole);
    }

    /// Records that a probe's tiles repeated `boxes` boxes of people the whole frame had found.
    pub fn repeats_dropped(&mut self, boxes: u64) {
        self.used.probe_repeats += boxes;
    }

    /// Records that `crops` (the whole frame first) ran at this pass, at `time_ms`.
    fn ran(&mut self, crops: &[Crop], time_ms: Option<u64>) {
        self.used.tiles_run += crops.len().saturating_sub(1) as u64;
        let Some(now) = time_ms else { return };
        let pass = self.passes;
        for crop in crops.iter().skip(1) {
            match self.last_run.iter_mut().find(|(c, _)| c == crop) {
                Some(entry) => entry.1 = pass,
                None => self.last_run.push((*crop, pass)),
            }
        }
        // Tiles of other levels and overlaps, not run for a while, are forgotten.
        self.last_run.retain(|&(_, p)| pass.saturating_sub(p) <= 10 * SWEEP_PASSES);
        self.last_pass_ms = Some(now);
    }

    /// Takes what a pass planned by [`ScaleControl::plan`] found (frame pixels); `probe` is the
    /// plan's.
    pub fn observe(&mut self, probe: bool, found: &[Detection]) {
        self.people.clear();
        self.people.extend(found.iter().map(|d| d.rect));
        if !probe || !self.sample.record(found, |d| d.rect.height()) {
            return;
        }
        self.overlap = OVERLAP_PEOPLE * self.sample.quantile(LARGE_QUANTILE);
        let wanted = self.wanted();
        if let Some(level) = self.sample.choose(self.level, wanted) {
            self.set(level);
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
                small_person_px = self.sample.quantile(SMALL_QUANTILE).round(),
                overlap_px = self.overlap.round(),
                "person detector scale chosen from the people seen"
            );
        }
        self.level = Some(level);
    }

    /// The lowest level at which the sample's small people reach [`MIN_PERSON_INPUT_PX`].
    fn wanted(&self) -> u32 {
        let ((width, height), max) = (self.frame, self.max);
        let small = self.sample.quantile(SMALL_QUANTILE);
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
        // A probe then still runs every tile, and says the camera's level is 1.
        let probe = std::iter::repeat_with(|| control.plan(768, 576)).find(|p| p.probe).unwrap();
        assert_eq!((probe.level, probe.chosen), (ScaleControl::max_level(768, 576), 1));
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

    /// Passes every `step_ms` over a 1920×1080 stream at level 3 (4 × 3 tiles) with `seen` in
    /// every pass's findings; returns each non-probe pass's tiles (crop indices into the level's).
    fn focused(seen: &[Rect], step_ms: u64, passes: u64) -> (ScaleControl, Vec<Vec<usize>>) {
        let mut control = ScaleControl::new();
        let small = people(60.0, 4);
        let mut out = Vec::new();
        for n in 0..passes {
            let plan = control.plan(1920, 1080);
            let all = plan.crops.clone();
            let mut crops = plan.crops;
            control.focus(&mut crops, !plan.probe, Some(n * step_ms));
            if !plan.probe {
                assert_eq!(plan.level, 3);
                out.push(crops.iter().skip(1).map(|c| all.iter().position(|a| a == c).unwrap()).collect());
            }
            // `seen` every pass; probes also see small people elsewhere (so the level is 3).
            let mut found: Vec<Detection> = seen.iter().map(|&rect| Detection { rect, score: 0.9 }).collect();
            if plan.probe {
                found.extend(small.iter().cloned());
            }
            control.observe(plan.probe, &found);
        }
        (control, out)
    }

    #[test]
    fn quiet_tiles_rest_but_each_runs_within_the_sweep_time() {
        // One small person in the top left tile's cell; the probes' sample is along the top.
        let person = Rect::new(200.0, 150.0, 240.0, 250.0);
        let (control, passes) = focused(&[person], 120, 100);
        let all = level_tiles(1920, 1080, 3, control.overlap);
        let holds = |i: usize| {
            let c = all[i];
            (c.x as f32) <= person.x0 && (c.x + c.w) as f32 >= person.x1
        };
        let mut last_seen = vec![0usize; all.len()];
        for (n, tiles_run) in passes.iter().enumerate() {
            // The person's tile, every pass.
            assert!(tiles_run.iter().any(|&i| holds(i)), "pass {n}: {tiles_run:?}");
            // Never every tile.
            assert!(tiles_run.len() < 12, "pass {n}: {tiles_run:?}");
            for &i in tiles_run {
                last_seen[i] = n;
            }
            // No tile waits more than three passes (360 ms).
            if n >= 3 {
                for (i, &seen) in last_seen.iter().enumerate().skip(1) {
                    assert!(n - seen <= 3, "pass {n}: tile {i} last ran at pass {seen}");
                }
            }
        }
        let used = control.used();
        assert!(used.tiles_rested > 0 && used.tiles_run > 0);
        // Passes 0.8 s apart (an overloaded camera): quiet tiles still rest, each running at
        // least every third pass.
        let (_, passes) = focused(&[person], 800, 60);
        let mut last_seen = vec![0usize; all.len()];
        for (n, tiles_run) in passes.iter().enumerate() {
            assert!(tiles_run.len() < 12, "pass {n}: {tiles_run:?}");
            for &i in tiles_run {
                last_seen[i] = n;
            }
            if n >= 3 {
                assert!(last_seen.iter().skip(1).all(|&seen| n - seen <= 3), "pass {n}: {last_seen:?}");
            }
        }
        // Detection every frame of a 25 fps stream: a quiet tile still runs every ≤ 360 ms.
        let (_, passes) = focused(&[person], 40, 100);
        let mut last_seen = vec![0usize; all.len()];
        for (n, tiles_run) in passes.iter().enumerate() {
            for &i in tiles_run {
                last_seen[i] = n;
            }
            if n >= 9 {
                assert!(last_seen.iter().skip(1).all(|&seen| n - seen <= 9), "pass {n}: {last_seen:?}");
            }
        }
    }

    #[test]
    fn where_people_were_lately_stays_active() {
        let person = Rect::new(200.0, 150.0, 240.0, 250.0);
        let mut control = ScaleControl::new();
        let mut runs = Vec::new();
        for n in 0..100u64 {
            let plan = control.plan(1920, 1080);
            let mut crops = plan.crops.clone();
            control.focus(&mut crops, !plan.probe, Some(n * 120));
            runs.push((plan.probe, crops.len() - 1));
            // The person is there for the first 20 passes (2.4 s), then gone; small people along
            // the bottom at probes keep the level at 3.
            let mut found = if n < 20 { vec![Detection { rect: person, score: 0.9 }] } else { vec![] };
            if plan.probe {
                found.extend(people(60.0, 4).into_iter().map(|mut d| {
                    d.rect = Rect::new(d.rect.x0 + 1500.0, 900.0, d.rect.x1 + 1500.0, 960.0);
                    d
                }));
            }
            control.observe(plan.probe, &found);
        }
        // 2.4 s + 5 s = pass 62: until then the person's tile (and, after the probes, the bottom
        // right one) runs every pass; later only the bottom right and the quiet tiles in turn.
        let tiles = |range: std::ops::Range<usize>| -> Vec<usize> {
            runs[range].iter().filter(|(probe, _)| !probe).map(|&(_, n)| n).collect()
        };
        let early = tiles(25..60);
        let late = tiles(70..100);
        let mean = |v: &[usize]| v.iter().sum::<usize>() as f32 / v.len() as f32;
        assert!(mean(&early) > mean(&late), "{early:?} {late:?}");
    }

    #[test]
    fn a_clock_that_starts_again_forgets_where_people_were() {
        let top_left = Rect::new(200.0, 150.0, 240.0, 250.0);
        let bottom_right = Rect::new(1650.0, 850.0, 1690.0, 950.0);
        let mut control = ScaleControl::new();
        let (mut passes, mut with_bottom_right) = (0, 0);
        for n in 0..120u64 {
            // Someone at the bottom right until a reconnect at pass 60, whose timestamps start
            // from 0 again.
            let time = if n < 60 { 100_000 + n * 120 } else { (n - 60) * 120 };
            let plan = control.plan(1920, 1080);
            let mut crops = plan.crops.clone();
            control.focus(&mut crops, !plan.probe, Some(time));
            if n >= 65 && !plan.probe {
                passes += 1;
                with_bottom_right +=
                    usize::from(crops.iter().skip(1).any(|c| c.rect().contains(&bottom_right)));
            }
            let seen: &[Rect] = if n < 60 { &[top_left, bottom_right] } else { &[top_left] };
            let found: Vec<Detection> = seen.iter().map(|&rect| Detection { rect, score: 0.9 }).collect();
            control.observe(plan.probe, &found);
        }
        // After the reconnect the bottom right is quiet at once (its tile runs in turn), not
        // "active" until the new clock reaches the old one.
        assert!(with_bottom_right < passes, "{with_bottom_right} of {passes}");
        assert!(with_bottom_right * 2 >= passes / 3, "still swept: {with_bottom_right} of {passes}");
    }

    #[test]
    fn stills_probes_and_masking_detectors_run_every_tile() {
        let person = Rect::new(200.0, 150.0, 240.0, 250.0);
        // No timestamps (a still), or a detector whose boxes are masks: every tile.
        for (may_rest, time) in [(true, None), (false, Some(0))] {
            let mut control = ScaleControl::new();
            for n in 0..20 {
                let plan = control.plan(1920, 1080);
                let mut crops = plan.crops.clone();
                control.focus(&mut crops, may_rest && !plan.probe, time.map(|t: u64| t + 120 * n));
                assert_eq!(crops, plan.crops);
                control.observe(plan.probe, &[Detection { rect: person, score: 0.9 }]);
            }
            assert_eq!(control.used().tiles_rested, 0);
            assert_eq!(control.used().tiles_run, 20 * 12);
        }
    }

    #[test]
    fn a_person_the_whole_frame_sees_needs_no_tile_and_a_large_one_keeps_every_tile_it_meets() {
        // 600 px tall in a 1080 px frame: 167 px at the network's input, seen by the whole frame.
        let tall = Rect::new(900.0, 300.0, 1100.0, 900.0);
        let (_, passes) = focused(&[tall], 120, 40);
        // Only quiet tiles run: a third of the 12 a pass (one more where a tile falls due).
        assert!(passes.iter().all(|t| t.len() <= 5), "{passes:?}");
        // 200 px tall (56 px at the whole frame's input) where four cells meet: whatever tiles
        // run, one of them holds the box grown by the way people move between passes, or every
        // tile meeting it runs.
        let across = Rect::new(900.0, 330.0, 1000.0, 530.0);
        let (control, passes) = focused(&[across], 120, 40);
        let h = across.height();
        let grown = Rect::new(
            across.x0 - FOCUS_GROW_X * h,
            across.y0 - FOCUS_GROW_Y * h,
            across.x1 + FOCUS_GROW_X * h,
            across.y1 + FOCUS_GROW_Y * h,
        );
        let all = level_tiles(1920, 1080, 3, control.overlap);
        for t in &passes {
            let every_meeting =
                (1..all.len()).filter(|&i| all[i].rect().overlaps(&grown)).all(|i| t.contains(&i));
            assert!(t.iter().any(|&i| all[i].rect().contains(&grown)) || every_meeting, "{t:?}");
        }
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
