//! Decoded frames: `Frame` (raw pixels, private to the pipeline) and the geometry they carry.
//!
//! A `Frame` never leaves the process: the only way from a `Frame` to an encoder, a file or any
//! other sink is [`crate::redact::Redaction::apply`], which returns a
//! [`RedactedFrame`](crate::redact::RedactedFrame).

use gstreamer as gst;
use gstreamer_video as gst_video;

pub use crate::geometry::{Point, Rect, Shape};
pub use crate::redact::RedactedFrame;

/// Where a frame sits in its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMeta {
    /// 0-based position in the stream, counting every decoded frame.
    pub index: u64,
    /// Presentation timestamp as the decoder gave it.
    pub pts: Option<gst::ClockTime>,
    /// Display duration as the decoder gave it.
    pub duration: Option<gst::ClockTime>,
}

/// Raw, unredacted pixels. Deliberately has no public accessor to its pixels.
#[derive(Debug)]
pub struct Frame {
    pub(crate) pixels: Pixels,
    pub(crate) meta: FrameMeta,
}

/// The storage of a frame's pixels: the decoder's own buffer, or a still image.
#[derive(Debug)]
pub(crate) enum Pixels {
    /// A decoder buffer in I420 or NV12, with its (stride-aware) layout.
    Video { buffer: gst::Buffer, info: gst_video::VideoInfo },
    /// A still image in 8-bit RGB or RGBA.
    Still(StillImage),
}

/// A decoded still image, rows packed without padding.
#[derive(Debug, Clone)]
pub(crate) struct StillImage {
    pub width: u32,
    pub height: u32,
    /// 3 (RGB) or 4 (RGBA).
    pub channels: u8,
    pub data: Vec<u8>,
}

impl Frame {
    pub(crate) fn from_video(buffer: gst::Buffer, info: gst_video::VideoInfo, index: u64) -> Self {
        let meta = FrameMeta { index, pts: buffer.pts(), duration: buffer.duration() };
        Self { pixels: Pixels::Video { buffer, info }, meta }
    }

    pub(crate) fn from_still(image: StillImage) -> Self {
        Self { pixels: Pixels::Still(image), meta: FrameMeta { index: 0, pts: None, duration: None } }
    }

    /// Where the frame sits in its stream.
    pub fn meta(&self) -> FrameMeta {
        self.meta
    }

    /// Width and height in (luma) pixels.
    pub fn size(&self) -> (u32, u32) {
        self.pixels.size()
    }

    /// The stream's frame rate, frames per second, when its caps declare one (not a still, not a
    /// variable-rate stream's `0/1`).
    pub fn fps(&self) -> Option<f64> {
        match &self.pixels {
            Pixels::Video { info, .. } => {
                let fps = info.fps();
                (fps.numer() > 0 && fps.denom() > 0).then(|| f64::from(fps.numer()) / f64::from(fps.denom()))
            }
            Pixels::Still(_) => None,
        }
    }

    /// Feeds the frame's size and every byte of its pixels to `hasher` (a replay's key:
    /// [`crate::detect::cache`]); the pixels themselves stay here. `false` when the buffer cannot
    /// be read (then nothing is fed).
    pub(crate) fn hash_pixels(&self, hasher: &mut impl std::hash::Hasher) -> bool {
        use std::hash::Hash;
        match &self.pixels {
            Pixels::Video { buffer, .. } => {
                let Ok(map) = buffer.map_readable() else { return false };
                self.size().hash(hasher);
                map.as_slice().hash(hasher);
            }
            Pixels::Still(image) => (self.size(), image.channels, &image.data).hash(hasher),
        }
        true
    }

    #[cfg(test)]
    pub(crate) fn first_byte(&self) -> u8 {
        match &self.pixels {
            Pixels::Video { buffer, .. } => buffer.map_readable().map_or(0, |m| m.as_slice()[0]),
            Pixels::Still(image) => image.data[0],
        }
    }
}

impl Pixels {
    pub(crate) fn size(&self) -> (u32, u32) {
        match self {
            Pixels::Video { info, .. } => (info.width(), info.height()),
            Pixels::Still(img) => (img.width, img.height),
        }
    }
}
