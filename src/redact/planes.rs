//! The pixels redaction works on: a borrowed plane with its stride and sampling, and the redaction style.

use std::fmt;

/// One plane of an image, borrowed mutably, with its stride.
///
/// Samples of a row are interleaved: row `y` starts at byte `y * stride`, pixel `x` of it occupies bytes
/// `[x * channels, (x + 1) * channels)`. Bytes past `width * channels` in a row are padding and are never
/// written.
pub struct PlaneMut<'a> {
    /// The plane's bytes: at least `stride * (height - 1) + width * channels` of them.
    pub data: &'a mut [u8],
    /// Bytes per row (≥ `width * channels`; may be larger).
    pub stride: usize,
    /// Pixels per row of this plane (not bytes).
    pub width: usize,
    /// Rows of this plane.
    pub height: usize,
    /// Interleaved samples per pixel: 1 (Y, U or V of I420), 2 (UV of NV12), 3 (RGB) or 4 (RGBA).
    pub channels: usize,
    /// Horizontal subsampling against the frame's luma grid: 1 or 2 (I420/NV12 chroma: 2).
    pub sub_x: usize,
    /// Vertical subsampling against the frame's luma grid: 1 or 2 (I420/NV12 chroma: 2).
    pub sub_y: usize,
}

impl PlaneMut<'_> {
    /// The plane's sampling grid.
    pub fn grid(&self) -> PlaneGrid {
        PlaneGrid { width: self.width, height: self.height, sub_x: self.sub_x, sub_y: self.sub_y }
    }

    /// Whether the plane holds no sample at all.
    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// Checks that the geometry is supported and fits `data`.
    ///
    /// # Panics
    /// When `channels` is not 1–4, a subsampling factor is not 1 or 2, `stride < width * channels` or
    /// `data` is shorter than the last row's end. Planes come from the decoder wrapper, so this is a bug in
    /// the caller, and refusing the frame is the only safe answer for a redactor.
    pub fn assert_valid(&self) {
        assert!((1..=4).contains(&self.channels), "plane has {} channels; 1 to 4 supported", self.channels);
        assert!(
            (1..=2).contains(&self.sub_x) && (1..=2).contains(&self.sub_y),
            "plane subsampling {}x{} unsupported; 1 or 2 per axis",
            self.sub_x,
            self.sub_y
        );
        if self.is_empty() {
            return;
        }
        let row_bytes = self.width * self.channels;
        assert!(self.stride >= row_bytes, "plane stride {} < row of {row_bytes} bytes", self.stride);
        let needed = self.stride * (self.height - 1) + row_bytes;
        assert!(self.data.len() >= needed, "plane of {} bytes, {needed} needed", self.data.len());
    }
}

impl fmt::Debug for PlaneMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlaneMut")
            .field("len", &self.data.len())
            .field("stride", &self.stride)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("channels", &self.channels)
            .field("sub_x", &self.sub_x)
            .field("sub_y", &self.sub_y)
            .finish()
    }
}

/// The sampling grid of a plane: its size in samples and its subsampling against the frame's luma grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneGrid {
    /// Samples per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Full-resolution pixels per sample, horizontally (1 or 2).
    pub sub_x: usize,
    /// Full-resolution pixels per sample, vertically (1 or 2).
    pub sub_y: usize,
}

/// How the covered samples are made unrecognisable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A strong Gaussian-like blur whose radius grows with the shape's size.
    Blur,
    /// Blocks of the mean colour, their size growing with the shape's size.
    Pixelate,
    /// A solid value: channel `c` of plane `i` gets `fill[i][c]` (planes past the third use `fill[2]`).
    Fill([[u8; 4]; 3]),
}
