//! Detection: CNN detectors on ONNX Runtime (CPU), fed straight from the decoder's planes, and
//! the masks their detections become.

pub mod cache;
pub mod centerface;
pub mod face;
pub mod face_scale;
pub mod nms;
pub mod onnx_graph;
pub mod person;
pub mod preprocess;
pub mod runtime;
pub mod scale;
pub mod shared;
pub mod tiling;
pub mod unchanged;

use std::path::PathBuf;

pub use face::{FaceDetector, FaceSettings};
pub use nms::Detection;
pub use person::{PersonDetector, PersonSettings, counting_region};
pub use runtime::{ExecutionProvider, Threads, models_dir};
pub use tiling::{Region, Tiling};

use crate::frame::Frame;
use crate::geometry::{Point, Rect, Shape};
use crate::redact::{FrameRegions, Target};

/// Why detection could not run. Model errors name the file and how to fix it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DetectError {
    #[error("{path}: model file is missing; run scripts/setup to fetch it")]
    Missing { path: PathBuf },
    #[error("{path}: cannot load the model ({reason}); run scripts/setup to fetch it again")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path}: cannot load ONNX Runtime ({reason}); run scripts/setup to fetch it again")]
    Runtime { path: PathBuf, reason: String },
    #[error("{path}: inference failed: {reason}")]
    Inference { path: PathBuf, reason: String },
    #[error(
        "execution provider {provider} is not available ({reason}); set OBSCURA_ONNXRUNTIME to an \
         ONNX Runtime library built with it, or use execution_provider = \"cpu\""
    )]
    Provider { provider: &'static str, reason: String },
    #[error("cannot read the frame for detection: {0}")]
    Input(String),
    /// The model gave NaN or infinite numbers: a numerical fault (a broken execution provider,
    /// a wrong model). Never read as "nothing found": the pass fails closed.
    #[error("{path}: the model's {output} output holds {count} non-finite value(s) (NaN or infinity)")]
    NonFinite { path: PathBuf, output: &'static str, count: usize },
}

impl DetectError {
    /// Whether the detector ran but its output could not be trusted (not an error of running).
    pub fn is_invalid_output(&self) -> bool {
        matches!(self, DetectError::NonFinite { .. })
    }
}

/// Fails with [`DetectError::NonFinite`] when `values` (the raw output `output` of the model at
/// `path`) holds a NaN or an infinity.
pub(crate) fn check_finite(
    path: &std::path::Path,
    output: &'static str,
    values: &[f32],
) -> Result<(), DetectError> {
    let count = values.iter().filter(|v| !v.is_finite()).count();
    if count == 0 { Ok(()) } else { Err(DetectError::NonFinite { path: path.to_owned(), output, count }) }
}

/// How much larger than the detected face box its mask is (from the centre). The mask is the
/// ellipse inscribed in the scaled box: from √2 on, that ellipse covers the whole face box,
/// corners included; 1.6 adds a margin for localisation error and for movement between
/// detections.
pub const FACE_MASK_SCALE: f32 = 1.6;

/// The mask of each face: the ellipse inscribed in its box scaled by `scale` about its centre.
pub fn face_masks(faces: &[Detection], scale: f32) -> Vec<Shape> {
    faces.iter().map(|f| Shape::Ellipse(scale_about_centre(&f.rect, scale))).collect()
}

/// How wide the head mask of a person box is, as a share of the box's width, centred: wider than
/// the box, because the head is rarely at the box's centre (a stride, a bag, an arm swing moves
/// the centre) and the box's sides are the least precise part of a detection.
pub const HEAD_WIDTH: f32 = 1.2;
/// How far above the person box's top the head mask starts, as a share of the head depth (boxes
/// often start at the forehead, or below it when people overlap).
pub const HEAD_ABOVE: f32 = 0.6;
/// How far person masks reach beyond the person box on each side, as a share of its size.
pub const PERSON_MARGIN: f32 = 0.05;

/// How deep below the top of a person box its head reaches: a quarter of the box's height for a
/// whole standing person, more when the box is squat (cut by the frame's edge, sitting, close to
/// the camera), where the head is a larger share of the box: 0.6 of its width, at most its height.
pub fn head_depth(person: &Rect) -> f32 {
    (0.25 * person.height()).max(0.6 * person.width()).min(person.height())
}

/// The head mask of a person box: a box with rounded corners over the top of the person box,
/// with margins. Rounded, not elliptic: an ellipse inscribed in the same box leaves its top corners
/// open, exactly where the head sits when the person box's top is a little low.
pub fn head_mask(person: &Rect) -> Shape {
    head_mask_deeper(person, 1.0, 0.0, 0.0)
}

/// Below this score a person box is placed less precisely (the tracker's default `high`: below
/// it a detection only continues a track)...
pub const SURE_PERSON: f32 = 0.5;
/// ...and at the person detector's default threshold its head mask reaches this much deeper.
pub const UNSURE_HEAD_DEPTH: f32 = 1.5;

/// The head mask of a person box found with `score`: [`head_mask`], reaching deeper into the box
/// the less sure the detection (linearly from 1× at [`SURE_PERSON`] to [`UNSURE_HEAD_DEPTH`]× at
/// a score of 0.2). Weak boxes of small or half-hidden people often take in what is above the
/// head (a shop sign, a person behind), so their top is high and the head lies lower in them.
pub fn head_mask_scored(person: &Rect, score: f32) -> Shape {
    head_mask_reaching(person, score, 0.0)
}

/// [`head_mask_scored`] reaching `reach` pixels higher, its bottom where it was: the mask of a
/// tracked person whose box came in lower at the top than the track expected
/// ([`crate::track::Track::reach_at`]).
pub fn head_mask_reaching(person: &Rect, score: f32, reach: f32) -> Shape {
    head_mask_placed(person, score, reach, 0.0)
}

/// [`head_mask_reaching`] reaching `sink` pixels deeper too, by at most its margin above the box
/// ([`HEAD_ABOVE`] of the head depth), its top where it was: the mask of a tracked person whose
/// box grew upwards past what the track expected ([`crate::track::Track::sink_at`]), the head
/// lower in it than its top says.
pub fn head_mask_placed(person: &Rect, score: f32, reach: f32, sink: f32) -> Shape {
    let unsure = ((SURE_PERSON - score) / (SURE_PERSON - 0.2)).clamp(0.0, 1.0);
    head_mask_deeper(person, 1.0 + (UNSURE_HEAD_DEPTH - 1.0) * unsure, reach, sink)
}

/// [`head_mask`] reaching `deeper` times the head depth into the box (≥ 1) and `sink` pixels
/// more (see [`head_mask_placed`]), never past its bottom, and `reach` pixels further up.
fn head_mask_deeper(person: &Rect, deeper: f32, reach: f32, sink: f32) -> Shape {
    let depth = head_depth(person);
    let cx = (person.x0 + person.x1) / 2.0;
    let half = HEAD_WIDTH * person.width() / 2.0;
    let bottom = (person.y0 + deeper.max(1.0) * depth + sink.clamp(0.0, HEAD_ABOVE * depth)).min(person.y1);
    let top = person.y0 - HEAD_ABOVE * depth - reach.max(0.0);
    rounded_box(&Rect::new(cx - half, top, cx + half, bottom), HEAD_CORNER)
}

/// The radius of a head mask's corners, as a share of its shorter side.
pub const HEAD_CORNER: f32 = 0.3;

/// `r` with its corners rounded by `share` of its shorter side, as a polygon (each corner a
/// quarter circle of 6 segments).
pub fn rounded_box(r: &Rect, share: f32) -> Shape {
    const STEPS: usize = 6;
    let radius = share.clamp(0.0, 0.5) * r.width().min(r.height());
    let corners = [
        (r.x1 - radius, r.y1 - radius, 0.0f32),
        (r.x0 + radius, r.y1 - radius, 90.0),
        (r.x0 + radius, r.y0 + radius, 180.0),
        (r.x1 - radius, r.y0 + radius, 270.0),
    ];
    let mut points = Vec::with_capacity(4 * (STEPS + 1));
    for (cx, cy, start) in corners {
        for i in 0..=STEPS {
            let a = (start + 90.0 * i as f32 / STEPS as f32).to_radians();
            points.push(Point::new(cx + radius * a.cos(), cy + radius * a.sin()));
        }
    }
    Shape::Polygon(points)
}

/// The mask of a person box: the box with a margin.
pub fn person_mask(person: &Rect) -> Shape {
    let (mx, my) = (PERSON_MARGIN * person.width(), PERSON_MARGIN * person.height());
    Shape::Rect(Rect::new(person.x0 - mx, person.y0 - my, person.x1 + mx, person.y1 + my))
}

/// Settings of every detector.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DetectorSettings {
    pub faces: FaceSettings,
    pub persons: PersonSettings,
}

