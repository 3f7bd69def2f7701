//! `obscura eval mot`: how well the masks the pipeline produced cover each ground-truth person's
//! head, frame by frame, on a video with MOTChallenge ground truth.
//!
//! The head region of a ground-truth box is its top 15%, central half of its width: where the
//! head of a standing or walking person is, whatever the detector thinks. A head counts as covered
//! in a frame when at least [`COVERED_SHARE`] of its region (clipped to the frame) is masked; a
//! frame redacted whole (fail closed) covers every head.
//!
//! Regions where nobody can be seen (a pillar or a shelf standing in front of people:
//! [`MotCoverage::with_hidden`]) show no head: their pixels are left out of a head's region, whose
//! coverage is then the share of the pixels in sight that are masked, and a head with less than
//! [`IN_SIGHT`] of its region in sight is not measured in that frame.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::counts::{LineRow, ZoneRow};
use super::{COVERED_SHARE, EvalError, PixelCount, pixel_coverage};
use crate::geometry::{Rect, Shape};
use crate::redact::FrameRegions;
use crate::redact::raster::covers;

/// Share of a ground-truth box's height that is its head region, from the top.
pub const HEAD_HEIGHT: f32 = 0.15;
/// Share of a ground-truth box's width that is its head region, centred.
pub const HEAD_WIDTH: f32 = 0.5;
/// Share of a head region (in the frame) that must be in sight, not behind a hidden region, for
/// the head to be measured: less is a head mostly behind something, nothing of which to mask.
pub const IN_SIGHT: f32 = 0.5;

/// One ground-truth person in one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TruthBox {
    pub id: u32,
    pub rect: Rect,
}

/// Ground truth by frame index (0-based: MOTChallenge frame 1 is index 0).
pub type Truth = BTreeMap<u64, Vec<TruthBox>>;

/// Reads a MOTChallenge `gt.txt` (`frame,id,left,top,width,height,conf,...`, 1-based frames).
/// Rows with `conf` 0 are the format's "ignore" marks and are skipped.
pub fn read_mot_gt(path: &Path) -> Result<Truth, EvalError> {
    let text =
        std::fs::read_to_string(path).map_err(|cause| EvalError::Read { path: path.to_owned(), cause })?;
    let mut truth = Truth::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad =
            |reason: &str| EvalError::Mot { path: path.to_owned(), line: n + 1, reason: reason.to_owned() };
        let fields: Vec<f64> =
            line.split(',').map(|f| f.trim().parse::<f64>()).collect::<Result<_, _>>().map_err(|_| {
                bad("expected comma-separated numbers: frame,id,left,top,width,height,conf,...")
            })?;
        if fields.len() < 6 {
            return Err(bad("expected at least frame,id,left,top,width,height"));
        }
        if fields.len() > 6 && fields[6] == 0.0 {
            continue;
        }
        let (frame, id) = (fields[0], fields[1]);
        if frame < 1.0 || frame.fract() != 0.0 || id < 0.0 || id.fract() != 0.0 {
            return Err(bad("frame numbers start at 1 and ids are whole numbers"));
        }
        let [left, top, w, h] = [fields[2], fields[3], fields[4], fields[5]].map(|v| v as f32);
        if !(w > 0.0 && h > 0.0) {
            return Err(bad("width and height must be positive"));
        }
        truth
            .entry(frame as u64 - 1)
            .or_default()
            .push(TruthBox { id: id as u32, rect: Rect::new(left, top, left + w, top + h) });
    }
    Ok(truth)
}

/// Parses a region "x0,y0,x1,y1" in normalised coordinates (0..1 of the frame's width and
/// height; the corners in either order) that is not empty.
pub fn parse_region(text: &str) -> Result<Rect, String> {
    let values = super::counts::normalised_numbers(text)?;
    let &[x0, y0, x1, y1] = values.as_slice() else {
        return Err(format!("{text:?} is not x0,y0,x1,y1: a region needs 4 numbers"));
    };
    let region = Rect::new(x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1));
    if region.width() > 0.0 && region.height() > 0.0 {
        Ok(region)
    } else {
        Err(format!("{text:?} is an empty region: x0 and x1, and y0 and y1, must differ"))
    }
}

/// The head region of a ground-truth person box.
pub fn head_region(person: &Rect) -> Rect {
    let cx = (person.x0 + person.x1) / 2.0;
    let half = HEAD_WIDTH * person.width() / 2.0;
    Rect::new(cx - half, person.y0, cx + half, person.y0 + HEAD_HEIGHT * person.height())
}

