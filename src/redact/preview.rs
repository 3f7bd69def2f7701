//! Previews of redacted frames for the HTTP API's snapshot: a [`Preview`] is made from a
//! [`RedactedFrame`] only, so no unredacted pixel can become a JPEG.
//!
//! A raw frame has no preview:
//! ```compile_fail
//! fn snapshot(frame: &obscura::frame::Frame) {
//!     let _ = frame.preview(720);
//! }
//! ```
//! and a preview cannot be built from pixels by hand:
//! ```compile_fail
//! let _ = obscura::redact::preview::Preview { width: 2, height: 2, rgb: vec![0; 12], jpegs: Default::default() };
//! ```

use std::sync::Mutex;

use super::RedactedFrame;
use crate::detect::preprocess::{InputLayout, fill_input_into};

/// The tallest preview kept, pixels: enough for a dashboard, a fraction of a 1080p frame.
pub const PREVIEW_MAX_HEIGHT: u32 = 720;
/// JPEG quality of snapshots.
const JPEG_QUALITY: u8 = 80;

/// A redacted frame scaled down to at most [`PREVIEW_MAX_HEIGHT`], RGB, with the JPEGs made of it
/// (one per height asked for).
#[derive(Debug)]
pub struct Preview {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    jpegs: Mutex<Vec<(u32, std::sync::Arc<Vec<u8>>)>>,
}

impl RedactedFrame {
    /// This redacted frame scaled down (box average, never up) to at most `max_height` pixels
    /// high, as a preview for snapshots.
    pub fn preview(&self, max_height: u32) -> Result<Preview, String> {
        let (w, h) = self.size();
        if w == 0 || h == 0 {
            return Err("an empty frame".to_owned());
        }
        let height = h.min(max_height.max(2));
        let width = ((u64::from(w) * u64::from(height) / u64::from(h)) as u32).max(2);
        let layout =
            InputLayout { net_w: width, net_h: height, content_w: width, content_h: height, crop: None };
        let plane = (width * height) as usize;
        let mut planar = vec![0.0f32; 3 * plane];
        fill_input_into(self.as_frame(), &layout, &mut planar).map_err(|e| e.to_string())?;
        let mut rgb = Vec::with_capacity(3 * plane);
        for i in 0..plane {
            for c in 0..3 {
                rgb.push(planar[c * plane + i].round().clamp(0.0, 255.0) as u8);
            }
        }
        Ok(Preview { width, height, rgb, jpegs: Mutex::new(Vec::new()) })
    }
}

impl Preview {
    /// Width and height, pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The preview as a JPEG `height` pixels high (at most the preview's own), keeping the aspect
    /// ratio; made once per height and kept with the preview.
    pub fn jpeg(&self, height: u32) -> Result<std::sync::Arc<Vec<u8>>, String> {
        let height = height.clamp(2, self.height);
        let mut cache = self.jpegs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, bytes)) = cache.iter().find(|(h, _)| *h == height) {
            return Ok(bytes.clone());
        }
        let image = image::RgbImage::from_raw(self.width, self.height, self.rgb.clone())
            .ok_or("preview buffer size mismatch")?;
        let width = ((u64::from(self.width) * u64::from(height) / u64::from(self.height)) as u32).max(2);
        let image = if height == self.height {
            image
        } else {
            image::imageops::resize(&image, width, height, image::imageops::FilterType::Triangle)
        };
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
            .encode_image(&image)
            .map_err(|e| e.to_string())?;
        let bytes = std::sync::Arc::new(bytes);
        // A few heights at most: a dashboard asks for one or two.
        if cache.len() >= 4 {
            cache.remove(0);
        }
        cache.push((height, bytes.clone()));
        Ok(bytes)
    }
}
