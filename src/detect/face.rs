//! The face detector: CenterFace on ONNX Runtime, at the input size faces need.

use std::path::{Path, PathBuf};

use ort::value::TensorRef;

use super::centerface::{self, Heads};
use super::face_scale::{FaceScale, FaceScaleUse};
use super::nms::nms;
use super::preprocess::{Crop, InputLayout, fill_input};
use super::runtime::{ExecutionProvider, Threads, init_runtime, read_model, session};
use super::shared::SharedSession;
use super::tiling::{Tiling, tiles};
use super::unchanged::{TileMemory, patch_means_of};
use super::{DetectError, Detection, onnx_graph};
use crate::frame::Frame;
use crate::geometry::Rect;

/// The face model's file in the models folder.
pub const CENTERFACE_FILE: &str = "centerface.onnx";

/// Settings of the face detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceSettings {
    /// The long side, in pixels, the frame is scaled down to for detection (never up). Default
    /// 640: a 1080p frame is seen at 1/3 scale, finding faces from ~30 px (smaller people are
    /// covered by the person detector's head regions); raise it for small faces at more CPU cost.
    pub input_long_side: u32,
    /// Minimum heatmap score of a face. Default 0.2 (deface's default): a missed face costs more
    /// than a blurred background patch.
    pub threshold: f32,
    /// Tiles for small faces in large frames: each tile is seen at `input_long_side`, beside one
    /// pass over the whole frame. Default 1×1 (the whole frame only); `Grid { cols: 2, rows: 2 }`
    /// finds faces half the size at about 5× the CPU.
    pub tiling: Tiling,
    pub threads: Threads,
    pub provider: ExecutionProvider,
    /// The most the frame is scaled up to reach `input_long_side`. Default 1 (never up); the
    /// residual audit uses 2, so it really sees frames at twice detection's configured resolution,
    /// small frames included.
    pub max_scale: f32,
    /// A crop whose network input has not changed since its latest inference (within the last
    /// second of stream time) gets that inference's faces again (unchanged.rs). Default true;
    /// the residual audit never reuses.
    pub reuse_unchanged: bool,
    /// Choose the input size per camera from the sizes of the faces found (`face_scale.rs`):
    /// `input_long_side` is then the smallest. Default true, used only where faces are the only
    /// masks (`target = "faces"`) and `tiling` is the whole frame
    /// ([`super::DetectorSettings::faces_adapt`]); false when `face_input` is written in the
    /// config or given on the command line, and for the residual audit.
    pub adaptive: bool,
}

impl Default for FaceSettings {
    fn default() -> Self {
        Self {
            input_long_side: 640,
            threshold: 0.2,
            tiling: Tiling::Grid { cols: 1, rows: 1 },
            threads: Threads::default(),
            provider: ExecutionProvider::Cpu,
            max_scale: 1.0,
            reuse_unchanged: true,
            adaptive: true,
        }
    }
}

/// CenterFace, loaded and ready.
#[derive(Debug)]
pub struct FaceDetector {
    path: PathBuf,
    session: SharedSession,
    settings: FaceSettings,
    input: Vec<f32>,
    faces: Vec<Detection>,
    /// Each crop's latest inference (its faces in frame pixels), for crops whose input has not
    /// changed since.
    memory: TileMemory<Detection>,
    patches: Vec<f32>,
    /// One crop's faces in frame pixels (a reused buffer).
    tile_found: Vec<Detection>,
    /// Inferences left out because their input had not changed (their detections reused).
    reused: u64,
    /// The input size's controller, when it adapts (`settings.adaptive`).
    scale: Option<FaceScale>,
}

impl FaceDetector {
    /// The model session this detector shares with other detectors of the same model.
    pub fn shared_session(&self) -> &SharedSession {
        &self.session
    }

    /// Loads `centerface.onnx` from `models` (with the ONNX Runtime library beside it), editing
    /// the graph for any input size.
    pub fn load(models: &Path, settings: FaceSettings) -> Result<Self, DetectError> {
        let env = init_runtime(models)?;
        let path = models.join(CENTERFACE_FILE);
        let session = SharedSession::get_or_load(
            &path,
            "dynamic input size",
            settings.threads,
            settings.provider,
            || {
                let bytes = read_model(&path)?;
                let model = onnx_graph::make_dynamic(&bytes, &centerface::dynamic_dims())
                    .map_err(|e| DetectError::Invalid { path: path.clone(), reason: e.to_string() })?;
                session(env, &path, &model, settings.threads, settings.provider)
            },
        )?;
        Ok(Self {
            path,
            session,
            settings,
            input: Vec::new(),
            faces: Vec::new(),
            memory: TileMemory::default(),
            patches: Vec::new(),
            tile_found: Vec::new(),
            reused: 0,
            scale: settings.adaptive.then(|| FaceScale::new(settings.input_long_side)),
        })
    }

    /// Inferences left out so far because their input had not changed since the crop's latest
    /// one, whose faces were used again (unchanged.rs).
    pub fn reused(&self) -> u64 {
        self.reused
    }

    /// How the input size was chosen so far, when it adapts.
    pub fn scale_use(&self) -> Option<FaceScaleUse> {
        self.scale.as_ref().map(FaceScale::used)
    }

