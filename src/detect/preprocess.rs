//! Network input straight from the decoder's planes: one fused pass that scales the frame down
//! (box average over each output pixel's footprint) and converts YUV to RGB (the order both
//! models were trained on), writing planar NCHW floats at network size. No full-frame RGB copy is ever made.

use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use super::DetectError;
use crate::frame::{Frame, Pixels, StillImage};
use crate::redact::color::{Matrix, Range};
use crate::redact::{stream_matrix, stream_range};

/// How a part of the frame is laid into the network input: the `crop` of the frame is scaled to
/// `content` in the top-left corner of a `net`-sized input; the rest is zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputLayout {
    pub net_w: u32,
    pub net_h: u32,
    pub content_w: u32,
    pub content_h: u32,
    /// The part of the frame seen, in frame pixels; `None` for the whole frame.
    pub crop: Option<Crop>,
}

/// A rectangle of frame pixels: `[x, x + w) × [y, y + h)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Crop {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Crop {
    /// The same rectangle in frame coordinates.
    pub fn rect(&self) -> crate::geometry::Rect {
        crate::geometry::Rect::new(
            self.x as f32,
            self.y as f32,
            (self.x + self.w) as f32,
            (self.y + self.h) as f32,
        )
    }
}

impl InputLayout {
    /// The part of a `frame_w × frame_h` frame this layout sees, clipped to the frame.
    pub fn crop_in(&self, frame_w: u32, frame_h: u32) -> Crop {
        let c = self.crop.unwrap_or(Crop { x: 0, y: 0, w: frame_w, h: frame_h });
        let x = c.x.min(frame_w.saturating_sub(1));
        let y = c.y.min(frame_h.saturating_sub(1));
        Crop { x, y, w: c.w.clamp(1, frame_w - x), h: c.h.clamp(1, frame_h - y) }
    }

    /// Frame pixels per network pixel, horizontally and vertically.
    pub fn frame_per_net(&self, frame_w: u32, frame_h: u32) -> (f32, f32) {
        let c = self.crop_in(frame_w, frame_h);
        (c.w as f32 / self.content_w as f32, c.h as f32 / self.content_h as f32)
    }

    /// Network pixel `(x, y)` in frame pixels.
    pub fn to_frame(&self, frame_w: u32, frame_h: u32, x: f32, y: f32) -> (f32, f32) {
        let c = self.crop_in(frame_w, frame_h);
        let (sx, sy) = self.frame_per_net(frame_w, frame_h);
        (c.x as f32 + x * sx, c.y as f32 + y * sy)
    }

    /// Floats in one NCHW input of this layout (3 planes).
    pub fn floats(&self) -> usize {
        3 * self.net_w as usize * self.net_h as usize
    }
}

/// A network input filled from a frame, that nothing outside the detectors can read: for
/// measuring preprocessing (`benches/detect.rs`) without opening a way to an unredacted copy of
/// the frame's pixels.
///
/// ```compile_fail,E0603
/// // The fill functions that return the input are private to the crate.
/// use obscura::detect::preprocess::fill_input;
/// ```
///
/// ```compile_fail,E0616
/// fn peek(buffer: &obscura::detect::preprocess::InputBuffer) -> &[f32] {
///     &buffer.data // the floats are private
/// }
/// ```
#[derive(Debug, Default)]
pub struct InputBuffer {
    data: Vec<f32>,
}

impl InputBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Fills the buffer with the input of `frame` laid out as `layout` (what a detector does
    /// before each inference).
    pub fn fill(&mut self, frame: &Frame, layout: &InputLayout) -> Result<(), DetectError> {
        fill_input(frame, layout, &mut self.data)
    }
}

/// Fills `out` with the NCHW RGB input (values 0..255) of `frame` laid out as `layout`.
///
/// Crate-private, like [`fill_input_into`]: the input is a copy of unredacted pixels (at up to the
/// frame's own resolution), so only the detectors may hold it. Outside the crate,
/// [`InputBuffer`] runs the same code into a buffer nothing can read.
pub(crate) fn fill_input(frame: &Frame, layout: &InputLayout, out: &mut Vec<f32>) -> Result<(), DetectError> {
    out.clear();
    out.resize(layout.floats(), 0.0);
    fill_input_into(frame, layout, out)
}

