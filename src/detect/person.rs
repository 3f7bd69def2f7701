//! The person detector: SSDLite-MobileNetV2 (COCO start, fine-tuned on people; MIT) converted to
//! ONNX by `scripts/setup`, run on ONNX Runtime over tiles of the frame.
//!
//! The converted graph is the network alone: input `input` `[N,3,300,300]` RGB scaled to
//! `[-1, 1]`, outputs `boxes` `[N,A,4]` (decoded against the graph's own anchors; normalised
//! `[ymin, xmin, ymax, xmax]` of the input) and `scores` `[N,A]` (person probability). Score
//! threshold and non-maximum suppression are done here, across tiles.
//!
//! The network sees 300×300. A frame much wider than tall is cut into overlapping, roughly square
//! tiles (each stretched at most [`MAX_STRETCH`](super::tiling::MAX_STRETCH)) plus one pass over the whole frame, so people
//! are seen at a usable scale and anyone larger than a tile is still found whole.

use std::path::{Path, PathBuf};

use ort::value::TensorRef;

use super::DetectError;
use super::nms::{Detection, iou, nms};
use super::preprocess::Crop;
use super::preprocess::{InputLayout, fill_input_into};
use super::runtime::ExecutionProvider;
use super::runtime::{Threads, init_runtime, read_model, session};
use super::scale::{ScaleControl, ScaleUse};
use super::shared::SharedSession;
use super::tiling::{self, Region, Tiling, level_grid, tiles};
use super::unchanged::{TileMemory, patch_means};
use crate::frame::Frame;
use crate::geometry::Rect;

/// The person model's file in the models folder.
pub const PERSON_MODEL_FILE: &str = "ssdlite-person.onnx";
/// The network's input side, in pixels.
pub const INPUT_SIDE: u32 = 300;
/// Detections overlapping more than this are one person (the same person seen in two tiles).
/// High, so that people in a crowd, whose boxes overlap a lot, are each kept.
const NMS_IOU: f32 = 0.65;
/// A box within this share of a tile's side from a seam (an edge of the tile inside the frame) is
/// cut by it: part of a person whose whole is in the neighbouring tile or the whole frame.
const SEAM_MARGIN: f32 = 0.01;
/// A cut box is dropped when this share of it lies inside a box that is not cut: the same person,
/// seen whole elsewhere. A cut box seen nowhere else is kept (masked, and tracked).
const CUT_INSIDE: f32 = 0.6;
/// On a probe of a camera that sees its people in the whole frame alone, a tile's box overlapping
/// a box the whole frame found surely by more than this IoU is that person seen again…
const REPEAT_IOU: f32 = 0.5;
/// …and so is one lying at least this share inside it…
const REPEAT_INSIDE: f32 = 0.5;
/// …at most this share of its height: a part of them (a tile smaller than a person near the
/// camera sees their upper body or legs as a person). A box inside as tall is someone else, as
/// when the whole frame saw two people side by side as one.
const REPEAT_PART_HEIGHT: f32 = 0.75;

/// Boxes scoring below the threshold but at least this are kept apart as weak
/// ([`PersonDetector::weak`]): the tracker's second stage may continue a track with one (a
/// person half hidden by someone or something scores low), nothing masks or counts one by
/// itself. ByteTrack's low threshold, the tracker's default `low`.
pub const WEAK: f32 = 0.1;

/// Settings of the person detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PersonSettings {
    /// Minimum score of a person. Default 0.2: a missed person costs more than a blurred
    /// background patch.
    pub threshold: f32,
    pub tiling: Tiling,
    pub threads: Threads,
    pub provider: ExecutionProvider,
    /// Where people matter, when that is not the whole frame: a camera that counts but does not
    /// mask persons (`target = "faces"`) needs people only around its lines and zones
    /// ([`counting_region`]). Tiles whose own cell lies outside it are skipped; the whole-frame
    /// pass always runs. `None` (default): every tile.
    pub region: Option<Region>,
    /// The boxes serve counting only, not masks: with automatic tiles, tiles where nobody was
    /// lately rest between their turns (scale.rs, "Quiet tiles"). Default false (set by
    /// [`super::Detector::load_counting`]).
    pub counting_only: bool,
    /// A tile whose network input has not changed since its latest inference (within the last
    /// second of stream time) gets that inference's detections again (unchanged.rs). Default
    /// true; false runs every tile every pass.
    pub reuse_unchanged: bool,
}