    /// The network input layout for `crop` of the frame, its long side scaled to `input_long_side`.
    fn layout(&self, crop: Crop, input_long_side: u32) -> InputLayout {
        let long = crop.w.max(crop.h).max(1);
        let scale = (input_long_side as f32 / long as f32).min(self.settings.max_scale.max(0.01));
        let content_w = ((crop.w as f32 * scale).round() as u32).max(1);
        let content_h = ((crop.h as f32 * scale).round() as u32).max(1);
        let (net_w, net_h) = centerface::input_size(content_w, content_h);
        InputLayout { net_w, net_h, content_w, content_h, crop: Some(crop) }
    }

    /// Every face in `frame`, as boxes in frame pixels, highest score first.
    pub fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, DetectError> {
        let (width, height) = frame.size();
        // A crop whose input has not changed since its latest inference (within the last second
        // of stream time) takes that inference's faces again; frames without a timestamp never.
        let time_ms = frame.meta().pts.map(|pts| pts.mseconds()).filter(|_| self.settings.reuse_unchanged);
        self.memory.begin((width, height), time_ms);
        let long = width.max(height);
        // A still (no timestamp) is a picture of its own: always seen at the highest level.
        let still = frame.meta().pts.is_none();
        let plan = self.scale.as_mut().map(|scale| scale.plan(long, still));
        let input_long_side = plan.map_or(self.settings.input_long_side, |p| p.input_long_side);
        let mut found = Vec::new();
        for crop in tiles(width, height, self.settings.tiling) {
            let layout = self.layout(crop, input_long_side);
            fill_input(frame, &layout, &mut self.input)?;
            if time_ms.is_some() {
                let (w, h) = (layout.net_w as usize, layout.net_h as usize);
                patch_means_of(&self.input, w, h, &mut self.patches);
                if let Some(faces) = self.memory.recall(crop, &self.patches) {
                    found.extend_from_slice(faces);
                    self.reused += 1;
                    continue;
                }
            }
            self.infer(&layout)?;
            let (w, h) = (width as f32, height as f32);
            self.tile_found.clear();
            self.tile_found.extend(self.faces.iter().map(|d| {
                let (x0, y0) = layout.to_frame(width, height, d.rect.x0, d.rect.y0);
                let (x1, y1) = layout.to_frame(width, height, d.rect.x1, d.rect.y1);
                Detection { rect: Rect::new(x0.min(w), y0.min(h), x1.min(w), y1.min(h)), score: d.score }
            }));
            found.extend_from_slice(&self.tile_found);
            self.memory.remember(crop, &self.patches, &self.tile_found);
        }
        if found.len() > 1 {
            nms(&mut found, centerface::NMS_IOU);
        }
        if let (Some(scale), Some(plan)) = (self.scale.as_mut(), plan) {
            scale.observe(plan, long, &found);
        }
        Ok(found)
    }

    /// The faces still found in a redacted frame (the residual audit).
    pub fn audit(&mut self, frame: &crate::redact::RedactedFrame) -> Result<Vec<Detection>, DetectError> {
        self.detect(frame.as_frame())
    }

    /// Runs the network on the input in `self.input` (laid out as `layout`); the faces go to
    /// `self.faces`, in input pixels.
    fn infer(&mut self, layout: &InputLayout) -> Result<(), DetectError> {
        let failed = |e: &dyn std::fmt::Display| DetectError::Inference {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let shape = [1usize, 3, layout.net_h as usize, layout.net_w as usize];
        let tensor = TensorRef::from_array_view((shape, self.input.as_slice())).map_err(|e| failed(&e))?;
        let (path, threshold, faces) = (&self.path, self.settings.threshold, &mut self.faces);
        self.session.with(|session| {
            let outputs = session.run(ort::inputs![tensor]).map_err(|e| failed(&e))?;
            let head = |i: usize| {
                outputs[i].try_extract_tensor::<f32>().map(|(_, data)| data).map_err(|e| failed(&e))
            };
            let (out_w, out_h) = (layout.net_w as usize / 4, layout.net_h as usize / 4);
            let (heatmap, scale, offset) = (head(0)?, head(1)?, head(2)?);
            for (name, values) in [("heatmap", heatmap), ("scale", scale), ("offset", offset)] {
                super::check_finite(path, name, values)?;
            }
            let heads = Heads::new(heatmap, scale, offset, out_w, out_h).map_err(|e| failed(&e))?;
            centerface::decode_into(&heads, layout.net_w, layout.net_h, threshold, faces);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_sees_small_frames_at_twice_detections_scale() {
        let models = crate::detect::models_dir();
        if !models.join(CENTERFACE_FILE).exists() {
            crate::skip_test("models/ is missing (scripts/setup fetches it)");
            return;
        }
        let crop = Crop { x: 0, y: 0, w: 640, h: 360 };
        // Detection at the default input sees a 640×360 frame at its own size…
        let detection = FaceDetector::load(&models, FaceSettings::default()).unwrap();
        let at = |d: &FaceDetector, crop| d.layout(crop, d.settings.input_long_side);
        assert_eq!((at(&detection, crop).content_w, at(&detection, crop).content_h), (640, 360));
        // …and the audit, asked for twice that, really sees it at twice the size.
        let audit = FaceSettings { input_long_side: 1280, max_scale: 2.0, ..FaceSettings::default() };
        let audit = FaceDetector::load(&models, audit).unwrap();
        assert_eq!((at(&audit, crop).content_w, at(&audit, crop).content_h), (1280, 720));
        // A 1080p frame: detection at 1/3, the audit at 2/3.
        let big = Crop { x: 0, y: 0, w: 1920, h: 1080 };
        assert_eq!(at(&detection, big).content_w, 640);
        assert_eq!(at(&audit, big).content_w, 1280);
    }
}