/// Writes the NCHW RGB input (values 0..255) of `frame` laid out as `layout` into `out`, which holds
/// exactly [`InputLayout::floats`] floats (one item of a batch); padding is set to zero.
pub(crate) fn fill_input_into(
    frame: &Frame,
    layout: &InputLayout,
    out: &mut [f32],
) -> Result<(), DetectError> {
    let plane = layout.net_w as usize * layout.net_h as usize;
    if out.len() != 3 * plane {
        return Err(DetectError::Input(format!(
            "input buffer holds {} floats, not {}",
            out.len(),
            3 * plane
        )));
    }
    out.fill(0.0);
    let (frame_w, frame_h) = frame.size();
    let crop = layout.crop_in(frame_w, frame_h);
    let shift = |v: Vec<(usize, usize)>, by: u32| -> Vec<(usize, usize)> {
        v.into_iter().map(|(a, b)| (a + by as usize, b + by as usize)).collect()
    };
    let xs = shift(footprints(crop.w as usize, layout.content_w as usize), crop.x);
    let ys = shift(footprints(crop.h as usize, layout.content_h as usize), crop.y);
    let mut write = |x: usize, y: usize, [r, g, b]: [f32; 3]| {
        let i = y * layout.net_w as usize + x;
        out[i] = r;
        out[plane + i] = g;
        out[2 * plane + i] = b;
    };
    match &frame.pixels {
        Pixels::Video { buffer, info } => {
            let vframe = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), info)
                .map_err(unreadable)?;
            let convert = YuvToRgb::new(stream_matrix(info), stream_range(info));
            let stride = |p: usize| vframe.plane_stride()[p] as usize;
            let y_plane = vframe.plane_data(0).map_err(unreadable)?;
            let chroma = match info.format() {
                gst_video::VideoFormat::I420 => Chroma::Planar {
                    u: vframe.plane_data(1).map_err(unreadable)?,
                    v: vframe.plane_data(2).map_err(unreadable)?,
                    u_stride: stride(1),
                    v_stride: stride(2),
                },
                gst_video::VideoFormat::Nv12 => {
                    Chroma::Interleaved { uv: vframe.plane_data(1).map_err(unreadable)?, stride: stride(1) }
                }
                other => return Err(DetectError::Input(format!("unsupported pixel format {other}"))),
            };
            // Separable box means: per output row, the footprint's luma rows summed column by
            // column over the crop (one read of each sample), then each output pixel sums its
            // footprint's columns. The same sums and the same division as a 2-D box mean.
            let y_stride = stride(0);
            let (cx0, cw) = (crop.x as usize, crop.w as usize);
            COLUMN_SUMS.with_borrow_mut(|sums| {
                sums.clear();
                sums.resize(cw, 0);
                for (oy, &(y0, y1)) in ys.iter().enumerate() {
                    sums.fill(0);
                    for y in y0..y1 {
                        let row = &y_plane[y * y_stride + cx0..y * y_stride + cx0 + cw];
                        for (sum, &sample) in sums.iter_mut().zip(row) {
                            *sum += u32::from(sample);
                        }
                    }
                    let rows = y1 - y0;
                    let cy = (y0 + y1) / 4;
                    for (ox, &(x0, x1)) in xs.iter().enumerate() {
                        let sum: u32 = sums[x0 - cx0..x1 - cx0].iter().sum();
                        let luma = sum as f32 / ((x1 - x0) * rows) as f32;
                        let (u, v) = chroma.at((x0 + x1) / 4, cy);
                        write(ox, oy, convert.apply(luma, f32::from(u), f32::from(v)));
                    }
                }
            });
        }
        Pixels::Still(image) => fill_from_still(image, &xs, &ys, &mut write),
    }
    Ok(())
}