impl Default for PersonSettings {
    fn default() -> Self {
        Self {
            threshold: 0.2,
            tiling: Tiling::Auto,
            threads: Threads::default(),
            provider: ExecutionProvider::Cpu,
            region: None,
            counting_only: false,
            reuse_unchanged: true,
        }
    }
}

/// How far around its lines and zones a counting camera looks for people, as a share of the
/// frame's width (sideways) and height (up and down): people are tracked on their way to a line,
/// and a line on the floor has the people standing on it above it.
pub const REGION_MARGIN: f32 = 0.2;

/// The region around `points` (normalised; the ends of lines and the corners of zones), grown by
/// [`REGION_MARGIN`] and clipped to the frame; `None` when it is (nearly) the whole frame or
/// there are no points.
pub fn counting_region(points: impl IntoIterator<Item = crate::geometry::Point>) -> Option<Region> {
    let mut r: Option<Region> = None;
    for p in points {
        let b = r.get_or_insert(Region { x0: p.x, y0: p.y, x1: p.x, y1: p.y });
        (b.x0, b.y0, b.x1, b.y1) = (b.x0.min(p.x), b.y0.min(p.y), b.x1.max(p.x), b.y1.max(p.y));
    }
    let r = r?;
    let grown = Region {
        x0: (r.x0 - REGION_MARGIN).max(0.0),
        y0: (r.y0 - REGION_MARGIN).max(0.0),
        x1: (r.x1 + REGION_MARGIN).min(1.0),
        y1: (r.y1 + REGION_MARGIN).min(1.0),
    };
    ((grown.x1 - grown.x0) * (grown.y1 - grown.y0) < 0.9).then_some(grown)
}

/// The person detector, loaded and ready.
#[derive(Debug)]
pub struct PersonDetector {
    path: PathBuf,
    session: SharedSession,
    settings: PersonSettings,
    input: Vec<f32>,
    /// The network's outputs of the latest pass, copied out of the shared session.
    boxes: Vec<f32>,
    scores: Vec<f32>,
    found: Vec<Detection>,
    /// The boxes of the latest pass below the threshold, down to [`WEAK`] ([`PersonDetector::weak`]).
    weak: Vec<Detection>,
    /// Per box in `found` before suppression: whether a seam cuts it…
    cut: Vec<bool>,
    /// …and whether the whole-frame inference found it.
    from_whole: Vec<bool>,
    scale: ScaleControl,
    /// Each tile's latest inference, for tiles whose input has not changed since.
    memory: TileMemory<(Detection, bool)>,
    /// Per tile of the pass: its input's patch means (reused buffers).
    patches: Vec<Vec<f32>>,
    /// One tile's detections with their seam cuts (a reused buffer).
    tile_found: Vec<(Detection, bool)>,
}

impl PersonDetector {
    /// The model session this detector shares with other detectors of the same model.
    pub fn shared_session(&self) -> &SharedSession {
        &self.session
    }

    /// Loads the person model from `models` (with the ONNX Runtime library beside it).
    pub fn load(models: &Path, settings: PersonSettings) -> Result<Self, DetectError> {
        let env = init_runtime(models)?;
        let path = models.join(PERSON_MODEL_FILE);
        let session =
            SharedSession::get_or_load(&path, "as converted", settings.threads, settings.provider, || {
                session(env, &path, &read_model(&path)?, settings.threads, settings.provider)
            })?;
        let detector = Self {
            path,
            session,
            settings,
            input: Vec::new(),
            boxes: Vec::new(),
            scores: Vec::new(),
            found: Vec::new(),
            weak: Vec::new(),
            cut: Vec::new(),
            from_whole: Vec::new(),
            scale: ScaleControl::new(),
            memory: TileMemory::default(),
            patches: Vec::new(),
            tile_found: Vec::new(),
        };
        detector.check_io()?;
        Ok(detector)
    }