/// Accumulates coverage frame by frame, in decode order.
#[derive(Debug)]
pub struct MotCoverage {
    truth: Truth,
    /// Regions where nobody can be seen, normalised (0..1 of the frame's width and height).
    hidden: Vec<Rect>,
    tracks: BTreeMap<u32, TrackRun>,
    frames: u64,
    fail_closed: u64,
    mask_share_sum: f64,
    max_mask_share: f32,
}

#[derive(Debug, Default)]
struct TrackRun {
    frames: u64,
    covered: u64,
    coverage_sum: f64,
    run: u64,
    longest_run: u64,
    /// Frame index where the longest uncovered run started.
    longest_at: u64,
}

impl MotCoverage {
    pub fn new(truth: Truth) -> Self {
        Self {
            truth,
            hidden: Vec::new(),
            tracks: BTreeMap::new(),
            frames: 0,
            fail_closed: 0,
            mask_share_sum: 0.0,
            max_mask_share: 0.0,
        }
    }

    /// Leaves the pixels of `hidden` (normalised rectangles: 0..1 of the frame's width and height)
    /// out of every head region: static things standing in front of people, which show no head.
    #[must_use]
    pub fn with_hidden(mut self, hidden: Vec<Rect>) -> Self {
        self.hidden = hidden;
        self
    }

    /// Takes the regions frame `index` (0-based) of a `width × height` video is redacted with.
    pub fn observe(&mut self, index: u64, width: u32, height: u32, regions: &FrameRegions) {
        self.frames += 1;
        let (w, h) = (width as usize, height as usize);
        let share = match regions {
            FrameRegions::None => 0.0,
            FrameRegions::FailClosed => {
                self.fail_closed += 1;
                1.0
            }
            FrameRegions::Detected(masks) => mask_share(masks, w, h),
        };
        self.mask_share_sum += f64::from(share);
        self.max_mask_share = self.max_mask_share.max(share);
        let Some(people) = self.truth.get(&index) else { return };
        let (fw, fh) = (w as f32, h as f32);
        let hidden: Vec<Rect> =
            self.hidden.iter().map(|r| Rect::new(r.x0 * fw, r.y0 * fh, r.x1 * fw, r.y1 * fh)).collect();
        let masks = match regions {
            FrameRegions::Detected(masks) => &masks[..],
            FrameRegions::None | FrameRegions::FailClosed => &[],
        };
        for person in people {
            let head = head_region(&person.rect);
            let visible = Rect::new(head.x0.max(0.0), head.y0.max(0.0), head.x1.min(fw), head.y1.min(fh));
            if visible.width() < 1.0 || visible.height() < 1.0 {
                continue;
            }
            let PixelCount { masked, in_sight, in_frame } = pixel_coverage(masks, &visible, &hidden, w, h);
            if (in_sight as f32) < IN_SIGHT * in_frame as f32 {
                continue;
            }
            let coverage = match regions {
                FrameRegions::None => 0.0,
                FrameRegions::FailClosed => 1.0,
                FrameRegions::Detected(_) => masked as f32 / in_sight.max(1) as f32,
            };
            let track = self.tracks.entry(person.id).or_default();
            track.frames += 1;
            track.coverage_sum += f64::from(coverage);
            if coverage >= COVERED_SHARE {
                track.covered += 1;
                track.run = 0;
            } else {
                track.run += 1;
                if track.run > track.longest_run {
                    track.longest_run = track.run;
                    track.longest_at = index + 1 - track.run;
                }
            }
        }
    }

    pub fn report(&self, video: &Path, target: &str, detect_every: u32) -> MotReport {
        let tracks: Vec<TrackRow> = self
            .tracks
            .iter()
            .map(|(&id, t)| TrackRow {
                id,
                frames: t.frames,
                covered: t.covered,
                mean_coverage: (t.coverage_sum / t.frames.max(1) as f64) as f32,
                longest_uncovered: t.longest_run,
                longest_uncovered_from: (t.longest_run > 0).then_some(t.longest_at + 1),
            })
            .collect();
        let heads: u64 = tracks.iter().map(|t| t.frames).sum();
        let covered: u64 = tracks.iter().map(|t| t.covered).sum();
        let truth_frames = self.truth.keys().next_back().map_or(0, |&last| last + 1);
        MotReport {
            video: video.to_owned(),
            target: target.to_owned(),
            detect_every,
            frames: self.frames,
            frames_without_video: truth_frames.saturating_sub(self.frames),
            heads,
            covered,
            coverage_rate: if heads == 0 { 1.0 } else { covered as f32 / heads as f32 },
            mean_head_coverage: (self.tracks.values().map(|t| t.coverage_sum).sum::<f64>()
                / heads.max(1) as f64) as f32,
            longest_uncovered: tracks.iter().map(|t| t.longest_uncovered).max().unwrap_or(0),
            mean_mask_share: (self.mask_share_sum / self.frames.max(1) as f64) as f32,
            max_mask_share: self.max_mask_share,
            fail_closed_frames: self.fail_closed,
            covered_share: COVERED_SHARE,
            processing_fps: 0.0,
            tiling: None,
            tiles_per_pass: None,
            tiles_reused_per_pass: None,
            anchor: None,
            lines: Vec::new(),
            zones: Vec::new(),
            tracks,
        }
    }
}

