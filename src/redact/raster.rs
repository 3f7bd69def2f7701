//! Coverage of mask shapes: which samples of a (possibly subsampled) plane a shape covers, as spans per row.
//!
//! A full-resolution pixel `(x, y)` is covered when its centre `(x + 0.5, y + 0.5)` is inside the shape
//! ([`covers`] is the pointwise definition; the [`Rasterizer`] produces exactly the same set as spans). A
//! sample of a subsampled plane is covered when any full-resolution pixel it stands for is, so chroma
//! never leaks at a mask edge.

use super::planes::PlaneGrid;
use crate::geometry::{Point, Rect, Shape};

/// A half-open run `[start, end)` of samples in one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First sample of the run.
    pub start: usize,
    /// One past the last sample of the run.
    pub end: usize,
}

/// A box of whole samples `[x0, x1) × [y0, y1)`; empty when either side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SampleBox {
    /// First column.
    pub x0: usize,
    /// First row.
    pub y0: usize,
    /// One past the last column.
    pub x1: usize,
    /// One past the last row.
    pub y1: usize,
}

impl SampleBox {
    /// The frame pixels whose centres lie in the shape's bounding box, clipped to the frame. Every pixel
    /// the shape covers lies inside. Empty when a bound is NaN.
    pub fn of_shape(shape: &Shape, frame_width: usize, frame_height: usize) -> SampleBox {
        let b = shape.bounds();
        if [b.x0, b.y0, b.x1, b.y1].iter().any(|v| v.is_nan()) {
            return SampleBox::default();
        }
        let x0 = first_center_at_or_after(b.x0.into(), frame_width);
        let y0 = first_center_at_or_after(b.y0.into(), frame_height);
        let x1 = first_center_at_or_after(b.x1.into(), frame_width).max(x0);
        let y1 = first_center_at_or_after(b.y1.into(), frame_height).max(y0);
        SampleBox { x0, y0, x1, y1 }
    }

    /// The samples of a plane that stand for any pixel of this full-resolution box, clipped to the plane.
    pub fn to_plane(&self, grid: &PlaneGrid) -> SampleBox {
        if self.is_empty() {
            return SampleBox::default();
        }
        let x1 = self.x1.div_ceil(grid.sub_x).min(grid.width);
        let y1 = self.y1.div_ceil(grid.sub_y).min(grid.height);
        SampleBox { x0: (self.x0 / grid.sub_x).min(x1), y0: (self.y0 / grid.sub_y).min(y1), x1, y1 }
    }

    /// Columns in the box.
    pub fn width(&self) -> usize {
        self.x1 - self.x0
    }

    /// Rows in the box.
    pub fn height(&self) -> usize {
        self.y1 - self.y0
    }

    /// Samples in the box.
    pub fn area(&self) -> usize {
        self.width() * self.height()
    }

    /// Whether the box holds no sample.
    pub fn is_empty(&self) -> bool {
        self.x0 >= self.x1 || self.y0 >= self.y1
    }
}

/// The covered samples of one plane: per row, sorted spans that neither overlap nor touch.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    first_row: usize,
    /// For each row from `first_row`, the end of its spans in `spans`.
    row_ends: Vec<usize>,
    spans: Vec<Span>,
}

impl Coverage {
    /// An empty coverage.
    pub fn new() -> Self {
        Self::default()
    }

    /// The covered spans of plane row `y` (none outside the rasterised rows).
    pub fn row(&self, y: usize) -> &[Span] {
        let Some(i) = y.checked_sub(self.first_row).filter(|&i| i < self.row_ends.len()) else {
            return &[];
        };
        let start = if i == 0 { 0 } else { self.row_ends[i - 1] };
        &self.spans[start..self.row_ends[i]]
    }

    /// Whether no sample is covered.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn reset(&mut self, first_row: usize) {
        self.first_row = first_row;
        self.row_ends.clear();
        self.spans.clear();
    }

    /// Appends the next row from unordered, possibly overlapping spans, merging them.
    fn push_row(&mut self, spans: &mut [Span]) {
        spans.sort_unstable_by_key(|s| s.start);
        let row_start = self.spans.len();
        for &span in spans.iter().filter(|s| s.start < s.end) {
            match self.spans[row_start..].last_mut() {
                Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
                _ => self.spans.push(span),
            }
        }
        self.row_ends.push(self.spans.len());
    }
}