    /// Refuses a model whose inputs and outputs are not the converted SSDLite's.
    fn check_io(&self) -> Result<(), DetectError> {
        let names = |values: &[ort::value::Outlet]| -> Vec<String> {
            values.iter().map(|v| v.name().to_owned()).collect()
        };
        let (inputs, outputs) = self.session.with(|s| Ok((names(s.inputs()), names(s.outputs()))))?;
        if inputs != ["input"]
            || !outputs.iter().any(|o| o == "boxes")
            || !outputs.iter().any(|o| o == "scores")
        {
            return Err(DetectError::Invalid {
                path: self.path.clone(),
                reason: format!(
                    "expected input `input` and outputs `boxes`, `scores`; the file has inputs {inputs:?}, \
                     outputs {outputs:?}"
                ),
            });
        }
        Ok(())
    }

    /// How the scale controller chose tiles so far (`None` with a fixed `person_tiles` grid).
    pub fn scale_use(&self) -> Option<ScaleUse> {
        (self.settings.tiling == Tiling::Auto).then(|| self.scale.used())
    }

    /// Every person in `frame`, as boxes in frame pixels, highest score first.
    pub fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, DetectError> {
        let (width, height) = frame.size();
        // Adaptive tiles come with whether the pass is a probe; fixed ones are never.
        // A probe of a camera that sees its people in the whole frame alone looks for smaller
        // people only: what its tiles find of people the whole frame found surely is dropped.
        let (mut crops, probe, grid, whole_sees) = match self.settings.tiling {
            Tiling::Auto => {
                let plan = self.scale.plan(width, height);
                let whole_sees = plan.probe && plan.chosen == 1 && plan.level > 1;
                (plan.crops, Some(plan.probe), level_grid(width, height, plan.level), whole_sees)
            }
            fixed @ (Tiling::Grid { .. } | Tiling::Wide) => {
                (tiles(width, height, fixed), None, tiling::grid(width, height, fixed), false)
            }
        };
        if let Some(region) = &self.settings.region {
            tiling::retain_cells_meeting(&mut crops, grid, region);
        }
        if let Some(probe) = probe {
            let time_ms = frame.meta().pts.map(|pts| pts.mseconds());
            self.scale.focus(&mut crops, self.settings.counting_only && !probe, time_ms);
        }
        let layouts: Vec<InputLayout> = crops
            .iter()
            .copied()
            .map(|crop| InputLayout {
                net_w: INPUT_SIDE,
                net_h: INPUT_SIDE,
                content_w: INPUT_SIDE,
                content_h: INPUT_SIDE,
                crop: Some(crop),
            })
            .collect();
        let item = layouts[0].floats();
        self.input.resize(item * layouts.len(), 0.0);
        for (layout, out) in layouts.iter().zip(self.input.chunks_exact_mut(item)) {
            fill_input_into(frame, layout, out)?;
        }
        let blank: Vec<bool> = self.input.chunks_exact(item).map(is_blank).collect();
        let side = INPUT_SIDE as usize;
        // Tiles whose input is unchanged since their latest inference take its detections again;
        // the others (and every tile of a frame without a timestamp) run. Blank tiles hold nobody.
        let time_ms = frame.meta().pts.map(|pts| pts.mseconds()).filter(|_| self.settings.reuse_unchanged);
        self.memory.begin((width, height), time_ms);
        self.patches.resize_with(layouts.len(), Vec::new);
        self.found.clear();
        self.cut.clear();
        self.from_whole.clear();
        let mut run = Vec::with_capacity(layouts.len());
        let (mut tiles_reused, mut whole_reused) = (0, false);
        for t in (0..layouts.len()).filter(|&t| !blank[t]) {
            if time_ms.is_some() {
                patch_means(&self.input[t * item..(t + 1) * item], side, &mut self.patches[t]);
                if let Some(found) = self.memory.recall(crops[t], &self.patches[t]) {
                    for (d, cut) in found {
                        self.found.push(*d);
                        self.cut.push(*cut);
                        self.from_whole.push(t == 0);
                    }
                    if t == 0 {
                        whole_reused = true
                    } else {
                        tiles_reused += 1
                    }
                    continue;
                }
            }
            run.push(t);
        }
        self.scale.reused(tiles_reused, whole_reused);
        if !run.is_empty() {
            self.infer(frame, &crops, &layouts, &run, item)?;
        }
        let threshold = self.settings.threshold;
        if whole_sees {
            let dropped = drop_probe_repeats(&mut self.found, &mut self.cut, &self.from_whole);
            self.scale.repeats_dropped(dropped as u64);
        }
        drop_cut_duplicates(&mut self.found, &self.cut, threshold);
        nms(&mut self.found, NMS_IOU);
        self.weak.clear();
        self.weak.extend(self.found.iter().filter(|d| d.score < threshold));
        self.found.retain(|d| d.score >= threshold);
        if let Some(probe) = probe {
            self.scale.observe(probe, &self.found);
        }
        Ok(self.found.clone())
    }

