//! The redact stage: turns a raw [`Frame`] into a [`RedactedFrame`], the only kind of frame any
//! encoder, file or other sink accepts.
//!
//! `RedactedFrame` has a private field and its only constructor is [`Redaction::apply`], so a raw
//! frame cannot reach a sink by any path the compiler accepts:
//!
//! ```compile_fail,E0308
//! use obscura::frame::Frame;
//! use obscura::sink::Mp4Writer;
//! fn leak(writer: &mut Mp4Writer, raw: Frame) {
//!     writer.write(raw).unwrap(); // expected `RedactedFrame`, found `Frame`
//! }
//! ```
//!
//! ```compile_fail,E0451
//! use obscura::frame::Frame;
//! use obscura::redact::RedactedFrame;
//! fn forge(raw: Frame) -> RedactedFrame {
//!     RedactedFrame { frame: raw } // the field is private to `redact`
//! }
//! ```
//!
//! Still images go the same way: `source::save_still` takes a `RedactedFrame` too.
//!
//! ```compile_fail,E0308
//! fn leak(raw: obscura::frame::Frame) {
//!     obscura::source::save_still(raw, std::path::Path::new("x.png")).unwrap();
//! }
//! ```
//!
//! The sanctioned path compiles; the snippets above differ from it only in the step they skip, so
//! they fail for that reason alone (stable rustdoc does not check the error codes they name):
//!
//! ```
//! use obscura::frame::Frame;
//! use obscura::redact::{FrameRegions, Redaction};
//! use obscura::sink::Mp4Writer;
//! fn write(writer: &mut Mp4Writer, redaction: &mut Redaction, raw: Frame) -> anyhow::Result<()> {
//!     writer.write(redaction.apply(raw, &FrameRegions::None)?)?;
//!     Ok(())
//! }
//! fn save(redaction: &mut Redaction, raw: Frame) -> anyhow::Result<()> {
//!     obscura::source::save_still(redaction.apply(raw, &FrameRegions::None)?, std::path::Path::new("x.png"))?;
//!     Ok(())
//! }
//! ```

pub mod blur;
pub mod color;
pub mod engine;
pub mod kernels;
pub mod planes;
pub mod policy;
pub mod pool;
pub mod preview;
pub mod raster;
pub mod simd;

use std::sync::Arc;

use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

pub use color::Rgb;
pub use engine::Redactor;
pub use planes::{PlaneMut, Style};
pub use policy::{Method, Target};

use crate::frame::{Frame, FrameMeta, Pixels, StillImage};
use crate::geometry::{Point, Rect, Shape};
use color::{Matrix, Range};

/// A frame whose pixels have been through redaction. Constructed only by [`Redaction::apply`].
#[derive(Debug)]
pub struct RedactedFrame {
    frame: Frame,
}

impl RedactedFrame {
    /// Where the frame sits in its stream.
    pub fn meta(&self) -> FrameMeta {
        self.frame.meta
    }

    /// Width and height in (luma) pixels.
    pub fn size(&self) -> (u32, u32) {
        self.frame.pixels.size()
    }

    /// The redacted pixels as a frame, for reading only (the residual audit looks for faces in
    /// what is about to leave).
    pub(crate) fn as_frame(&self) -> &Frame {
        &self.frame
    }

    pub(crate) fn into_pixels(self) -> Pixels {
        self.frame.pixels
    }

    /// A copy of the redacted frame in memory of its own, so that it can be held (an event
    /// clip's pre-roll) without keeping the decoder's buffer from its pool. Only a redacted frame
    /// can be copied into another redacted frame.
    pub fn to_owned_copy(&self) -> Result<RedactedFrame, RedactError> {
        let pixels = match &self.frame.pixels {
            Pixels::Video { buffer, info } => {
                let copy = buffer.copy_deep().map_err(|e| RedactError::Map(e.to_string()))?;
                Pixels::Video { buffer: copy, info: info.clone() }
            }
            Pixels::Still(image) => Pixels::Still(image.clone()),
        };
        Ok(RedactedFrame { frame: Frame { pixels, meta: self.frame.meta } })
    }

    /// Bytes the frame's pixels take.
    pub fn byte_size(&self) -> usize {
        match &self.frame.pixels {
            Pixels::Video { buffer, .. } => buffer.size(),
            Pixels::Still(image) => image.data.len(),
        }
    }
}

/// What detection found in one frame, redacted on top of the fixed masks.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum FrameRegions {
    /// No detection runs for this target.
    #[default]
    None,
    /// The regions to redact (detections turned into masks), in frame pixels.
    Detected(Arc<[Shape]>),
    /// Detection failed for this frame: fail closed, the whole frame is redacted.
    FailClosed,
}

/// Why a frame could not be redacted. The frame is then dropped: never passed on unredacted.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("cannot map the decoded frame for writing: {0}")]
    Map(String),
    #[error("unsupported pixel format {0} (expected I420 or NV12)")]
    Format(String),
}

/// Why [`Redaction::new`] refused its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedactionRefused {
    #[error(
        "target \"none\" redacts only the fixed masks, and none covers any of the frame: give at least one mask"
    )]
    NothingToRedact,
    #[error("fixed mask {index} is not a polygon of at least 3 finite points")]
    BadMask { index: usize },
}