/// Turns shapes into [`Coverage`], reusing its buffers between calls.
#[derive(Debug, Default)]
pub struct Rasterizer {
    crossings: Vec<f64>,
    row_spans: Vec<Span>,
}

impl Rasterizer {
    /// A rasteriser with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Computes the samples of a plane that `shape` covers, conservatively for subsampled planes.
    ///
    /// `pixels` is [`SampleBox::of_shape`] for the frame: coverage is clipped to it, hence to the frame,
    /// and to the plane.
    pub fn rasterize(&mut self, shape: &Shape, pixels: SampleBox, grid: &PlaneGrid, out: &mut Coverage) {
        let region = pixels.to_plane(grid);
        out.reset(region.y0);
        let Some(outline) = Outline::of(shape) else {
            return;
        };
        for sy in region.y0..region.y1 {
            self.row_spans.clear();
            let first = (sy * grid.sub_y).max(pixels.y0);
            let end = ((sy + 1) * grid.sub_y).min(pixels.y1);
            for y in first..end {
                outline.row_spans(y, &pixels, &mut self.crossings, &mut self.row_spans);
            }
            for span in &mut self.row_spans {
                span.end = span.end.div_ceil(grid.sub_x).min(grid.width);
                span.start = (span.start / grid.sub_x).min(span.end);
            }
            out.push_row(&mut self.row_spans);
        }
    }
}

/// Whether `shape` covers the full-resolution pixel `(x, y)`, i.e. contains its centre: the reference
/// definition of coverage (one pixel at a time; the [`Rasterizer`] gives the same answer per row).
///
/// Rect: `x0 ≤ cx < x1 && y0 ≤ cy < y1`. Ellipse: strictly inside the ellipse inscribed in the rect
/// (and inside the rect, as above).
/// Polygon: even-odd rule inside its bounding rect (as for Rect); polygons with fewer than 3 vertices, a
/// non-finite vertex or all vertices on one line cover nothing.
pub fn covers(shape: &Shape, x: usize, y: usize) -> bool {
    let (px, py) = (center(x), center(y));
    match shape {
        Shape::Rect(r) => in_rect(r, px, py),
        // Inside the ellipse implies inside its rect, but rounding can put a centre that lies
        // exactly on the rect's right or bottom edge "inside": the rect decides, as the
        // rasterizer's bounding box does.
        Shape::Ellipse(r) => {
            in_rect(r, px, py) && Ellipse::inscribed(r).is_some_and(|e| e.contains(px, e.dy2(py)))
        }
        Shape::Polygon(points) => {
            polygon_is_fillable(points)
                && in_rect(&shape.bounds(), px, py)
                && edges(points).filter_map(|(a, b)| edge_crossing(a, b, py)).filter(|&c| c <= px).count() % 2
                    == 1
        }
    }
}

fn in_rect(r: &Rect, px: f64, py: f64) -> bool {
    f64::from(r.x0) <= px && px < f64::from(r.x1) && f64::from(r.y0) <= py && py < f64::from(r.y1)
}

/// The centre of pixel row or column `x`. (Through `i64`: one instruction on x86-64, where `usize → f64`
/// takes several; exact for any real coordinate.)
fn center(x: usize) -> f64 {
    x as i64 as f64 + 0.5
}

/// The smallest `x` in `0..=limit` whose centre `x + 0.5` is at or after `c`; `limit` when none is.
fn first_center_at_or_after(c: f64, limit: usize) -> usize {
    if c.is_nan() || c > center(limit) - 1.0 {
        return limit;
    }
    if c <= 0.5 {
        return 0;
    }
    // Here `0 < c - 0.5 < limit`; truncation is a first guess, then step to the exact answer (which also
    // absorbs any rounding of `c - 0.5`).
    let mut x = (c - 0.5) as i64 as usize;
    while center(x) < c {
        x += 1;
    }
    while x > 0 && center(x - 1) >= c {
        x -= 1;
    }
    x.min(limit)
}

/// A shape prepared for row-by-row rasterisation.
enum Outline<'a> {
    Rect,
    Ellipse(Ellipse),
    Polygon(&'a [Point]),
}

impl<'a> Outline<'a> {
    /// `None` when the shape covers nothing.
    fn of(shape: &'a Shape) -> Option<Self> {
        match shape {
            Shape::Rect(_) => Some(Outline::Rect),
            Shape::Ellipse(r) => Ellipse::inscribed(r).map(Outline::Ellipse),
            Shape::Polygon(points) => polygon_is_fillable(points).then_some(Outline::Polygon(points)),
        }
    }

