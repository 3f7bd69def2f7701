//! Detection: CNN detectors on ONNX Runtime (CPU), fed straight from the decoder's planes, and
//! the masks their detections become.

pub mod centerface;
pub mod face;
pub mod nms;
pub mod onnx_graph;
pub mod person;
pub mod preprocess;
pub mod runtime;
pub mod tiling;

use std::path::PathBuf;

pub use face::{FaceDetector, FaceSettings};
pub use nms::Detection;
pub use person::{PersonDetector, PersonSettings};
pub use runtime::{ExecutionProvider, Threads, models_dir};
pub use tiling::Tiling;

use crate::frame::Frame;
use crate::geometry::{Rect, Shape};
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

/// The regions to redact for the faces found in a frame.
pub fn face_regions(faces: &[Detection]) -> FrameRegions {
    FrameRegions::Detected(face_masks(faces, FACE_MASK_SCALE).into())
}

/// How far the head mask of a person box reaches: the ellipse inscribed in a box this share of
/// the person box's width (centred) and from [`HEAD_ABOVE`] above the box's top down to
/// [`head_depth`] below it.
pub const HEAD_WIDTH: f32 = 0.8;
/// How far above the person box's top the head mask starts, as a share of the head depth (boxes
/// often cut the top of the head).
pub const HEAD_ABOVE: f32 = 0.2;
/// How far person masks reach beyond the person box on each side, as a share of its size.
pub const PERSON_MARGIN: f32 = 0.05;

/// How deep below the top of a person box its head reaches: a quarter of the box's height for a
/// whole standing person, more when the box is squat (cut by the frame's edge, sitting, close to
/// the camera), where the head is a larger share of the box: 0.6 of its width, at most its height.
pub fn head_depth(person: &Rect) -> f32 {
    (0.25 * person.height()).max(0.6 * person.width()).min(person.height())
}

/// The head mask of a person box: an ellipse over the top of the box, with margins.
pub fn head_mask(person: &Rect) -> Shape {
    let depth = head_depth(person);
    let cx = (person.x0 + person.x1) / 2.0;
    let half = HEAD_WIDTH * person.width() / 2.0;
    Shape::Ellipse(Rect::new(cx - half, person.y0 - HEAD_ABOVE * depth, cx + half, person.y0 + depth))
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

/// What one detection pass found in a frame, in frame pixels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    pub faces: Vec<Detection>,
    /// Empty when the target needs no person detector.
    pub persons: Vec<Detection>,
}

impl Found {
    /// The masks that hide `target` given these detections. Faces are masked for every target
    /// (a face found is hidden even when its person was missed).
    pub fn masks(&self, target: Target) -> Vec<Shape> {
        let mut masks = face_masks(&self.faces, FACE_MASK_SCALE);
        match target {
            Target::Heads => masks.extend(self.persons.iter().map(|p| head_mask(&p.rect))),
            Target::Persons => masks.extend(self.persons.iter().map(|p| person_mask(&p.rect))),
            Target::Faces | Target::Frame | Target::None => {}
        }
        masks
    }

    /// The regions to redact for `target`.
    pub fn regions(&self, target: Target) -> FrameRegions {
        FrameRegions::Detected(self.masks(target).into())
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
        let faces = FaceDetector::load(models, settings.faces)?;
        let persons = match target {
            Target::Heads | Target::Persons => Some(PersonDetector::load(models, settings.persons)?),
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
        let persons = match self.persons.as_mut() {
            Some(detector) => detector.detect(frame)?,
            None => Vec::new(),
        };
        Ok(Found { faces, persons })
    }

    /// The regions to redact in `frame` for this detector's target.
    pub fn regions(&mut self, frame: &Frame) -> Result<FrameRegions, DetectError> {
        Ok(self.detect(frame)?.regions(self.target))
    }
}

fn scale_about_centre(r: &Rect, scale: f32) -> Rect {
    let (cx, cy) = ((r.x0 + r.x1) / 2.0, (r.y0 + r.y1) / 2.0);
    let (hw, hh) = (r.width() * scale / 2.0, r.height() * scale / 2.0);
    Rect::new(cx - hw, cy - hh, cx + hw, cy + hh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standing_persons_head_mask_covers_the_top_of_the_box() {
        // 100 × 300 box: head depth max(75, 60) = 75; ellipse 80 wide, from 15 above the top.
        let person = Rect::new(100.0, 50.0, 200.0, 350.0);
        assert_eq!(head_mask(&person), Shape::Ellipse(Rect::new(110.0, 35.0, 190.0, 125.0)));
    }

    #[test]
    fn a_squat_boxs_head_mask_reaches_deeper() {
        // Head and shoulders only (200 × 220): depth max(55, 120) = 120.
        let person = Rect::new(0.0, 0.0, 200.0, 220.0);
        let Shape::Ellipse(r) = head_mask(&person) else { panic!("an ellipse") };
        for (got, want) in [r.x0, r.y0, r.x1, r.y1].into_iter().zip([20.0, -24.0, 180.0, 120.0]) {
            assert!((got - want).abs() < 1e-3, "{r:?}");
        }
        // A box wider than tall never reaches below its bottom.
        let lying = Rect::new(0.0, 0.0, 300.0, 100.0);
        assert_eq!(head_mask(&lying).bounds().y1, 100.0);
    }

    #[test]
    fn masks_follow_the_target() {
        let found = Found {
            faces: vec![Detection { rect: Rect::new(10.0, 10.0, 20.0, 20.0), score: 0.9 }],
            persons: vec![Detection { rect: Rect::new(100.0, 0.0, 200.0, 400.0), score: 0.8 }],
        };
        assert_eq!(found.masks(Target::Faces).len(), 1);
        let heads = found.masks(Target::Heads);
        assert_eq!(heads.len(), 2);
        assert!(matches!(heads[1], Shape::Ellipse(_)));
        assert_eq!(
            found.masks(Target::Persons)[1],
            Shape::Rect(Rect::new(95.0, -20.0, 205.0, 420.0)),
            "the person box with 5% margins"
        );
    }

    #[test]
    fn face_masks_are_scaled_ellipses() {
        let face = Detection { rect: Rect::new(10.0, 20.0, 30.0, 60.0), score: 0.9 };
        assert_eq!(face_masks(&[face], 1.5), [Shape::Ellipse(Rect::new(5.0, 10.0, 35.0, 70.0))]);
    }
}
