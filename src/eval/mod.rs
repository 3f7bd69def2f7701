//! The project's own accuracy checks, usable on anyone's footage: how much of each ground-truth
//! face and head the redaction masks cover.

pub mod counts;
pub mod mot;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::detect::{DetectError, FACE_MASK_SCALE, FaceDetector, face_masks};
use crate::geometry::{Rect, Shape};
use crate::redact::raster::covers;
use crate::source::{SourceError, load_still};
use crate::track::TemporalSettings;

/// A ground-truth face counts as covered when at least this share of its box is masked.
pub const COVERED_SHARE: f32 = 0.9;

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: cannot read: {cause}")]
    Read { path: PathBuf, cause: std::io::Error },
    #[error("{}:{line}: not MOTChallenge ground truth: {reason}", path.display())]
    Mot { path: PathBuf, line: usize, reason: String },
    #[error("{path}: not a dlib image-metadata XML file: {reason}")]
    Xml { path: PathBuf, reason: String },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Detect(#[from] DetectError),
}

/// The faces marked in one image of a dlib XML file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageTruth {
    pub file: String,
    pub faces: Vec<Rect>,
}

/// Reads a dlib image-metadata XML file (`<image file=…><box top left width height/>…`).
/// Boxes marked `ignore='1'` are skipped.
pub fn read_dlib_xml(path: &Path) -> Result<Vec<ImageTruth>, EvalError> {
    let bytes = std::fs::read(path).map_err(|cause| EvalError::Read { path: path.to_owned(), cause })?;
    // dlib writes ISO-8859-1; every byte maps to the same code point.
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    let text = text.replacen("encoding='ISO-8859-1'", "encoding='UTF-8'", 1);
    let xml_err = |reason: String| EvalError::Xml { path: path.to_owned(), reason };
    let doc = roxmltree::Document::parse(&text).map_err(|e| xml_err(e.to_string()))?;
    let number = |node: roxmltree::Node, attr: &str| -> Result<f32, EvalError> {
        node.attribute(attr)
            .and_then(|v| v.parse::<f32>().ok())
            .ok_or_else(|| xml_err(format!("a <box> has no numeric `{attr}`")))
    };
    let mut images = Vec::new();
    for image in doc.descendants().filter(|n| n.has_tag_name("image")) {
        let file = image.attribute("file").ok_or_else(|| xml_err("an <image> has no `file`".into()))?;
        let mut faces = Vec::new();
        for b in image.children().filter(|n| n.has_tag_name("box") && n.attribute("ignore") != Some("1")) {
            let (top, left) = (number(b, "top")?, number(b, "left")?);
            faces.push(Rect::new(left, top, left + number(b, "width")?, top + number(b, "height")?));
        }
        images.push(ImageTruth { file: file.to_owned(), faces });
    }
    Ok(images)
}

/// The share of the pixels of `truth` (clipped to the frame) inside at least one of `masks`.
pub fn box_coverage(masks: &[Shape], truth: &Rect, width: usize, height: usize) -> f32 {
    let count = pixel_coverage(masks, truth, &[], width, height);
    count.masked as f32 / count.in_frame.max(1) as f32
}

/// How the pixels of a region fall ([`pixel_coverage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelCount {
    /// Pixels in sight that lie inside a mask.
    pub masked: usize,
    /// Pixels in the frame outside every hidden rectangle.
    pub in_sight: usize,
    /// Pixels in the frame.
    pub in_frame: usize,
}

/// Counts the pixels of `truth` clipped to the frame, those of them that lie outside every
/// rectangle of `hidden`, and of those the ones inside at least one of `masks`.
pub fn pixel_coverage(
    masks: &[Shape],
    truth: &Rect,
    hidden: &[Rect],
    width: usize,
    height: usize,
) -> PixelCount {
    let x0 = truth.x0.max(0.0).floor() as usize;
    let y0 = truth.y0.max(0.0).floor() as usize;
    let x1 = (truth.x1.ceil().max(0.0) as usize).min(width);
    let y1 = (truth.y1.ceil().max(0.0) as usize).min(height);
    let hidden: Vec<Shape> = hidden.iter().map(|&r| Shape::Rect(r)).collect();
    let in_frame = x1.saturating_sub(x0) * y1.saturating_sub(y0);
    let mut count = PixelCount { masked: 0, in_sight: 0, in_frame };
    for (x, y) in (y0..y1).flat_map(|y| (x0..x1).map(move |x| (x, y))) {
        if hidden.iter().any(|h| covers(h, x, y)) {
            continue;
        }
        count.in_sight += 1;
        count.masked += usize::from(masks.iter().any(|m| covers(m, x, y)));
    }
    count
}

/// How well one image's faces are covered.
#[derive(Debug, Clone, Serialize)]
pub struct ImageFaces {
    pub image: String,
    pub faces: usize,
    pub covered: usize,
    /// Share of each face's box that is masked, in the file's order.
    pub coverage: Vec<f32>,
    pub detections: usize,
}

/// The result of `obscura eval faces`.
#[derive(Debug, Clone, Serialize)]
pub struct FaceReport {
    pub images: Vec<ImageFaces>,
    pub faces: usize,
    pub covered: usize,
    /// covered / faces.
    pub recall: f32,
    pub covered_share: f32,
}