    /// The boxes of the latest pass that scored below the threshold, down to [`WEAK`] (after
    /// suppression, which the stronger boxes win): for the tracker's second stage only.
    pub fn weak(&self) -> &[Detection] {
        &self.weak
    }

    /// Runs the network on the tiles `run` (indices into `crops` and `layouts`, whose inputs are
    /// in `self.input`, `item` floats each), adds what they find to `found` and `cut`, and
    /// remembers each tile's inference.
    fn infer(
        &mut self,
        frame: &Frame,
        crops: &[Crop],
        layouts: &[InputLayout],
        run: &[usize],
        item: usize,
    ) -> Result<(), DetectError> {
        let (width, height) = frame.size();
        // The tiles to run, packed at the front of the batch.
        for (k, &t) in run.iter().enumerate() {
            if k != t {
                self.input.copy_within(t * item..(t + 1) * item, k * item);
            }
        }
        let batch = &mut self.input[..run.len() * item];
        // The graph's preprocessing: x * 2/255 - 1.
        for v in batch.iter_mut() {
            *v = *v * (2.0 / 255.0) - 1.0;
        }
        let failed = |e: &dyn std::fmt::Display| DetectError::Inference {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let side = INPUT_SIDE as usize;
        let shape = [run.len(), 3, side, side];
        let tensor = TensorRef::from_array_view((shape, &*batch)).map_err(|e| failed(&e))?;
        let (path, boxes, scores) = (&self.path, &mut self.boxes, &mut self.scores);
        self.session.with(|session| {
            let outputs = session.run(ort::inputs!["input" => tensor]).map_err(|e| failed(&e))?;
            for (name, out) in [("boxes", boxes), ("scores", scores)] {
                let (_, values) = outputs[name].try_extract_tensor::<f32>().map_err(|e| failed(&e))?;
                super::check_finite(path, name, values)?;
                out.clear();
                out.extend_from_slice(values);
            }
            Ok(())
        })?;
        let (boxes, scores) = (&self.boxes, &self.scores);
        let anchors = scores.len() / run.len();
        if boxes.len() != 4 * scores.len() || anchors * run.len() != scores.len() {
            return Err(failed(&format!(
                "output sizes do not match: {} box values for {} scores in a batch of {}",
                boxes.len(),
                scores.len(),
                run.len()
            )));
        }
        for (k, &t) in run.iter().enumerate() {
            let (crop, layout) = (crops[t], &layouts[t]);
            let tile_scores = &scores[k * anchors..(k + 1) * anchors];
            let tile_boxes = &boxes[4 * k * anchors..4 * (k + 1) * anchors];
            let tile_found = &mut self.tile_found;
            tile_found.clear();
            decode_into(
                tile_scores,
                tile_boxes,
                self.settings.threshold.min(WEAK),
                &mut |norm: Rect, score| {
                    let side = INPUT_SIDE as f32;
                    let (x0, y0) = layout.to_frame(width, height, norm.x0 * side, norm.y0 * side);
                    let (x1, y1) = layout.to_frame(width, height, norm.x1 * side, norm.y1 * side);
                    let (w, h) = (width as f32, height as f32);
                    let rect =
                        Rect::new(x0.clamp(0.0, w), y0.clamp(0.0, h), x1.clamp(0.0, w), y1.clamp(0.0, h));
                    if rect.width() > 0.0 && rect.height() > 0.0 {
                        tile_found.push((Detection { rect, score }, cut_by_seam(&rect, crop, width, height)));
                    }
                },
            );
            for (d, cut) in tile_found.iter() {
                self.found.push(*d);
                self.cut.push(*cut);
                self.from_whole.push(t == 0);
            }
            self.memory.remember(crop, &self.patches[t], tile_found);
        }
        Ok(())
    }
}

/// Whether `rect` (frame pixels, found in `crop` of a `width × height` frame) touches one of the
/// crop's edges that lie inside the frame.
fn cut_by_seam(rect: &Rect, crop: Crop, width: u32, height: u32) -> bool {
    let (mx, my) = (SEAM_MARGIN * crop.w as f32, SEAM_MARGIN * crop.h as f32);
    let (x0, y0) = (crop.x as f32, crop.y as f32);
    let (x1, y1) = ((crop.x + crop.w) as f32, (crop.y + crop.h) as f32);
    (crop.x > 0 && rect.x0 <= x0 + mx)
        || (crop.y > 0 && rect.y0 <= y0 + my)
        || (crop.x + crop.w < width && rect.x1 >= x1 - mx)
        || (crop.y + crop.h < height && rect.y1 >= y1 - my)
}

/// Drops the boxes of a probe's tiles (`from_whole` false) that repeat a person the whole-frame
/// inference found surely (at least [`crate::detect::SURE_PERSON`]): overlapping such a box by
/// more than [`REPEAT_IOU`], or lying [`REPEAT_INSIDE`] inside it at most
/// [`REPEAT_PART_HEIGHT`] of its height (a part). `cut` (per box, like `from_whole`) is kept in
/// step with `found`. Returns how many were dropped.
///
/// For a camera whose people the whole frame sees (its chosen scale level 1), a probe's tiles
/// are finer than the people: they see a person near the camera again, whole from another
/// position, or in parts (an upper body, legs, cut short of a seam by more than the seam margin),
/// scored as high as the whole. Each such box would start a track of its own at the probe, lost
/// at the next pass and masked as lost for a second (fail closed), moving on with whatever
/// velocity its first boxes gave it: on the stress set's close view most of the frame masked
/// beyond the detections came from those. People the whole frame missed, or found only weakly,
/// are kept: finding them is what probes are for.
fn drop_probe_repeats(found: &mut Vec<Detection>, cut: &mut Vec<bool>, from_whole: &[bool]) -> usize {
    let sure: Vec<Rect> = found
        .iter()
        .zip(from_whole)
        .filter(|(d, whole)| **whole && d.score >= crate::detect::SURE_PERSON)
        .map(|(d, _)| d.rect)
        .collect();
    let keep: Vec<bool> = found
        .iter()
        .zip(from_whole)
        .map(|(d, whole)| {
            *whole
                || !sure.iter().any(|s| {
                    iou(s, &d.rect) > REPEAT_IOU
                        || (d.rect.share_inside(s) >= REPEAT_INSIDE
                            && d.rect.height() <= REPEAT_PART_HEIGHT * s.height())
                })
        })
        .collect();
    retain_marked(found, &keep);
    retain_marked(cut, &keep);
    keep.iter().filter(|k| !**k).count()
}

/// Keeps the items of `items` whose mark in `keep` (one per item, in order) is true.
fn retain_marked<T>(items: &mut Vec<T>, keep: &[bool]) {
    let mut marks = keep.iter();
    items.retain(|_| marks.next().copied().unwrap_or(true));
}

/// Drops each box cut by a seam that lies mostly ([`CUT_INSIDE`]) inside a box that is not cut
/// and scores at least `threshold` (a weak box does not stand for the person seen whole).
fn drop_cut_duplicates(found: &mut Vec<Detection>, cut: &[bool], threshold: f32) {
    let whole: Vec<Rect> =
        found.iter().zip(cut).filter(|(d, c)| !**c && d.score >= threshold).map(|(d, _)| d.rect).collect();
    let mut index = 0;
    found.retain(|d| {
        let is_cut = cut[index];
        index += 1;
        !is_cut || !whole.iter().any(|w| d.rect.share_inside(w) >= CUT_INSIDE)
    });
}

/// The standard deviation (0..255 units) under which a tile counts as blank: a uniform image (a
/// black frame, a covered lens) holds no person, yet the network finds a weak whole-image "person"
/// in one.
pub const BLANK_STD: f32 = 2.0;

/// Whether a network input (values 0..255) is uniform to within [`BLANK_STD`].
fn is_blank(input: &[f32]) -> bool {
    let n = input.len().max(1) as f64;
    let mean = input.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = input.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
    var.sqrt() < f64::from(BLANK_STD)
}

/// Calls `emit` with each box (normalised `x0,y0,x1,y1`) whose score is at least `threshold`.
/// `boxes` holds `[ymin, xmin, ymax, xmax]` per score.
pub fn decode_into(scores: &[f32], boxes: &[f32], threshold: f32, emit: &mut impl FnMut(Rect, f32)) {
    for (score, b) in scores.iter().zip(boxes.chunks_exact(4)) {
        if *score >= threshold {
            emit(Rect::new(b[1], b[0], b[3], b[2]), *score);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_counting_region_keeps_the_tiles_whose_cells_meet_it() {
        use crate::geometry::Point;
        // A vertical line through the middle: x 0.3..0.7 with the margin, the whole height.
        let region = counting_region([Point::new(0.5, 0.0), Point::new(0.5, 1.0)]).unwrap();
        assert_eq!((region.x0, region.y0, region.x1, region.y1), (0.3, 0.0, 0.7, 1.0));
        let mut crops = tiling::level_tiles(1920, 1080, 3, 0.0);
        let grid = level_grid(1920, 1080, 3);
        assert_eq!((grid, crops.len()), ((4, 3), 13), "the whole frame and 4 × 3 tiles");
        let all = crops.clone();
        tiling::retain_cells_meeting(&mut crops, grid, &region);
        // The whole frame, and the middle two columns of cells (0.25..0.5, 0.5..0.75) in each row.
        assert_eq!(crops.len(), 7);
        assert_eq!(crops[0], all[0]);
        let columns: Vec<u32> = crops[1..].iter().map(|c| c.x).collect();
        assert_eq!(columns, [all[2].x, all[3].x, all[2].x, all[3].x, all[2].x, all[3].x]);
        // Lines and zones everywhere: no region (every tile).
        assert_eq!(counting_region([Point::new(0.05, 0.05), Point::new(0.95, 0.95)]), None);
        assert_eq!(counting_region([]), None);
        // A short door line at the top left (x 0..0.3, y 0..0.3 with the margin): two cells of 12.
        let door = counting_region([Point::new(0.05, 0.1), Point::new(0.1, 0.1)]).unwrap();
        let mut crops = all.clone();
        tiling::retain_cells_meeting(&mut crops, grid, &door);
        assert_eq!(crops, [all[0], all[1], all[2]]);
    }

    use super::*;

    #[test]
    fn a_box_cut_by_a_seam_is_dropped_when_seen_whole_elsewhere() {
        let crop = Crop { x: 200, y: 0, w: 300, h: 300 };
        // Touches the tile's left edge (x = 200, inside a 600 px frame): cut.
        let part = Rect::new(201.0, 50.0, 230.0, 150.0);
        assert!(cut_by_seam(&part, crop, 600, 300));
        // The frame's own edges are not seams.
        assert!(!cut_by_seam(
            &Rect::new(300.0, 0.0, 499.0, 299.0),
            Crop { x: 200, y: 0, w: 400, h: 300 },
            600,
            300
        ));
        let whole = Rect::new(180.0, 50.0, 230.0, 150.0);
        let other = Rect::new(400.0, 50.0, 430.0, 150.0);
        let mut found = vec![
            Detection { rect: part, score: 0.9 },
            Detection { rect: whole, score: 0.6 },
            Detection { rect: Rect::new(201.0, 200.0, 220.0, 280.0), score: 0.7 },
            Detection { rect: other, score: 0.5 },
        ];
        let (cut, kept) = ([true, false, true, false], found.clone());
        drop_cut_duplicates(&mut found, &cut, 0.2);
        // The part inside the whole box goes; the cut box seen nowhere else stays.
        assert_eq!(found.iter().map(|d| d.score).collect::<Vec<_>>(), [0.6, 0.7, 0.5]);
        // A whole box below the threshold (a weak box, for tracking only) does not stand for
        // the person seen whole: the cut box stays.
        let mut found = kept;
        found[1].score = 0.15;
        drop_cut_duplicates(&mut found, &cut, 0.2);
        assert_eq!(found.iter().map(|d| d.score).collect::<Vec<_>>(), [0.9, 0.15, 0.7, 0.5]);
    }

    #[test]
    fn a_probe_drops_what_its_tiles_repeat_of_people_the_whole_frame_found_surely() {
        let whole = Rect::new(600.0, 360.0, 900.0, 820.0);
        let found = vec![
            // The whole frame's: a person near the camera, found surely, and a weak one.
            Detection { rect: whole, score: 0.98 },
            Detection { rect: Rect::new(100.0, 400.0, 200.0, 700.0), score: 0.4 },
            // Tiles': that person's upper body (inside the whole box, not touching a seam)…
            Detection { rect: Rect::new(680.0, 360.0, 860.0, 630.0), score: 0.95 },
            // …the same person seen whole from another tile (IoU 0.68)…
            Detection { rect: Rect::new(580.0, 480.0, 900.0, 810.0), score: 0.3 },
            // …the weakly found person again (kept: the tile sees them better)…
            Detection { rect: Rect::new(105.0, 405.0, 200.0, 700.0), score: 0.7 },
            // …a small person the whole frame did not find, beside the near one…
            Detection { rect: Rect::new(480.0, 380.0, 530.0, 500.0), score: 0.6 },
            // …and someone inside the near one's box but as tall (IoU 0.39): two people side by
            // side that the whole frame saw as one.
            Detection { rect: Rect::new(600.0, 370.0, 720.0, 820.0), score: 0.8 },
        ];
        let from_whole = [true, true, false, false, false, false, false];
        let (mut kept, mut cut) = (found.clone(), vec![false, false, false, true, false, true, false]);
        assert_eq!(drop_probe_repeats(&mut kept, &mut cut, &from_whole), 2);
        assert_eq!(kept.iter().map(|d| d.score).collect::<Vec<_>>(), [0.98, 0.4, 0.7, 0.6, 0.8]);
        assert_eq!(cut, [false, false, false, true, false], "the seam cuts stay with their boxes");
        // A whole-frame box below the sure score stands for nobody: every tile box stays.
        let mut unsure = found.clone();
        unsure[0].score = 0.45;
        let mut cut = vec![false; 7];
        assert_eq!(drop_probe_repeats(&mut unsure, &mut cut, &from_whole), 0);
        assert_eq!(unsure.len(), 7);
    }

    #[test]
    fn uniform_inputs_are_blank() {
        assert!(is_blank(&[0.0; 300]));
        assert!(is_blank(&[128.0, 129.0, 127.0, 128.0]));
        assert!(!is_blank(&[0.0, 255.0, 0.0, 255.0]));
    }

    #[test]
    fn decoding_keeps_boxes_above_the_threshold_as_x_y() {
        let scores = [0.9, 0.1, 0.5];
        let boxes = [0.1, 0.2, 0.5, 0.4, 0.0, 0.0, 1.0, 1.0, 0.25, 0.5, 0.75, 1.0];
        let mut out = Vec::new();
        decode_into(&scores, &boxes, 0.5, &mut |r, s| out.push((r, s)));
        assert_eq!(out, [(Rect::new(0.2, 0.1, 0.4, 0.5), 0.9), (Rect::new(0.5, 0.25, 1.0, 0.75), 0.5)]);
    }
}