thread_local! {
    /// Per detection thread, the column sums of one output row's footprint (reused: no
    /// allocation per frame).
    static COLUMN_SUMS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn unreadable(e: impl std::fmt::Display) -> DetectError {
    DetectError::Input(e.to_string())
}

fn fill_from_still(
    image: &StillImage,
    xs: &[(usize, usize)],
    ys: &[(usize, usize)],
    write: &mut impl FnMut(usize, usize, [f32; 3]),
) {
    let channels = usize::from(image.channels);
    let stride = image.width as usize * channels;
    for (oy, &(y0, y1)) in ys.iter().enumerate() {
        for (ox, &(x0, x1)) in xs.iter().enumerate() {
            let px = |c| box_mean(&image.data, stride, channels, c, x0, x1, y0, y1);
            write(ox, oy, [px(0), px(1), px(2)]);
        }
    }
}

/// For each of `dst` output positions, the source range `[start, end)` it averages (never empty).
fn footprints(src: usize, dst: usize) -> Vec<(usize, usize)> {
    (0..dst)
        .map(|o| {
            let start = (o * src / dst).min(src.saturating_sub(1));
            let end = ((o + 1) * src / dst).clamp(start + 1, src.max(1));
            (start, end)
        })
        .collect()
}

/// Mean of channel `c` of an interleaved plane over `[x0,x1) × [y0,y1)`.
#[allow(clippy::too_many_arguments)]
fn box_mean(
    data: &[u8],
    stride: usize,
    channels: usize,
    c: usize,
    x0: usize,
    x1: usize,
    y0: usize,
    y1: usize,
) -> f32 {
    let mut sum = 0u32;
    for y in y0..y1 {
        let row = &data[y * stride..];
        sum += (x0..x1).map(|x| u32::from(row[x * channels + c])).sum::<u32>();
    }
    sum as f32 / ((x1 - x0) * (y1 - y0)) as f32
}

enum Chroma<'a> {
    Planar { u: &'a [u8], v: &'a [u8], u_stride: usize, v_stride: usize },
    Interleaved { uv: &'a [u8], stride: usize },
}

impl Chroma<'_> {
    fn at(&self, cx: usize, cy: usize) -> (u8, u8) {
        match self {
            Chroma::Planar { u, v, u_stride, v_stride } => (u[cy * u_stride + cx], v[cy * v_stride + cx]),
            Chroma::Interleaved { uv, stride } => (uv[cy * stride + 2 * cx], uv[cy * stride + 2 * cx + 1]),
        }
    }
}

/// YUV → RGB (0..255) for a stream's matrix and range.
struct YuvToRgb {
    y_offset: f32,
    y_gain: f32,
    c_gain: f32,
    kr: f32,
    kb: f32,
}

impl YuvToRgb {
    fn new(matrix: Matrix, range: Range) -> Self {
        let (kr, kb) = match matrix {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
            Matrix::Bt2020 => (0.2627, 0.0593),
        };
        let (y_offset, y_gain, c_gain) = match range {
            Range::Limited => (16.0, 255.0 / 219.0, 255.0 / 224.0),
            Range::Full => (0.0, 1.0, 1.0),
        };
        Self { y_offset, y_gain, c_gain, kr, kb }
    }