impl DetectorSettings {
    /// Whether the face detector chooses its input size from the faces it finds (face_scale.rs):
    /// only where faces are the only masks (`target`: faces; elsewhere person boxes cover people
    /// whose faces are too small to find), with neither `face_input` nor `face_tiles` set (the
    /// user chose how faces are seen).
    pub fn faces_adapt(&self, target: Target) -> bool {
        let whole_frame = matches!(self.faces.tiling, Tiling::Grid { cols: 1, rows: 1 } | Tiling::Auto);
        self.faces.adaptive && target == Target::Faces && whole_frame
    }
}

/// What one detection pass found in a frame, in frame pixels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    pub faces: Vec<Detection>,
    /// Empty when the target needs no person detector.
    pub persons: Vec<Detection>,
    /// Person boxes below the threshold (down to [`person::WEAK`]): they may continue a track
    /// (the tracker's second stage), never masked or counted by themselves.
    pub weak_persons: Vec<Detection>,
    /// Those of `weak_persons` that continued a track (set after tracking): masked as detections
    /// are, since a person being tracked is there.
    pub continuing: Vec<Detection>,
}

impl Found {
    /// The masks that hide `target` given these detections. Faces are masked for every target
    /// (a face found is hidden even when its person was missed).
    pub fn masks(&self, target: Target) -> Vec<Shape> {
        let mut masks = face_masks(&self.faces, FACE_MASK_SCALE);
        match target {
            Target::Heads => masks.extend(
                self.persons.iter().chain(&self.continuing).map(|p| head_mask_scored(&p.rect, p.score)),
            ),
            Target::Persons => {
                masks.extend(self.persons.iter().chain(&self.continuing).map(|p| person_mask(&p.rect)))
            }
            Target::Faces | Target::Frame | Target::None => {}
        }
        masks
    }