/// Runs the face detector over every image of `truth` (found in `images`) and measures how much
/// of each marked face the resulting masks cover.
pub fn faces(
    truth: &[ImageTruth],
    images: &Path,
    detector: &mut FaceDetector,
) -> Result<FaceReport, EvalError> {
    let mut rows = Vec::new();
    for image in truth {
        let frame = load_still(&images.join(&image.file))?;
        let found = detector.detect(&frame)?;
        let masks = face_masks(&found, FACE_MASK_SCALE);
        let (w, h) = frame.size();
        let coverage: Vec<f32> =
            image.faces.iter().map(|f| box_coverage(&masks, f, w as usize, h as usize)).collect();
        let covered = coverage.iter().filter(|&&c| c >= COVERED_SHARE).count();
        rows.push(ImageFaces {
            image: image.file.clone(),
            faces: image.faces.len(),
            covered,
            coverage,
            detections: found.len(),
        });
    }
    let faces = rows.iter().map(|r| r.faces).sum();
    let covered = rows.iter().map(|r| r.covered).sum();
    let recall = if faces == 0 { 1.0 } else { covered as f32 / faces as f32 };
    Ok(FaceReport { images: rows, faces, covered, recall, covered_share: COVERED_SHARE })
}

impl std::fmt::Display for FaceReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<28} {:>6} {:>8} {:>11} {:>13}",
            "image", "faces", "covered", "detections", "min coverage"
        )?;
        for row in &self.images {
            let min = row.coverage.iter().copied().fold(f32::INFINITY, f32::min);
            let min = if min.is_finite() { format!("{:.0}%", 100.0 * min) } else { "-".into() };
            writeln!(
                f,
                "{:<28} {:>6} {:>8} {:>11} {:>13}",
                row.image, row.faces, row.covered, row.detections, min
            )?;
        }
        write!(
            f,
            "faces covered (≥ {:.0}% of the face box masked): {}/{} = {:.1}%",
            100.0 * self.covered_share,
            self.covered,
            self.faces,
            100.0 * self.recall
        )
    }
}

/// What of a run's temporal settings names its replay records (`--detection-cache`): what
/// decides which frames the detectors see (look-ahead, staleness, what fails closed, which counts
/// follow the frame rate), not how the trackers follow people. The trackers never change what the
/// detectors find on a frame, and every pass's record is keyed by its frame and all earlier
/// passes' frames, so a tracker setting changed between recording and replay replays the same
/// detections: tuning a tracker is what replays are for.
pub fn replay_seed(temporal: &TemporalSettings) -> String {
    let TemporalSettings { lookahead, max_staleness, on_fail, tracker: _, follow_rate } = temporal;
    format!(
        "lookahead {lookahead} max_staleness {max_staleness} on_fail {on_fail:?} follow_rate {follow_rate:?}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_is_named_by_when_detection_runs_not_by_the_trackers() {
        let shipped = TemporalSettings::default();
        let mut tracker = shipped.clone();
        tracker.tracker.high = 0.6;
        tracker.tracker.max_lost = 40;
        assert_eq!(replay_seed(&tracker), replay_seed(&shipped));
        let mut staleness = shipped.clone();
        staleness.max_staleness += 1;
        assert_ne!(replay_seed(&staleness), replay_seed(&shipped));
        let mut lookahead = shipped.clone();
        lookahead.lookahead += 1;
        assert_ne!(replay_seed(&lookahead), replay_seed(&shipped));
    }

    #[test]
    fn coverage_counts_masked_pixels_of_the_box() {
        let truth = Rect::new(0.0, 0.0, 10.0, 10.0);
        let half = [Shape::Rect(Rect::new(0.0, 0.0, 5.0, 10.0))];
        assert_eq!(box_coverage(&half, &truth, 100, 100), 0.5);
        assert_eq!(box_coverage(&[], &truth, 100, 100), 0.0);
        let all = [Shape::Rect(Rect::new(-5.0, -5.0, 50.0, 50.0))];
        assert_eq!(box_coverage(&all, &truth, 100, 100), 1.0);
        // Clipped to the frame: the part outside is not counted.
        let right = [Shape::Rect(Rect::new(90.0, 0.0, 200.0, 10.0))];
        assert_eq!(box_coverage(&right, &Rect::new(95.0, 0.0, 105.0, 10.0), 100, 100), 1.0);
    }

    #[test]
    fn reads_dlib_xml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.xml");
        std::fs::write(
            &path,
            "<?xml version='1.0' encoding='ISO-8859-1'?>\n<dataset><images>\
             <image file='a.jpg'><box top='10' left='20' width='30' height='40'/>\
             <box top='1' left='2' width='3' height='4' ignore='1'/></image>\
             <image file='b.jpg'></image></images></dataset>",
        )
        .unwrap();
        let truth = read_dlib_xml(&path).unwrap();
        assert_eq!(
            truth,
            [
                ImageTruth { file: "a.jpg".into(), faces: vec![Rect::new(20.0, 10.0, 50.0, 50.0)] },
                ImageTruth { file: "b.jpg".into(), faces: vec![] },
            ]
        );
        std::fs::write(&path, "<dataset><images><image><box/></image></images></dataset>").unwrap();
        assert!(read_dlib_xml(&path).unwrap_err().to_string().contains("has no `file`"));
    }
}