/// The area of a polygon (shoelace), in the units of its points squared.
fn polygon_area(points: &[Point]) -> f32 {
    let n = points.len();
    let twice: f32 = (0..n)
        .map(|i| {
            let (a, b) = (points[i], points[(i + 1) % n]);
            a.x * b.y - b.x * a.y
        })
        .sum();
    twice.abs() / 2.0
}

/// What to redact and how, for one stream: the target, the method and the fixed privacy masks.
#[derive(Debug)]
pub struct Redaction {
    target: Target,
    method: Method,
    fill_color: Rgb,
    /// Fixed privacy polygons, normalised to 0..1 of the frame.
    masks: Vec<Vec<Point>>,
    redactor: Redactor,
    shapes: Vec<Shape>,
    shapes_for: Option<(u32, u32)>,
}

impl Redaction {
    /// A redaction of `target` by `method`, plus the fixed `masks` (normalised polygons).
    ///
    /// Refused when it would redact nothing at all (`Target::None` without a mask that covers
    /// some of the frame), or when a mask is not a polygon of at least 3 finite points: a
    /// `RedactedFrame` must never be an untouched frame by construction.
    ///
    /// ```
    /// use obscura::geometry::Point;
    /// use obscura::redact::{Method, Redaction, RedactionRefused, Rgb, Target};
    /// let black = Rgb { r: 0, g: 0, b: 0 };
    /// assert_eq!(Redaction::new(Target::None, Method::Blur, black, vec![]).unwrap_err(), RedactionRefused::NothingToRedact);
    /// let corner = vec![Point::new(0.0, 0.0), Point::new(0.2, 0.0), Point::new(0.0, 0.2)];
    /// assert!(Redaction::new(Target::None, Method::Blur, black, vec![corner]).is_ok());
    /// ```
    ///
    /// ```compile_fail,E0308
    /// use obscura::redact::{Method, Redaction, Rgb, Target};
    /// // A Result, not a Redaction: the refusal cannot be skipped.
    /// let r: Redaction = Redaction::new(Target::None, Method::Blur, Rgb { r: 0, g: 0, b: 0 }, vec![]);
    /// ```
    pub fn new(
        target: Target,
        method: Method,
        fill_color: Rgb,
        masks: Vec<Vec<Point>>,
    ) -> Result<Self, RedactionRefused> {
        for (index, mask) in masks.iter().enumerate() {
            if mask.len() < 3 || mask.iter().any(|p| !p.x.is_finite() || !p.y.is_finite()) {
                return Err(RedactionRefused::BadMask { index });
            }
        }
        if target == Target::None && !masks.iter().any(|mask| polygon_area(mask) > 0.0) {
            return Err(RedactionRefused::NothingToRedact);
        }
        Ok(Self {
            target,
            method,
            fill_color,
            masks,
            redactor: Redactor::new(),
            shapes: Vec::new(),
            shapes_for: None,
        })
    }

    /// Redacts `frame` in place (the fixed masks, the target, and the `regions` detection
    /// found) and hands it on as a [`RedactedFrame`]. A target that needs detection but got no
    /// regions is redacted whole (fail closed). On error the frame is consumed: dropped, never
    /// passed on.
    pub fn apply(&mut self, mut frame: Frame, regions: &FrameRegions) -> Result<RedactedFrame, RedactError> {
        let (width, height) = frame.pixels.size();
        self.update_shapes(width, height);
        let whole = [Shape::Rect(Rect::new(0.0, 0.0, width as f32, height as f32))];
        let detected: &[Shape] = match regions {
            FrameRegions::Detected(shapes) if self.target.needs_detection() => shapes,
            FrameRegions::FailClosed => &whole,
            _ if self.target.needs_detection() => &whole,
            _ => &[],
        };
        let fixed = std::mem::take(&mut self.shapes);
        let result = [&fixed[..], detected]
            .into_iter()
            .filter(|shapes| !shapes.is_empty())
            .try_for_each(|shapes| self.redact(&mut frame, shapes));
        self.shapes = fixed;
        result.map(|()| RedactedFrame { frame })
    }