    /// The regions to redact for `target`.
    pub fn regions(&self, target: Target) -> FrameRegions {
        FrameRegions::Detected(self.masks(target).into())
    }
}

/// Something that finds what a target needs in a frame: the real [`Detector`], or a scripted one
/// in tests (failures, delays).
pub trait FrameDetector: Send {
    /// What the detections are masked as.
    fn target(&self) -> Target;
    /// One detection pass over `frame`.
    fn detect(&mut self, frame: &Frame) -> Result<Found, DetectError>;
    /// How the person detector's scale was chosen so far, if it adapts.
    fn scale_use(&self) -> Option<scale::ScaleUse> {
        None
    }
    /// Face inferences left out so far because their input had not changed (unchanged.rs).
    fn faces_reused(&self) -> u64 {
        0
    }
    /// How the face detector's input size was chosen so far, if it adapts.
    fn face_scale(&self) -> Option<face_scale::FaceScaleUse> {
        None
    }
}

impl FrameDetector for Detector {
    fn target(&self) -> Target {
        self.target
    }

    fn detect(&mut self, frame: &Frame) -> Result<Found, DetectError> {
        Detector::detect(self, frame)
    }

    fn scale_use(&self) -> Option<scale::ScaleUse> {
        self.persons.as_ref().and_then(PersonDetector::scale_use)
    }

    fn faces_reused(&self) -> u64 {
        self.faces.reused()
    }