    /// Appends the covered spans of full-resolution row `y`, within `pixels` (the shape's clipped box).
    fn row_spans(&self, y: usize, pixels: &SampleBox, crossings: &mut Vec<f64>, out: &mut Vec<Span>) {
        match self {
            Outline::Rect => out.push(Span { start: pixels.x0, end: pixels.x1 }),
            Outline::Ellipse(e) => out.extend(e.row_span(y, pixels)),
            Outline::Polygon(points) => polygon_row_spans(points, y, pixels, crossings, out),
        }
    }
}

/// An ellipse by centre and inverse semi-axes, all finite and positive.
struct Ellipse {
    cx: f64,
    cy: f64,
    rx: f64,
    inv_rx: f64,
    inv_ry: f64,
}

impl Ellipse {
    /// The ellipse inscribed in `r`; `None` when `r` has no area or a non-finite side.
    fn inscribed(r: &Rect) -> Option<Self> {
        let [x0, y0, x1, y1] = [r.x0, r.y0, r.x1, r.y1].map(f64::from);
        let valid = [x0, y0, x1, y1].iter().all(|v| v.is_finite()) && x1 > x0 && y1 > y0;
        valid.then(|| Ellipse {
            cx: (x0 + x1) / 2.0,
            cy: (y0 + y1) / 2.0,
            rx: (x1 - x0) / 2.0,
            inv_rx: 2.0 / (x1 - x0),
            inv_ry: 2.0 / (y1 - y0),
        })
    }

    /// The squared normalised vertical distance of row centre `py` from the centre.
    fn dy2(&self, py: f64) -> f64 {
        let dy = (py - self.cy) * self.inv_ry;
        dy * dy
    }

    /// Whether `(px, py)` is strictly inside, given `dy2 = self.dy2(py)`.
    fn contains(&self, px: f64, dy2: f64) -> bool {
        let dx = (px - self.cx) * self.inv_rx;
        dx * dx + dy2 < 1.0
    }

    /// The covered pixels of row `y` within `pixels`: an analytic guess corrected against [`Self::contains`]
    /// so that it agrees with [`covers`] exactly.
    fn row_span(&self, y: usize, pixels: &SampleBox) -> Option<Span> {
        let dy2 = self.dy2(center(y));
        if dy2 >= 1.0 {
            return None;
        }
        let half = self.rx * (1.0 - dy2).sqrt();
        let inside = |x: usize| self.contains(center(x), dy2);
        let mut start = first_center_at_or_after(self.cx - half, pixels.x1).max(pixels.x0);
        let mut end = first_center_at_or_after(self.cx + half, pixels.x1).max(start);
        while start < end && !inside(start) {
            start += 1;
        }
        while start > pixels.x0 && inside(start - 1) {
            start -= 1;
        }
        end = end.max(start);
        while end > start && !inside(end - 1) {
            end -= 1;
        }
        while end < pixels.x1 && inside(end) {
            end += 1;
        }
        (start < end).then_some(Span { start, end })
    }
}

/// The closed polygon's edges, last vertex back to the first.
fn edges(points: &[Point]) -> impl Iterator<Item = (Point, Point)> + '_ {
    points.iter().copied().zip(points.iter().copied().cycle().skip(1))
}

/// At least 3 finite vertices, not all on one line (zero-area polygons cover nothing).
fn polygon_is_fillable(points: &[Point]) -> bool {
    points.len() >= 3 && points.iter().all(|p| p.x.is_finite() && p.y.is_finite()) && !all_collinear(points)
}

fn all_collinear(points: &[Point]) -> bool {
    let p0 = points[0];
    let Some(p1) = points.iter().find(|p| **p != p0) else {
        return true;
    };
    let d = |p: &Point| (f64::from(p.x) - f64::from(p0.x), f64::from(p.y) - f64::from(p0.y));
    let (ax, ay) = d(p1);
    points.iter().all(|p| {
        let (bx, by) = d(p);
        ax * by == ay * bx
    })
}