/// The share of a `width × height` frame inside at least one mask, sampled on a grid of about
/// 160 000 points (exact to well under a percent).
pub fn mask_share(masks: &[Shape], width: usize, height: usize) -> f32 {
    if masks.is_empty() || width == 0 || height == 0 {
        return 0.0;
    }
    let step = (((width * height) as f64 / 160_000.0).sqrt().ceil() as usize).max(1);
    let bounds: Vec<Rect> = masks.iter().map(Shape::bounds).collect();
    let (mut inside, mut total) = (0u64, 0u64);
    for y in (step / 2..height).step_by(step) {
        let (fy0, fy1) = (y as f32, y as f32 + 1.0);
        let rows: Vec<&Shape> =
            masks.iter().zip(&bounds).filter(|(_, b)| b.y0 < fy1 && b.y1 > fy0).map(|(m, _)| m).collect();
        for x in (step / 2..width).step_by(step) {
            total += 1;
            if rows.iter().any(|m| covers(m, x, y)) {
                inside += 1;
            }
        }
    }
    inside as f32 / total.max(1) as f32
}

/// One ground-truth track's coverage.
#[derive(Debug, Clone, Serialize)]
pub struct TrackRow {
    pub id: u32,
    /// Frames in which its head region is in the picture.
    pub frames: u64,
    /// Frames in which its head region was covered.
    pub covered: u64,
    /// Mean share of its head region masked.
    pub mean_coverage: f32,
    /// The longest run of consecutive frames with its head not covered.
    pub longest_uncovered: u64,
    /// The 1-based frame number where that run starts.
    pub longest_uncovered_from: Option<u64>,
}

/// The result of `obscura eval mot`.
#[derive(Debug, Clone, Serialize)]
pub struct MotReport {
    pub video: PathBuf,
    pub target: String,
    pub detect_every: u32,
    /// Frames decoded.
    pub frames: u64,
    /// Ground-truth frames past the end of the video (not evaluated).
    pub frames_without_video: u64,
    /// Ground-truth heads in the picture, over all frames.
    pub heads: u64,
    pub covered: u64,
    /// covered / heads.
    pub coverage_rate: f32,
    pub mean_head_coverage: f32,
    /// The longest run of consecutive uncovered frames of any track.
    pub longest_uncovered: u64,
    /// Mean share of the frame masked (1 for a frame redacted whole).
    pub mean_mask_share: f32,
    pub max_mask_share: f32,
    pub fail_closed_frames: u64,
    /// A head is covered when at least this share of its region is masked.
    pub covered_share: f32,
    /// Frames decoded, detected, tracked, counted and redacted per second of wall time (no
    /// encoding), on this machine.
    pub processing_fps: f64,
    /// The person detector's tiles at the end (e.g. `3x3`), when chosen automatically.
    pub tiling: Option<String>,
    /// Tile inferences run per detection pass, the whole frame not counted (automatic tiles).
    pub tiles_per_pass: Option<f64>,
    /// Tiles per pass whose input had not changed since their latest inference, whose detections
    /// were used again instead (automatic tiles).
    pub tiles_reused_per_pass: Option<f64>,
    /// The point of a person that crosses lines, when lines were given.
    pub anchor: Option<String>,
    /// Crossings per line, counted from the person tracks next to the ground truth's.
    pub lines: Vec<LineRow>,
    /// Entries, occupancy and dwell per zone, from the person tracks next to the ground truth's.
    pub zones: Vec<ZoneRow>,
    pub tracks: Vec<TrackRow>,
}