    fn face_scale(&self) -> Option<face_scale::FaceScaleUse> {
        self.faces.scale_use()
    }
}

/// The detectors a target needs: faces always, persons for `heads` and `persons`. Loaded once and
/// used for every input of a run.
#[derive(Debug)]
pub struct Detector {
    target: Target,
    faces: FaceDetector,
    persons: Option<PersonDetector>,
}

impl Detector {
    /// Loads the models `target` needs from `models`.
    pub fn load(
        models: &std::path::Path,
        target: Target,
        settings: &DetectorSettings,
    ) -> Result<Self, DetectError> {
        Self::load_counting(models, target, false, settings)
    }

    /// Loads the models `target` needs, and the person detector also when `counting` (people are
    /// counted from person tracks whatever is redacted).
    pub fn load_counting(
        models: &std::path::Path,
        target: Target,
        counting: bool,
        settings: &DetectorSettings,
    ) -> Result<Self, DetectError> {
        let adaptive = settings.faces_adapt(target);
        let faces = FaceDetector::load(models, FaceSettings { adaptive, ..settings.faces })?;
        let persons = match target {
            Target::Heads | Target::Persons => Some(PersonDetector::load(models, settings.persons)?),
            // Its boxes mask nothing: quiet tiles may rest (scale.rs).
            _ if counting => Some(PersonDetector::load(
                models,
                PersonSettings { counting_only: true, ..settings.persons },
            )?),
            Target::Faces | Target::Frame | Target::None => None,
        };
        Ok(Self { target, faces, persons })
    }

    pub fn target(&self) -> Target {
        self.target
    }

    /// Runs every detector on `frame`.
    pub fn detect(&mut self, frame: &Frame) -> Result<Found, DetectError> {
        let faces = self.faces.detect(frame)?;
        let (persons, weak_persons) = match self.persons.as_mut() {
            Some(detector) => (detector.detect(frame)?, detector.weak().to_vec()),
            None => (Vec::new(), Vec::new()),
        };
        Ok(Found { faces, persons, weak_persons, continuing: Vec::new() })
    }

    /// The regions to redact in `frame` for this detector's target.
    pub fn regions(&mut self, frame: &Frame) -> Result<FrameRegions, DetectError> {
        Ok(self.detect(frame)?.regions(self.target))
    }
}