/// Where edge `a`–`b` crosses the horizontal line `py`, counting its lower end but not its upper one (so a
/// vertex is crossed once, horizontal edges never). Computed from the lower end whichever way the edge
/// runs, so an edge traversed back and forth gives the same crossing twice and cancels out.
fn edge_crossing(a: Point, b: Point, py: f64) -> Option<f64> {
    let (lo, hi) = if a.y < b.y { (a, b) } else { (b, a) };
    let [lx, ly, hx, hy] = [lo.x, lo.y, hi.x, hi.y].map(f64::from);
    (ly <= py && py < hy).then(|| lx + (py - ly) * (hx - lx) / (hy - ly))
}

/// Appends the even-odd spans of full-resolution row `y`, clipped to `pixels`.
fn polygon_row_spans(
    points: &[Point],
    y: usize,
    pixels: &SampleBox,
    crossings: &mut Vec<f64>,
    out: &mut Vec<Span>,
) {
    let py = center(y);
    crossings.clear();
    crossings.extend(edges(points).filter_map(|(a, b)| edge_crossing(a, b, py)));
    crossings.sort_unstable_by(f64::total_cmp);
    for pair in crossings.chunks_exact(2) {
        let start = first_center_at_or_after(pair[0], pixels.x1).max(pixels.x0);
        let end = first_center_at_or_after(pair[1], pixels.x1).max(pixels.x0);
        if start < end {
            out.push(Span { start, end });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Rect {
        Rect::new(x0, y0, x1, y1)
    }

    fn polygon(points: &[(f32, f32)]) -> Shape {
        Shape::Polygon(points.iter().map(|&(x, y)| Point::new(x, y)).collect())
    }

    fn full_grid(width: usize, height: usize) -> PlaneGrid {
        PlaneGrid { width, height, sub_x: 1, sub_y: 1 }
    }

    /// Rasterises `shape` on a `width`×`height` frame into `(row, start, end)` triples.
    fn spans(shape: &Shape, width: usize, height: usize, grid: PlaneGrid) -> Vec<(usize, usize, usize)> {
        let mut coverage = Coverage::new();
        let pixels = SampleBox::of_shape(shape, width, height);
        Rasterizer::new().rasterize(shape, pixels, &grid, &mut coverage);
        (0..grid.height).flat_map(|y| coverage.row(y).iter().map(move |s| (y, s.start, s.end))).collect()
    }

    #[test]
    fn rect_covers_pixels_whose_centres_are_inside() {
        let shape = Shape::Rect(rect(1.2, 2.0, 4.6, 3.6));
        assert_eq!(spans(&shape, 10, 10, full_grid(10, 10)), vec![(2, 1, 5), (3, 1, 5)]);
    }

    #[test]
    fn rect_edge_through_a_centre_includes_left_and_top_excludes_right_and_bottom() {
        let shape = Shape::Rect(rect(1.5, 1.5, 3.5, 2.5));
        assert_eq!(spans(&shape, 10, 10, full_grid(10, 10)), vec![(1, 1, 3)]);
    }

    #[test]
    fn an_ellipse_never_covers_a_centre_on_its_rect_edge() {
        // Found by the engine's proptest: (17.5 - 11.375) * (2 / 12.25) rounds below 1, so the
        // centre on the right edge of the rect looked inside the ellipse, while the rasterizer's
        // bounding box (half-open, as for rects) leaves it out.
        let shape = Shape::Ellipse(Rect { x0: 5.25, y0: -2.0, x1: 17.5, y1: 15.0 });
        assert!(!covers(&shape, 17, 6));
        assert!(covers(&shape, 16, 6));
    }

    #[test]
    fn ellipse_is_round() {
        // Circle of radius 3 centred at (5, 5): row 2 (centre 2.5) spans 5 ± sqrt(9 - 6.25) = 5 ± 1.66,
        // row 3 spans 5 ± 2.6.
        let shape = Shape::Ellipse(rect(2.0, 2.0, 8.0, 8.0));
        assert_eq!(
            spans(&shape, 10, 10, full_grid(10, 10)),
            vec![(2, 3, 7), (3, 2, 8), (4, 2, 8), (5, 2, 8), (6, 2, 8), (7, 3, 7)]
        );
    }

    #[test]
    fn triangle_narrows_row_by_row() {
        let shape = polygon(&[(0.0, 0.0), (8.0, 0.0), (0.0, 8.0)]);
        let expected: Vec<_> = (0..8).map(|y| (y, 0, 8 - y - 1)).filter(|s| s.2 > 0).collect();
        assert_eq!(spans(&shape, 10, 10, full_grid(10, 10)), expected);
    }

    #[test]
    fn concave_polygon_gives_two_spans_on_a_row() {
        // A "U": two prongs joined at the bottom.
        let shape = polygon(&[
            (0.0, 0.0),
            (2.0, 0.0),
            (2.0, 3.0),
            (5.0, 3.0),
            (5.0, 0.0),
            (7.0, 0.0),
            (7.0, 5.0),
            (0.0, 5.0),
        ]);
        let got = spans(&shape, 10, 10, full_grid(10, 10));
        assert_eq!(&got[..2], &[(0, 0, 2), (0, 5, 7)]);
        assert_eq!(&got[6..], &[(3, 0, 7), (4, 0, 7)]);
        assert_eq!(got.len(), 8);
    }

    #[test]
    fn polygon_winding_does_not_matter() {
        let cw = polygon(&[(1.0, 1.0), (6.0, 2.0), (3.0, 7.0)]);
        let ccw = polygon(&[(3.0, 7.0), (6.0, 2.0), (1.0, 1.0)]);
        assert_eq!(spans(&cw, 10, 10, full_grid(10, 10)), spans(&ccw, 10, 10, full_grid(10, 10)));
        assert!(!spans(&cw, 10, 10, full_grid(10, 10)).is_empty());
    }

    #[test]
    fn self_intersecting_polygon_uses_even_odd() {
        // Pentagram: the centre pentagon crosses twice and is not covered.
        let star = polygon(&[(10.0, 0.0), (16.0, 19.0), (0.0, 7.0), (20.0, 7.0), (4.0, 19.0)]);
        assert!(!covers(&star, 10, 10));
        assert!(covers(&star, 10, 3));
        let got = spans(&star, 20, 20, full_grid(20, 20));
        assert!(got.iter().all(|&(y, start, end)| y != 10 || !(start..end).contains(&10)));
    }

    #[test]
    fn shapes_partly_outside_are_clipped() {
        let shape = Shape::Rect(rect(-5.0, -5.0, 2.0, 1.0));
        assert_eq!(spans(&shape, 4, 4, full_grid(4, 4)), vec![(0, 0, 2)]);
        let shape = Shape::Ellipse(rect(2.0, 2.0, 10.0, 10.0));
        let got = spans(&shape, 4, 4, full_grid(4, 4));
        assert!(got.iter().all(|&(y, _, end)| y < 4 && end <= 4));
        assert!(got.contains(&(3, 3, 4)));
    }

    #[test]
    fn shapes_wholly_outside_cover_nothing() {
        for shape in [
            Shape::Rect(rect(10.0, 0.0, 20.0, 4.0)),
            Shape::Rect(rect(-8.0, -8.0, -1.0, -1.0)),
            Shape::Ellipse(rect(0.0, 5.0, 4.0, 9.0)),
            polygon(&[(-5.0, 0.0), (-1.0, 0.0), (-3.0, 3.0)]),
        ] {
            assert_eq!(spans(&shape, 4, 4, full_grid(4, 4)), vec![], "{shape:?}");
        }
    }

    #[test]
    fn zero_size_and_degenerate_shapes_cover_nothing() {
        for shape in [
            Shape::Rect(rect(2.0, 2.0, 2.0, 5.0)),
            Shape::Rect(rect(5.0, 2.0, 2.0, 5.0)),
            Shape::Ellipse(rect(1.0, 1.0, 5.0, 1.0)),
            Shape::Rect(rect(f32::NAN, 0.0, 5.0, 5.0)),
            Shape::Rect(rect(0.0, 0.0, f32::NAN, 5.0)),
            polygon(&[(1.0, 1.0), (5.0, 5.0), (3.0, 3.0)]),
            polygon(&[(1.0, 1.0), (5.0, 5.0)]),
            polygon(&[(1.0, 1.0), (5.0, 1.0), (f32::INFINITY, 4.0)]),
            polygon(&[]),
        ] {
            assert_eq!(spans(&shape, 8, 8, full_grid(8, 8)), vec![], "{shape:?}");
        }
    }

    #[test]
    fn infinite_rect_covers_whole_frame() {
        let shape = Shape::Rect(rect(f32::NEG_INFINITY, f32::NEG_INFINITY, f32::INFINITY, f32::INFINITY));
        assert_eq!(spans(&shape, 3, 2, full_grid(3, 2)), vec![(0, 0, 3), (1, 0, 3)]);
    }

    #[test]
    fn one_pixel_mask_at_odd_offset_covers_the_chroma_sample_holding_it() {
        let shape = Shape::Rect(rect(5.0, 3.0, 6.0, 4.0));
        let chroma = PlaneGrid { width: 4, height: 4, sub_x: 2, sub_y: 2 };
        assert_eq!(spans(&shape, 8, 8, chroma), vec![(1, 2, 3)]);
        assert_eq!(spans(&shape, 8, 8, full_grid(8, 8)), vec![(3, 5, 6)]);
    }

    #[test]
    fn chroma_covers_every_sample_touched_by_a_mask_edge() {
        // Pixels x 1..=4, rows 1..=2 → chroma columns 0..=2, rows 0..=1.
        let shape = Shape::Rect(rect(1.0, 1.0, 5.0, 3.0));
        let chroma = PlaneGrid { width: 4, height: 4, sub_x: 2, sub_y: 2 };
        assert_eq!(spans(&shape, 8, 8, chroma), vec![(0, 0, 3), (1, 0, 3)]);
        let nv12_like = PlaneGrid { width: 4, height: 8, sub_x: 2, sub_y: 1 };
        assert_eq!(spans(&shape, 8, 8, nv12_like), vec![(1, 0, 3), (2, 0, 3)]);
    }

    #[test]
    fn chroma_merges_spans_from_both_rows_it_stands_for() {
        // Row 0: pixels 0..2; row 1: pixels 4..6 → chroma row 0 gets 0..1 and 2..3, apart.
        let shape = polygon(&[
            (0.0, 0.0),
            (2.0, 0.0),
            (2.0, 1.0),
            (6.0, 1.0),
            (6.0, 2.0),
            (4.0, 2.0),
            (4.0, 1.0),
            (0.0, 1.0),
        ]);
        let chroma = PlaneGrid { width: 4, height: 1, sub_x: 2, sub_y: 2 };
        assert_eq!(spans(&shape, 8, 2, chroma), vec![(0, 0, 1), (0, 2, 3)]);
        // Row 1: pixels 2..6 instead → the two runs touch and merge.
        let shape = polygon(&[
            (0.0, 0.0),
            (2.0, 0.0),
            (2.0, 1.0),
            (6.0, 1.0),
            (6.0, 2.0),
            (1.0, 2.0),
            (1.0, 1.0),
            (0.0, 1.0),
        ]);
        assert_eq!(spans(&shape, 8, 2, chroma), vec![(0, 0, 3)]);
    }

    #[test]
    fn odd_frame_edge_is_clipped_to_the_plane() {
        let shape = Shape::Rect(rect(0.0, 0.0, 100.0, 100.0));
        let chroma = PlaneGrid { width: 3, height: 2, sub_x: 2, sub_y: 2 };
        assert_eq!(spans(&shape, 5, 3, chroma), vec![(0, 0, 3), (1, 0, 3)]);
    }

    #[test]
    fn sample_box_follows_the_centre_rule_and_clips() {
        let shape = Shape::Ellipse(rect(-3.2, 1.5, 6.6, 99.0));
        assert_eq!(SampleBox::of_shape(&shape, 5, 10), SampleBox { x0: 0, y0: 1, x1: 5, y1: 10 });
        let plane = SampleBox { x0: 3, y0: 1, x1: 5, y1: 10 }.to_plane(&PlaneGrid {
            width: 3,
            height: 5,
            sub_x: 2,
            sub_y: 2,
        });
        assert_eq!(plane, SampleBox { x0: 1, y0: 0, x1: 3, y1: 5 });
    }

    #[test]
    fn first_center_handles_edges() {
        assert_eq!(first_center_at_or_after(0.5, 10), 0);
        assert_eq!(first_center_at_or_after(0.50001, 10), 1);
        assert_eq!(first_center_at_or_after(3.5, 10), 3);
        assert_eq!(first_center_at_or_after(9.5, 10), 9);
        assert_eq!(first_center_at_or_after(9.6, 10), 10);
        assert_eq!(first_center_at_or_after(f64::NEG_INFINITY, 10), 0);
        assert_eq!(first_center_at_or_after(f64::INFINITY, 10), 10);
        assert_eq!(first_center_at_or_after(f64::NAN, 10), 10);
    }
}