impl std::fmt::Display for MotReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:>6} {:>7} {:>8} {:>9} {:>15}",
            "track", "frames", "covered", "mean cov", "longest uncov."
        )?;
        for t in &self.tracks {
            let run = match t.longest_uncovered_from {
                Some(from) => format!("{} (from {from})", t.longest_uncovered),
                None => "0".to_owned(),
            };
            writeln!(
                f,
                "{:>6} {:>7} {:>8} {:>8.1}% {:>15}",
                t.id,
                t.frames,
                t.covered,
                100.0 * t.mean_coverage,
                run
            )?;
        }
        writeln!(
            f,
            "{}: target {}, detect every {} frame(s), {} frames{}",
            self.video.display(),
            self.target,
            self.detect_every,
            self.frames,
            if self.frames_without_video > 0 {
                format!(" ({} ground-truth frames past the end of the video)", self.frames_without_video)
            } else {
                String::new()
            }
        )?;
        writeln!(
            f,
            "heads covered (≥ {:.0}% of the head region masked): {}/{} = {:.2}%; mean head coverage {:.1}%",
            100.0 * self.covered_share,
            self.covered,
            self.heads,
            100.0 * self.coverage_rate,
            100.0 * self.mean_head_coverage
        )?;
        writeln!(f, "longest run of uncovered frames of any track: {}", self.longest_uncovered)?;
        write!(
            f,
            "masks cover {:.1}% of the frame on average (max {:.1}%); {} frame(s) redacted whole (fail closed)",
            100.0 * self.mean_mask_share,
            100.0 * self.max_mask_share,
            self.fail_closed_frames
        )?;
        write!(f, "\n{:.1} frames per second processed", self.processing_fps)?;
        if let Some(tiling) = &self.tiling {
            write!(f, "; person detector tiles at the end: {tiling}")?;
        }
        if let Some(tiles) = self.tiles_per_pass {
            write!(f, ", {tiles:.1} tile inferences per pass")?;
        }
        if let Some(reused) = self.tiles_reused_per_pass {
            write!(f, " ({reused:.1} more reused unchanged)")?;
        }
        for row in &self.lines {
            write!(
                f,
                "\n{} {:.2},{:.2} → {:.2},{:.2}: in {} (truth {}), out {} (truth {})",
                row.line,
                row.from[0],
                row.from[1],
                row.to[0],
                row.to[1],
                row.obscura_in,
                row.truth_in,
                row.obscura_out,
                row.truth_out
            )?;
        }
        for row in &self.zones {
            write!(f, "\n{row}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(shapes: Vec<Shape>) -> FrameRegions {
        FrameRegions::Detected(shapes.into())
    }

    #[test]
    fn parses_regions_in_either_corner_order_and_refuses_empty_ones() {
        assert_eq!(parse_region("0.5,1,0.25,0"), Ok(Rect::new(0.25, 0.0, 0.5, 1.0)));
        assert!(parse_region("0.2,0.1,0.2,0.9").unwrap_err().contains("empty region"));
        assert!(parse_region("0.2,0.1,0.3").unwrap_err().contains("4 numbers"));
        assert!(parse_region("0.2,0.1,1.3,0.5").unwrap_err().contains("between 0 and 1"));
    }

    #[test]
    fn reads_mot_ground_truth() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gt.txt");
        std::fs::write(
            &path,
            "1,1,399,182,121,229,1,-1,-1,-1\n1,2,0,0,10,10,0,-1,-1,-1\n\n3,7,10.5,20,30,40,1\n",
        )
        .unwrap();
        let truth = read_mot_gt(&path).unwrap();
        assert_eq!(truth.len(), 2);
        assert_eq!(truth[&0], [TruthBox { id: 1, rect: Rect::new(399.0, 182.0, 520.0, 411.0) }]);
        assert_eq!(truth[&2], [TruthBox { id: 7, rect: Rect::new(10.5, 20.0, 40.5, 60.0) }]);
        std::fs::write(&path, "1,1,2,3\n").unwrap();
        let err = read_mot_gt(&path).unwrap_err().to_string();
        assert!(err.contains("gt.txt:1:") && err.contains("at least"), "{err}");
        std::fs::write(&path, "0,1,2,3,4,5,1\n").unwrap();
        assert!(read_mot_gt(&path).is_err(), "frame 0 does not exist");
    }

    #[test]
    fn the_head_region_is_the_top_centre_of_the_box() {
        let head = head_region(&Rect::new(100.0, 0.0, 200.0, 200.0));
        let expected = [125.0, 0.0, 175.0, 30.0];
        for (got, want) in [head.x0, head.y0, head.x1, head.y1].into_iter().zip(expected) {
            assert!((got - want).abs() < 1e-3, "{head:?}");
        }
    }

    #[test]
    fn counts_coverage_and_the_longest_uncovered_run() {
        let person = Rect::new(100.0, 0.0, 200.0, 200.0);
        let truth: Truth = (0..6).map(|i| (i, vec![TruthBox { id: 4, rect: person }])).collect();
        let mut cov = MotCoverage::new(truth);
        let head = Shape::Rect(Rect::new(120.0, 0.0, 180.0, 40.0));
        let half = Shape::Rect(Rect::new(125.0, 0.0, 150.0, 30.0));
        let frames = [
            regions(vec![head.clone()]),
            regions(vec![half.clone()]),
            regions(vec![]),
            FrameRegions::FailClosed,
            regions(vec![half]),
            regions(vec![head]),
        ];
        for (i, r) in frames.iter().enumerate() {
            cov.observe(i as u64, 400, 300, r);
        }
        let report = cov.report(Path::new("v.mp4"), "heads", 3);
        assert_eq!((report.heads, report.covered), (6, 3));
        assert_eq!(report.tracks[0].longest_uncovered, 2);
        assert_eq!(report.tracks[0].longest_uncovered_from, Some(2));
        assert_eq!(report.fail_closed_frames, 1);
        // The half mask covers 25 of the region's 50 columns (its rows rounded out to whole pixels).
        assert!((report.mean_head_coverage - (1.0 + 0.5 + 0.0 + 1.0 + 0.5 + 1.0) / 6.0).abs() < 0.02);
        assert!(report.max_mask_share == 1.0);
    }

    #[test]
    fn hidden_regions_are_left_out_of_the_heads_they_stand_in_front_of() {
        // Head regions: 100..150 × 0..30 (person 1), 300..350 × 0..30 (person 2).
        let people = vec![
            TruthBox { id: 1, rect: Rect::new(75.0, 0.0, 175.0, 200.0) },
            TruthBox { id: 2, rect: Rect::new(275.0, 0.0, 375.0, 200.0) },
        ];
        let truth: Truth = (0..3).map(|i| (i, people.clone())).collect();
        // A pillar over the right 40% of the first head (130..150) and 80% of the second (310..350).
        let pillar = Rect::new(130.0 / 400.0, 0.0, 350.0 / 400.0, 1.0);
        let mut cov = MotCoverage::new(truth.clone()).with_hidden(vec![pillar]);
        let mut plain = MotCoverage::new(truth);
        // The first head's pixels in sight (100..130) masked, those behind the pillar not.
        let in_sight = regions(vec![Shape::Rect(Rect::new(100.0, 0.0, 130.0, 30.0))]);
        for (i, r) in [in_sight.clone(), in_sight, regions(vec![])].iter().enumerate() {
            cov.observe(i as u64, 400, 300, r);
            plain.observe(i as u64, 400, 300, r);
        }
        let report = cov.report(Path::new("v.mp4"), "heads", 1);
        // The second head, 80% behind the pillar, is not measured; the first is covered where seen.
        assert_eq!(report.tracks.len(), 1);
        assert_eq!((report.tracks[0].id, report.heads, report.covered), (1, 3, 2));
        assert_eq!(report.tracks[0].longest_uncovered, 1);
        // Without the hidden region the same masks cover 60% of the first head: never enough.
        let report = plain.report(Path::new("v.mp4"), "heads", 1);
        assert_eq!((report.heads, report.covered), (6, 0));
    }

    #[test]
    fn heads_outside_the_frame_are_not_counted() {
        let truth: Truth = [(0, vec![TruthBox { id: 1, rect: Rect::new(-50.0, -100.0, -10.0, 0.0) }])].into();
        let mut cov = MotCoverage::new(truth);
        cov.observe(0, 100, 100, &regions(vec![]));
        assert_eq!(cov.report(Path::new("v"), "heads", 1).heads, 0);
    }

    #[test]
    fn mask_share_is_the_masked_fraction_of_the_frame() {
        let left_half = Shape::Rect(Rect::new(0.0, 0.0, 320.0, 480.0));
        assert!((mask_share(std::slice::from_ref(&left_half), 640, 480) - 0.5).abs() < 0.01);
        // Overlaps are counted once.
        assert!((mask_share(&[left_half.clone(), left_half], 640, 480) - 0.5).abs() < 0.01);
        let share = mask_share(&[Shape::Ellipse(Rect::new(0.0, 0.0, 1920.0, 1080.0))], 1920, 1080);
        assert!((share - std::f32::consts::FRAC_PI_4).abs() < 0.01, "{share}");
    }
}