    fn apply(&self, y: f32, u: f32, v: f32) -> [f32; 3] {
        let y = (y - self.y_offset) * self.y_gain;
        let (u, v) = ((u - 128.0) * self.c_gain, (v - 128.0) * self.c_gain);
        let r = y + 2.0 * (1.0 - self.kr) * v;
        let b = y + 2.0 * (1.0 - self.kb) * u;
        let g = (y - self.kr * r - self.kb * b) / (1.0 - self.kr - self.kb);
        [r.clamp(0.0, 255.0), g.clamp(0.0, 255.0), b.clamp(0.0, 255.0)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footprints_cover_the_source_without_gaps() {
        assert_eq!(footprints(6, 3), [(0, 2), (2, 4), (4, 6)]);
        assert_eq!(footprints(5, 2), [(0, 2), (2, 5)]);
        // Upscaling: each output takes one source sample.
        assert_eq!(footprints(2, 4), [(0, 1), (0, 1), (1, 2), (1, 2)]);
        let fp = footprints(1920, 640);
        assert!(fp.windows(2).all(|w| w[0].1 == w[1].0) && fp.last() == Some(&(1917, 1920)));
    }

    /// An I420 frame of `width`×`height` with pseudo-random samples (a fixed seed).
    fn noisy_i420(width: u32, height: u32) -> (Frame, Vec<u8>, gst_video::VideoInfo) {
        gstreamer::init().unwrap();
        let info =
            gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height).build().unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let data: Vec<u8> = (0..info.size())
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let buffer = gstreamer::Buffer::from_mut_slice(data.clone());
        (Frame::from_video(buffer, info.clone(), 0), data, info)
    }

    #[test]
    fn video_input_is_the_box_mean_of_each_footprint() {
        let (frame, data, info) = noisy_i420(250, 142);
        let convert = YuvToRgb::new(stream_matrix(&info), stream_range(&info));
        let (offsets, strides) = (info.offset(), info.stride());
        let plane = |p: usize| &data[offsets[p]..];
        let layouts = [
            // Down (uneven footprints), up, and a crop that starts off the origin.
            InputLayout { net_w: 96, net_h: 64, content_w: 90, content_h: 51, crop: None },
            InputLayout { net_w: 300, net_h: 300, content_w: 300, content_h: 300, crop: None },
            InputLayout {
                net_w: 40,
                net_h: 40,
                content_w: 37,
                content_h: 33,
                crop: Some(Crop { x: 101, y: 37, w: 120, h: 99 }),
            },
        ];
        for layout in layouts {
            let mut out = Vec::new();
            fill_input(&frame, &layout, &mut out).unwrap();
            let crop = layout.crop_in(250, 142);
            let xs = footprints(crop.w as usize, layout.content_w as usize);
            let ys = footprints(crop.h as usize, layout.content_h as usize);
            let n = (layout.net_w * layout.net_h) as usize;
            for (oy, &(y0, y1)) in ys.iter().enumerate() {
                for (ox, &(x0, x1)) in xs.iter().enumerate() {
                    let (x0, x1) = (x0 + crop.x as usize, x1 + crop.x as usize);
                    let (y0, y1) = (y0 + crop.y as usize, y1 + crop.y as usize);
                    let luma = box_mean(plane(0), strides[0] as usize, 1, 0, x0, x1, y0, y1);
                    let (cx, cy) = ((x0 + x1) / 4, (y0 + y1) / 4);
                    let u = plane(1)[cy * strides[1] as usize + cx];
                    let v = plane(2)[cy * strides[2] as usize + cx];
                    let want = convert.apply(luma, f32::from(u), f32::from(v));
                    let i = oy * layout.net_w as usize + ox;
                    assert_eq!([out[i], out[n + i], out[2 * n + i]], want, "{layout:?} at ({ox}, {oy})");
                }
            }
            // Padding stays zero.
            let padded = (0..layout.net_h as usize).flat_map(|y| {
                (0..layout.net_w as usize)
                    .filter(move |&x| x >= layout.content_w as usize || y >= layout.content_h as usize)
                    .map(move |x| y * layout.net_w as usize + x)
            });
            for i in padded {
                assert_eq!([out[i], out[n + i], out[2 * n + i]], [0.0; 3]);
            }
        }
    }

    #[test]
    fn converts_reference_colours() {
        let bt601 = YuvToRgb::new(Matrix::Bt601, Range::Limited);
        let close = |a: [f32; 3], b: [f32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1.5);
        assert!(close(bt601.apply(235.0, 128.0, 128.0), [255.0, 255.0, 255.0]));
        assert!(close(bt601.apply(16.0, 128.0, 128.0), [0.0, 0.0, 0.0]));
        assert!(close(bt601.apply(81.0, 90.0, 240.0), [255.0, 0.0, 0.0]));
        let bt709 = YuvToRgb::new(Matrix::Bt709, Range::Limited);
        assert!(close(bt709.apply(63.0, 102.0, 240.0), [255.0, 0.0, 0.0]));
    }
}