    fn redact(&mut self, frame: &mut Frame, shapes: &[Shape]) -> Result<(), RedactError> {
        let (width, height) = frame.pixels.size();
        match &mut frame.pixels {
            Pixels::Video { buffer, info } => {
                let style = video_style(self.method, self.fill_color, info)?;
                let buffer = buffer.make_mut();
                let mut vframe = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, info)
                    .map_err(|e| RedactError::Map(e.to_string()))?;
                let (mut planes, count) = video_planes(&mut vframe)?;
                self.redactor.apply(&mut planes[..count], width as usize, height as usize, shapes, &style);
            }
            Pixels::Still(image) => {
                let style = still_style(self.method, self.fill_color);
                let mut planes = [still_plane(image)];
                self.redactor.apply(&mut planes, width as usize, height as usize, shapes, &style);
            }
        }
        Ok(())
    }

    /// The same redaction, splitting its large work on `pool` (see [`pool`]) instead of the shared
    /// default.
    pub fn with_pool(self, pool: Arc<rayon::ThreadPool>) -> Self {
        Redaction { redactor: Redactor::with_pool(pool), ..self }
    }

    /// The fixed masks in the pixels of the latest frame redacted (for the residual audit).
    pub(crate) fn fixed_shapes(&self) -> &[Shape] {
        &self.shapes
    }

    /// The target of this redaction.
    pub fn target(&self) -> Target {
        self.target
    }

    /// Recomputes the pixel shapes when the frame size changes (masks are normalised).
    fn update_shapes(&mut self, width: u32, height: u32) {
        if self.shapes_for == Some((width, height)) {
            return;
        }
        let (w, h) = (width as f32, height as f32);
        self.shapes.clear();
        if self.target == Target::Frame {
            self.shapes.push(Shape::Rect(Rect::new(0.0, 0.0, w, h)));
        } else {
            let scale = |p: &Point| Point::new(p.x * w, p.y * h);
            self.shapes
                .extend(self.masks.iter().map(|poly| Shape::Polygon(poly.iter().map(scale).collect())));
        }
        self.shapes_for = Some((width, height));
    }
}

fn video_style(method: Method, fill: Rgb, info: &gst_video::VideoInfo) -> Result<Style, RedactError> {
    Ok(match method {
        Method::Blur => Style::Blur,
        Method::Pixelate => Style::Pixelate,
        Method::Fill => {
            let [y, u, v] = fill.to_yuv(stream_matrix(info), stream_range(info));
            match info.format() {
                gst_video::VideoFormat::I420 => Style::Fill([[y, 0, 0, 0], [u, 0, 0, 0], [v, 0, 0, 0]]),
                gst_video::VideoFormat::Nv12 => Style::Fill([[y, 0, 0, 0], [u, v, 0, 0], [0; 4]]),
                other => return Err(RedactError::Format(other.to_string())),
            }
        }
    })
}

fn still_style(method: Method, fill: Rgb) -> Style {
    match method {
        Method::Blur => Style::Blur,
        Method::Pixelate => Style::Pixelate,
        Method::Fill => Style::Fill([[fill.r, fill.g, fill.b, 255], [0; 4], [0; 4]]),
    }
}

/// The stream's RGB→YUV matrix; unknown ones default as GStreamer does (BT.709 from 720 lines up).
pub(crate) fn stream_matrix(info: &gst_video::VideoInfo) -> Matrix {
    match info.colorimetry().matrix() {
        gst_video::VideoColorMatrix::Bt601 | gst_video::VideoColorMatrix::Fcc => Matrix::Bt601,
        gst_video::VideoColorMatrix::Bt709 | gst_video::VideoColorMatrix::Smpte240m => Matrix::Bt709,
        gst_video::VideoColorMatrix::Bt2020 => Matrix::Bt2020,
        _ if info.height() >= 720 => Matrix::Bt709,
        _ => Matrix::Bt601,
    }
}

pub(crate) fn stream_range(info: &gst_video::VideoInfo) -> Range {
    match info.colorimetry().range() {
        gst_video::VideoColorRange::Range0_255 => Range::Full,
        _ => Range::Limited,
    }
}

/// The planes of a mapped I420 or NV12 frame, with their strides and subsampling, and how many there
/// are (NV12 has two: the third is empty). An array, not a `Vec`: nothing is allocated per frame.
fn video_planes<'a>(
    vframe: &'a mut gst_video::VideoFrameRef<&mut gstreamer::BufferRef>,
) -> Result<([PlaneMut<'a>; 3], usize), RedactError> {
    let format = vframe.format();
    let (w, h) = (vframe.width() as usize, vframe.height() as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let stride = |i: usize| vframe.plane_stride().get(i).map_or(0, |&s| s as usize);
    let strides = [stride(0), stride(1), stride(2)];
    let [p0, p1, p2, _] = vframe.planes_data_mut();
    let plane = |data, stride, width, height, channels, sub| PlaneMut {
        data,
        stride,
        width,
        height,
        channels,
        sub_x: sub,
        sub_y: sub,
    };
    match format {
        gst_video::VideoFormat::I420 => Ok((
            [
                plane(p0, strides[0], w, h, 1, 1),
                plane(p1, strides[1], cw, ch, 1, 2),
                plane(p2, strides[2], cw, ch, 1, 2),
            ],
            3,
        )),
        gst_video::VideoFormat::Nv12 => Ok((
            [
                plane(p0, strides[0], w, h, 1, 1),
                plane(p1, strides[1], cw, ch, 2, 2),
                plane(p2, 0, 0, 0, 1, 2),
            ],
            2,
        )),
        other => Err(RedactError::Format(other.to_string())),
    }
}

fn still_plane(image: &mut StillImage) -> PlaneMut<'_> {
    let channels = usize::from(image.channels);
    PlaneMut {
        stride: image.width as usize * channels,
        width: image.width as usize,
        height: image.height as usize,
        channels,
        sub_x: 1,
        sub_y: 1,
        data: &mut image.data,
    }
}
