//! SSDLite's anchors and box decoding, done here rather than in the graph so that the network runs
//! at any input size (`scripts/convert/ssdlite_person.py` cuts the graph before its decoding).
//!
//! The anchors are those of TensorFlow's Object Detection API SSD generator as this model was
//! trained with them at 300×300: six feature maps (strides 16, 32, 64, …; 19, 10, 5, 3, 2 and 1
//! cells at 300×300), scales 0.2 to 0.95 of the input spread over the layers, aspect ratios 1, 2,
//! ½, 3, ⅓ and one more square anchor between a layer's scale and the next; the first layer has
//! three (0.1 at 1, 0.2 at 2 and ½). At 300×300 they are the graph's own, value for value
//! (checked against the converted graph's decoded boxes when the conversion changed, to 4e-5).
//! At another input size each anchor keeps its size *in network pixels* (a 30 px anchor stays
//! 30 px), centred on its cell: the network's filters answer to people of a size in pixels, not of
//! a share of the picture, so a larger input holds more cells of the same kind.

/// Feature maps (layers) of the network.
pub const LAYERS: usize = 6;
/// The input side the model was trained at.
pub const TRAINED_SIDE: f32 = 300.0;
/// Faster R-CNN box coder scales (y, x, height, width).
const CODER: [f32; 4] = [10.0, 10.0, 5.0, 5.0];
const MIN_SCALE: f32 = 0.2;
const MAX_SCALE: f32 = 0.95;

/// A layer's anchor shapes: (scale, aspect ratio) of each anchor of a cell.
fn shapes(layer: usize) -> Vec<(f32, f32)> {
    if layer == 0 {
        return vec![(0.1, 1.0), (MIN_SCALE, 2.0), (MIN_SCALE, 0.5)];
    }
    let scale = |l: usize| {
        if l >= LAYERS { 1.0 } else { MIN_SCALE + (MAX_SCALE - MIN_SCALE) * l as f32 / (LAYERS - 1) as f32 }
    };
    let s = scale(layer);
    let mut out: Vec<(f32, f32)> = [1.0, 2.0, 0.5, 3.0, 1.0 / 3.0].iter().map(|&ar| (s, ar)).collect();
    out.push(((s * scale(layer + 1)).sqrt(), 1.0));
    out
}

/// Anchors per cell of `layer`.
pub fn per_cell(layer: usize) -> usize {
    if layer == 0 { 3 } else { 6 }
}

/// One anchor: centre and size, normalised to the network input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    pub cy: f32,
    pub cx: f32,
    pub h: f32,
    pub w: f32,
}

/// The anchors of one layer whose feature map is `rows × cols`, for a `net_w × net_h` input,
/// in the network's output order (row, column, anchor).
pub fn layer_anchors(layer: usize, rows: usize, cols: usize, net_w: u32, net_h: u32) -> Vec<Anchor> {
    let shapes = shapes(layer);
    let (kh, kw) = (TRAINED_SIDE / net_h as f32, TRAINED_SIDE / net_w as f32);
    let mut out = Vec::with_capacity(rows * cols * shapes.len());
    for i in 0..rows {
        for j in 0..cols {
            let (cy, cx) = ((i as f32 + 0.5) / rows as f32, (j as f32 + 0.5) / cols as f32);
            for &(s, ar) in &shapes {
                out.push(Anchor { cy, cx, h: s / ar.sqrt() * kh, w: s * ar.sqrt() * kw });
            }
        }
    }
    out
}

/// The box `[ymin, xmin, ymax, xmax]` (normalised to the input) that `code` (ty, tx, th, tw)
/// encodes against `a`.
pub fn decode(code: &[f32], a: &Anchor) -> [f32; 4] {
    let cy = code[0] / CODER[0] * a.h + a.cy;
    let cx = code[1] / CODER[1] * a.w + a.cx;
    let h = (code[2] / CODER[2]).exp() * a.h;
    let w = (code[3] / CODER[3]).exp() * a.w;
    [cy - h / 2.0, cx - w / 2.0, cy + h / 2.0, cx + w / 2.0]
}

/// The logit at or above which the sigmoid is at least `p` (0 < p < 1).
pub fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// The logistic function.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The feature maps at 300×300.
    const FMS: [usize; LAYERS] = [19, 10, 5, 3, 2, 1];

    #[test]
    fn at_300_there_are_the_graphs_1917_anchors() {
        let n: usize = (0..LAYERS).map(|l| layer_anchors(l, FMS[l], FMS[l], 300, 300).len()).sum();
        assert_eq!(n, 1917);
        // Values of the converted graph's anchor constants (TF's generator at 300×300).
        let first = layer_anchors(0, 19, 19, 300, 300);
        let a = first[0];
        assert!((a.cy - 0.5 / 19.0).abs() < 1e-6 && (a.h - 0.1).abs() < 1e-6 && (a.w - 0.1).abs() < 1e-6);
        let b = first[1]; // 0.2 at aspect 2: wider than tall
        assert!((b.h - 0.2 / 2f32.sqrt()).abs() < 1e-6 && (b.w - 0.2 * 2f32.sqrt()).abs() < 1e-6);
        let last = layer_anchors(5, 1, 1, 300, 300);
        assert_eq!(last.len(), 6);
        assert!((last[0].h - 0.95).abs() < 1e-6);
        assert!((last[5].h - 0.95f32.sqrt()).abs() < 1e-6, "between 0.95 and 1.0");
        let mid = layer_anchors(2, 5, 5, 300, 300);
        assert!((mid[0].h - 0.5).abs() < 1e-6 && (mid[6 * 7].cx - 2.5 / 5.0).abs() < 1e-6);
    }

    #[test]
    fn a_larger_input_keeps_each_anchor_its_size_in_network_pixels() {
        // 588 × 780 px: the first layer's 0.1 anchors stay 30 px.
        let a = layer_anchors(0, 37, 49, 780, 588);
        assert_eq!(a.len(), 37 * 49 * 3);
        assert!((a[0].h * 588.0 - 30.0).abs() < 1e-3 && (a[0].w * 780.0 - 30.0).abs() < 1e-3);
        assert!((a[3 * 48].cx - 48.5 / 49.0).abs() < 1e-6);
    }

    #[test]
    fn decoding_a_zero_code_gives_the_anchor() {
        let a = Anchor { cy: 0.5, cx: 0.25, h: 0.2, w: 0.1 };
        let b = decode(&[0.0; 4], &a);
        let want = [0.4, 0.2, 0.6, 0.3];
        assert!(b.iter().zip(want).all(|(x, y)| (x - y).abs() < 1e-6), "{b:?}");
        // th = 5 ln 2: twice as tall.
        let b = decode(&[0.0, 0.0, 5.0 * 2f32.ln(), 0.0], &a);
        assert!((b[2] - b[0] - 0.4).abs() < 1e-6);
        assert!((sigmoid(logit(0.2)) - 0.2).abs() < 1e-6);
    }
}
