//! Detection: CNN detectors on ONNX Runtime (CPU), fed straight from the decoder's planes, and
//! the masks their detections become.

pub mod centerface;
pub mod face;
pub mod nms;
pub mod onnx_graph;
pub mod preprocess;
pub mod runtime;

use std::path::PathBuf;

pub use face::{FaceDetector, FaceSettings};
pub use nms::Detection;
pub use runtime::{Threads, models_dir};

use crate::geometry::{Rect, Shape};
use crate::redact::FrameRegions;

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

fn scale_about_centre(r: &Rect, scale: f32) -> Rect {
    let (cx, cy) = ((r.x0 + r.x1) / 2.0, (r.y0 + r.y1) / 2.0);
    let (hw, hh) = (r.width() * scale / 2.0, r.height() * scale / 2.0);
    Rect::new(cx - hw, cy - hh, cx + hw, cy + hh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_masks_are_scaled_ellipses() {
        let face = Detection { rect: Rect::new(10.0, 20.0, 30.0, 60.0), score: 0.9 };
        assert_eq!(face_masks(&[face], 1.5), [Shape::Ellipse(Rect::new(5.0, 10.0, 35.0, 70.0))]);
    }
}