/// `r` scaled by `scale` about its centre.
pub fn scale_about_centre(r: &Rect, scale: f32) -> Rect {
    let (cx, cy) = ((r.x0 + r.x1) / 2.0, (r.y0 + r.y1) / 2.0);
    let (hw, hh) = (r.width() * scale / 2.0, r.height() * scale / 2.0);
    Rect::new(cx - hw, cy - hh, cx + hw, cy + hh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_output_is_an_error_naming_the_output() {
        let path = std::path::Path::new("models/ssdlite-person.onnx");
        assert!(check_finite(path, "scores", &[0.0, 0.5, 1.0]).is_ok());
        let err = check_finite(path, "scores", &[0.1, f32::NAN, f32::INFINITY, -f32::INFINITY]).unwrap_err();
        assert!(err.is_invalid_output());
        assert_eq!(
            err.to_string(),
            "models/ssdlite-person.onnx: the model's scores output holds 3 non-finite value(s) (NaN or infinity)"
        );
        let other = DetectError::Inference { path: path.into(), reason: "x".into() };
        assert!(!other.is_invalid_output());
    }

    fn assert_close(r: Rect, want: [f32; 4]) {
        for (got, want) in [r.x0, r.y0, r.x1, r.y1].into_iter().zip(want) {
            assert!((got - want).abs() < 1e-3, "{r:?} is not {want:?}");
        }
    }

    #[test]
    fn faces_choose_their_scale_only_where_they_are_the_only_masks_and_nothing_was_set() {
        let settings = DetectorSettings::default();
        assert!(settings.faces_adapt(Target::Faces));
        for target in [Target::Heads, Target::Persons, Target::Frame, Target::None] {
            assert!(!settings.faces_adapt(target), "{target:?}");
        }
        let fixed = DetectorSettings {
            faces: FaceSettings { adaptive: false, ..FaceSettings::default() },
            ..settings
        };
        assert!(!fixed.faces_adapt(Target::Faces), "face_input set");
        let tiled = DetectorSettings {
            faces: FaceSettings { tiling: Tiling::Grid { cols: 2, rows: 2 }, ..FaceSettings::default() },
            ..settings
        };
        assert!(!tiled.faces_adapt(Target::Faces), "face_tiles set");
    }

    #[test]
    fn a_weak_person_box_gets_a_deeper_head_mask() {
        // 100 × 300 box: head depth 75, mask from 45 above the top to 75 below it when sure.
        let person = Rect::new(100.0, 50.0, 200.0, 350.0);
        let bottom = |score| head_mask_scored(&person, score).bounds().y1;
        assert_eq!(head_mask_scored(&person, 0.9), head_mask(&person));
        assert!((bottom(SURE_PERSON) - 125.0).abs() < 1e-3);
        // Halfway to the detector's threshold: 1.25 × 75 deep; at it, 1.5 ×.
        assert!((bottom(0.35) - (50.0 + 1.25 * 75.0)).abs() < 1e-3);
        assert!((bottom(0.2) - (50.0 + 1.5 * 75.0)).abs() < 1e-3);
        assert!((bottom(0.05) - bottom(0.2)).abs() < 1e-3, "no deeper below the threshold");
        // Only deeper: top and sides stay.
        let (sure, weak) = (head_mask(&person).bounds(), head_mask_scored(&person, 0.2).bounds());
        assert_eq!((sure.x0, sure.y0, sure.x1), (weak.x0, weak.y0, weak.x1));
        // Never past the box's bottom (a squat box's head mask already reaches it).
        let squat = Rect::new(0.0, 0.0, 100.0, 60.0);
        assert_eq!(head_mask_scored(&squat, 0.2).bounds().y1, 60.0);
        // The masks of a detection pass use it.
        let weak = vec![Detection { rect: Rect::new(500.0, 50.0, 600.0, 350.0), score: 0.15 }];
        let found = Found {
            faces: Vec::new(),
            persons: vec![Detection { rect: person, score: 0.2 }],
            weak_persons: weak.clone(),
            continuing: Vec::new(),
        };
        // Weak boxes are never masked by themselves…
        assert_eq!(found.masks(Target::Heads), vec![head_mask_scored(&person, 0.2)]);
        // …but those that continued a track are, as deep as their score asks.
        let found = Found { continuing: weak.clone(), ..found };
        let more = head_mask_scored(&weak[0].rect, 0.15);
        assert_eq!(found.masks(Target::Heads), vec![head_mask_scored(&person, 0.2), more]);
    }

    #[test]
    fn a_standing_persons_head_mask_covers_the_top_of_the_box() {
        // 100 × 300 box: head depth max(75, 60) = 75; 120 wide, from 45 above the top.
        let person = Rect::new(100.0, 50.0, 200.0, 350.0);
        let mask = head_mask(&person);
        assert!(matches!(mask, Shape::Polygon(_)));
        assert_close(mask.bounds(), [90.0, 5.0, 210.0, 125.0]);
        // Rounded corners: the box's corner is out, the middle of each side is in.
        let inside = |x: usize, y: usize| crate::redact::raster::covers(&mask, x, y);
        assert!(!inside(90, 5) && !inside(209, 124));
        assert!(inside(150, 6) && inside(91, 65) && inside(208, 65) && inside(150, 123));
    }

    #[test]
    fn a_squat_boxs_head_mask_reaches_deeper() {
        // Head and shoulders only (200 × 220): depth max(55, 120) = 120.
        let person = Rect::new(0.0, 0.0, 200.0, 220.0);
        assert_close(head_mask(&person).bounds(), [-20.0, -72.0, 220.0, 120.0]);
        // A box wider than tall never reaches below its bottom.
        let lying = Rect::new(0.0, 0.0, 300.0, 100.0);
        assert_eq!(head_mask(&lying).bounds().y1, 100.0);
    }

    #[test]
    fn masks_follow_the_target() {
        let found = Found {
            faces: vec![Detection { rect: Rect::new(10.0, 10.0, 20.0, 20.0), score: 0.9 }],
            persons: vec![Detection { rect: Rect::new(100.0, 0.0, 200.0, 400.0), score: 0.8 }],
            weak_persons: Vec::new(),
            continuing: Vec::new(),
        };
        assert_eq!(found.masks(Target::Faces).len(), 1);
        let heads = found.masks(Target::Heads);
        assert_eq!(heads.len(), 2);
        assert!(matches!(heads[0], Shape::Ellipse(_)), "faces are ellipses");
        assert!(matches!(heads[1], Shape::Polygon(_)), "heads are rounded boxes");
        assert_eq!(
            found.masks(Target::Persons)[1],
            Shape::Rect(Rect::new(95.0, -20.0, 205.0, 420.0)),
            "the person box with 5% margins"
        );
    }

    #[test]
    fn rounded_boxes_keep_their_bounds() {
        let r = Rect::new(10.0, 20.0, 110.0, 60.0);
        let Shape::Polygon(points) = rounded_box(&r, 0.25) else { panic!("a polygon") };
        assert_eq!(points.len(), 28);
        assert_close(Shape::Polygon(points).bounds(), [10.0, 20.0, 110.0, 60.0]);
        // Share 0: the corners stay square.
        assert_close(rounded_box(&r, 0.0).bounds(), [10.0, 20.0, 110.0, 60.0]);
    }

    #[test]
    fn a_head_mask_reaching_higher_keeps_its_bottom_and_sides() {
        let person = Rect::new(100.0, 100.0, 140.0, 200.0);
        for score in [0.9, 0.3] {
            let (plain, higher) = (
                head_mask_scored(&person, score).bounds(),
                head_mask_reaching(&person, score, 12.0).bounds(),
            );
            assert_close(higher, [plain.x0, plain.y0 - 12.0, plain.x1, plain.y1]);
        }
        assert_eq!(head_mask_reaching(&person, 0.9, -5.0), head_mask_scored(&person, 0.9), "never lower");
    }

    #[test]
    fn a_head_mask_sinking_reaches_deeper_by_at_most_its_margin_above_the_box() {
        // 40 x 100: the head is 25 px deep, the mask starts 15 px above the box.
        let person = Rect::new(100.0, 100.0, 140.0, 200.0);
        for score in [0.9, 0.3] {
            let (plain, sunk) = (
                head_mask_scored(&person, score).bounds(),
                head_mask_placed(&person, score, 0.0, 10.0).bounds(),
            );
            assert_close(sunk, [plain.x0, plain.y0, plain.x1, plain.y1 + 10.0]);
        }
        let plain = head_mask_scored(&person, 0.9).bounds();
        assert_close(
            head_mask_placed(&person, 0.9, 0.0, 500.0).bounds(),
            [plain.x0, plain.y0, plain.x1, 140.0],
        );
        assert_eq!(
            head_mask_placed(&person, 0.9, 0.0, -5.0),
            head_mask_scored(&person, 0.9),
            "never shallower"
        );
        // Reaching up and sinking together.
        let both = head_mask_placed(&person, 0.9, 12.0, 10.0).bounds();
        assert_close(both, [plain.x0, plain.y0 - 12.0, plain.x1, plain.y1 + 10.0]);
        // Never past the box's bottom: a squat box (30 px tall) is masked to its bottom already.
        let squat = Rect::new(100.0, 100.0, 140.0, 130.0);
        assert!((head_mask_placed(&squat, 0.9, 0.0, 10.0).bounds().y1 - 130.0).abs() < 1e-3);
    }

    #[test]
    fn face_masks_are_scaled_ellipses() {
        let face = Detection { rect: Rect::new(10.0, 20.0, 30.0, 60.0), score: 0.9 };
        assert_eq!(face_masks(&[face], 1.5), [Shape::Ellipse(Rect::new(5.0, 10.0, 35.0, 70.0))]);
    }
}
