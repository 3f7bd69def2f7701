//! The blur: a Gaussian-like blur whose strength grows with the region and whose cost does not.
//!
//! Three box passes per axis approximate a Gaussian. Large radii run on a decimated grid: the region is
//! averaged down by `k` (cells of `k × k` samples), the three box passes run there with radius
//! `⌈r / k⌉`, and the result is interpolated back (bilinear) into the covered samples. `k` is chosen
//! so that the passes on the grid have a radius of 4 to 7 cells: the grid is far finer than the blur,
//! so the interpolation adds no visible structure, and the blur is at least as strong as three boxes of
//! radius `r` at full resolution (see [`BlurPlan`]). The cost is about one read of the region and one
//! write of the covered samples, whatever the radius.
//!
//! Every step is integer arithmetic with one rounding rule, so the vector paths in `simd/` give the
//! same bytes as the scalar reference.

use super::kernels::{
    BandScratch, BlockColumns, KernelScratch, Rows, band_rows, bands, block_means, fill_samples,
    for_each_band, for_each_chunk, grow, rows_mut,
};
use super::planes::{PlaneGrid, PlaneMut};
use super::raster::{Coverage, SampleBox};
use super::simd::{BoxDivider, LERP_ONE, MAX_BOX_RADIUS, Simd};

/// Blur regions with fewer samples than this run on the calling thread: splitting them costs more than it
/// saves. Face-size masks stay inline; the planes of a frame still run side by side (see `engine`).
const BLUR_PARALLEL_MIN_SAMPLES: usize = 128 * 128;

/// The smallest radius of the box passes on a decimated grid, in cells: `k = ⌊r / 4⌋`.
const MIN_GRID_RADIUS: usize = 4;

/// The largest blur radius, in samples; larger radii (boxes over ~12 000 pixels both ways) are clamped.
pub const MAX_RADIUS: usize = 2047;

/// The strength of the blur in one plane: the radius of its box passes at full resolution, in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlurRadius {
    /// Radius of each horizontal pass.
    pub x: usize,
    /// Radius of each vertical pass.
    pub y: usize,
}

impl BlurRadius {
    /// The blur strength for a shape whose bounding box, clipped to the frame, is `pixels` (luma grid).
    ///
    /// Each of the three box passes per axis has radius `r = max(1, ceil(min(w, h) / 6))` full-resolution
    /// pixels; in a plane subsampled by `s` on an axis, `max(1, ceil(r / s))` samples. Three passes of a
    /// box of `2r + 1` make a kernel reaching `±3r` (half the box: every output mixes the whole region)
    /// close to a Gaussian of σ = √(r² + r) ≈ r ≈ min(w, h) / 6. The radius grows with the box on purpose:
    /// a face must be unrecognisable whatever its size. Clamped to [`MAX_RADIUS`].
    pub fn for_box(pixels: &SampleBox, grid: &PlaneGrid) -> Self {
        let r = pixels.width().min(pixels.height()).div_ceil(6).max(1);
        let along = |sub: usize| r.div_ceil(sub).clamp(1, MAX_RADIUS);
        BlurRadius { x: along(grid.sub_x), y: along(grid.sub_y) }
    }
}

/// How a blur of a given [`BlurRadius`] runs: the decimation and the radius on the decimated grid.
///
/// Per axis, a radius `r` below 8 runs at full resolution (`k = 1`, box radius `r`). From 8 up it runs on
/// cells of `k = ⌊r / 4⌋` samples, with the smallest box radius `ρ` (4 to 6 cells) that keeps the blur
/// at least as strong as at full resolution. Strength is the kernel's variance, the sum of its parts' —
/// the cell average `(k² − 1) / 12`, the three boxes `k² ρ(ρ + 1)`, the bilinear interpolation `k² / 6`
/// — against `r(r + 1)` for three boxes of radius `r`. So σ never drops below √(r² + r) and exceeds it
/// by at most 20 % (at r = 27; 12 % for a whole 1080p frame: r = 180, k = 45, ρ = 4, σ = 202 pixels
/// instead of 180).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlurPlan {
    /// Samples per cell, horizontally.
    pub cell_x: usize,
    /// Samples per cell, vertically.
    pub cell_y: usize,
    /// Radius of the horizontal box passes, in cells.
    pub radius_x: usize,
    /// Radius of the vertical box passes, in cells.
    pub radius_y: usize,
}

impl BlurPlan {
    /// The plan for a blur of `radius`.
    pub fn new(radius: BlurRadius) -> Self {
        let (cell_x, radius_x) = decimate(radius.x);
        let (cell_y, radius_y) = decimate(radius.y);
        BlurPlan { cell_x, cell_y, radius_x, radius_y }
    }

    /// Cells of the grid over a region of `width × height` samples.
    pub fn cells(&self, width: usize, height: usize) -> (usize, usize) {
        (width.div_ceil(self.cell_x), height.div_ceil(self.cell_y))
    }

    fn is_full_resolution(&self) -> bool {
        self.cell_x == 1 && self.cell_y == 1
    }
}

/// `(k, ρ)` for a radius `r` (see [`BlurPlan`]).
fn decimate(radius: usize) -> (usize, usize) {
    let cell = (radius / MIN_GRID_RADIUS).max(1);
    if cell == 1 {
        return (1, radius);
    }
    // 12 × variance, exact in integers: 12 k² ρ(ρ + 1) + (k² − 1) + 2 k² ≥ 12 r(r + 1).
    let (k2, target) = (cell * cell, 12 * radius * (radius + 1));
    let grid_radius = (1..=MAX_BOX_RADIUS)
        .find(|&rho| 12 * k2 * rho * (rho + 1) + 3 * k2 > target)
        .expect("ρ = ⌈r / k⌉ ≤ 6 always reaches the variance");
    (cell, grid_radius)
}

/// Where position `p` of a region falls on a grid of `cells` cells of `cell` samples: the two cells to
/// interpolate between and the weight of the second, in 16ths.
///
/// Cell `i`'s centre is at `i·k + (k − 1) / 2`; positions before the first centre or after the last
/// take that cell alone. At `k = 1` every position is a centre: `(p, _, 0)`.
pub fn lerp_taps(p: usize, cell: usize, cells: usize) -> (usize, usize, u16) {
    // Twice the distance from the first centre, in samples.
    let Some(offset) = (2 * p + 1).checked_sub(cell) else {
        return (0, 0, 0);
    };
    let (first, rest) = (offset / (2 * cell), offset % (2 * cell));
    if first + 1 >= cells {
        return (cells - 1, cells - 1, 0);
    }
    (first, first + 1, ((usize::from(LERP_ONE) * rest + cell) / (2 * cell)) as u16)
}

/// The blur's reused buffers.
#[derive(Debug, Default)]
pub struct BlurScratch {
    /// The cell means (unused at full resolution).
    cells: Vec<u8>,
    /// The vertical passes' output and the blurred grid, ping-pong.
    pass: Vec<u8>,
    blurred: Vec<u8>,
    /// The vertical passes' running sums, one per byte of a grid row.
    column_sums: Vec<u16>,
    /// Two padded grid rows for the horizontal passes.
    lines: Vec<u8>,
    /// Per byte of a region row: the grid bytes to interpolate between and the weight.
    taps: Vec<Tap>,
    /// The blurred grid rows interpolated to the region's width, ×16.
    wide: Vec<u16>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Tap {
    first: u32,
    second: u32,
    weight: u16,
}

/// Blurs `region` and writes the result to its covered samples: down to the grid of `plan` (cell means,
/// rounded), three vertical then three horizontal box passes there (clamp-to-edge at the grid's border,
/// so only the region's own samples are read; each pass rounded), then bilinear back up (weights in
/// 16ths, rounded once).
pub fn blur(
    simd: Simd,
    plane: &mut PlaneMut<'_>,
    region: SampleBox,
    coverage: &Coverage,
    radius: BlurRadius,
    scratch: &mut KernelScratch,
) {
    let parallel = region.area() >= BLUR_PARALLEL_MIN_SAMPLES;
    blur_split(simd, plane, region, coverage, BlurPlan::new(radius), scratch, parallel);
}

/// [`blur`], in row bands on the pool when `parallel`.
pub(super) fn blur_split(
    simd: Simd,
    plane: &mut PlaneMut<'_>,
    region: SampleBox,
    coverage: &Coverage,
    plan: BlurPlan,
    scratch: &mut KernelScratch,
    parallel: bool,
) {
    let channels = plane.channels;
    let (width, height) = plan.cells(region.width(), region.height());
    let grid_len = width * height * channels;
    let KernelScratch { bands, blur } = scratch;
    grow(&mut blur.pass, grid_len);
    grow(&mut blur.blurred, grid_len);
    let blocks = BlockColumns { left: region.x0, size: plan.cell_x, x0: region.x0, x1: region.x1 };
    let rows = &plane.data[region.y0 * plane.stride..];
    let region_rows = Rows::of_region(rows, plane.stride, &blocks, channels, region.height());
    let source = if plan.is_full_resolution() {
        region_rows
    } else {
        grow(&mut blur.cells, grid_len);
        let cells = &mut blur.cells[..grid_len];
        downsample(simd, region_rows, &blocks, channels, plan.cell_y, cells, bands, parallel);
        Rows::packed(cells, width * channels)
    };
    let blurred = &mut blur.blurred[..grid_len];
    let passes = GridPasses {
        simd,
        channels,
        vertical: BoxDivider::for_radius(plan.radius_y),
        horizontal: BoxDivider::for_radius(plan.radius_x),
    };
    passes.run(source, &mut blur.pass[..grid_len], blurred, &mut blur.column_sums, &mut blur.lines);
    let blurred = Rows::packed(blurred, width * channels);
    if plan.is_full_resolution() {
        copy_covered(plane, &region, coverage, blurred, parallel);
    } else {
        let taps = x_taps(&mut blur.taps, region.width(), plan.cell_x, width, channels);
        let wide = widen(&mut blur.wide, blurred, taps, parallel);
        upsample(simd, plane, &region, coverage, plan.cell_y, wide, parallel);
    }
}

/// Cell means of `source` (the region) into `cells`, `cell_rows` region rows per cell row.
#[allow(clippy::too_many_arguments)]
fn downsample(
    simd: Simd,
    source: Rows<'_>,
    blocks: &BlockColumns,
    channels: usize,
    cell_rows: usize,
    cells: &mut [u8],
    bands_scratch: &mut Vec<BandScratch>,
    parallel: bool,
) {
    let row_len = blocks.count() * channels;
    let grid_rows = cells.len() / row_len;
    let per_band = band_rows(grid_rows, parallel);
    let bands = bands(bands_scratch, grid_rows.div_ceil(per_band));
    for_each_band(cells, per_band * row_len, bands, parallel, |band, cells, scratch| {
        for (j, means) in cells.chunks_mut(row_len).enumerate() {
            let first = (band * per_band + j) * cell_rows;
            let count = cell_rows.min(source.count - first);
            let rows = Rows { data: &source.data[first * source.stride..], count, ..source };
            block_means(simd, rows, blocks, channels, &mut scratch.sums, means);
        }
    });
}

/// The three vertical and three horizontal box passes over a grid.
struct GridPasses {
    simd: Simd,
    channels: usize,
    vertical: BoxDivider,
    horizontal: BoxDivider,
}

impl GridPasses {
    /// Blurs `source` into `out` (packed rows of the same width), `pass` holding the vertical passes.
    fn run(
        &self,
        source: Rows<'_>,
        pass: &mut [u8],
        out: &mut [u8],
        sums: &mut Vec<u16>,
        lines: &mut Vec<u8>,
    ) {
        let width = source.width;
        grow(sums, width);
        let sums = &mut sums[..width];
        self.column_pass(source, pass, sums);
        self.column_pass(Rows::packed(pass, width), out, sums);
        self.column_pass(Rows::packed(out, width), pass, sums);
        let reach = self.horizontal.radius() * self.channels;
        let line_len = width + 2 * reach;
        grow(lines, 2 * line_len);
        let (line, other) = lines[..2 * line_len].split_at_mut(line_len);
        for (row, out) in pass.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
            line[reach..reach + width].copy_from_slice(row);
            self.pad(line);
            self.simd.box_row(line, &mut other[reach..reach + width], self.channels, self.horizontal);
            self.pad(other);
            self.simd.box_row(other, &mut line[reach..reach + width], self.channels, self.horizontal);
            self.pad(line);
            self.simd.box_row(line, out, self.channels, self.horizontal);
        }
    }

    /// One vertical box pass from `source` into packed `out`, clamp-to-edge, with `sums` (one per byte
    /// of a row) as the running window sums.
    fn column_pass(&self, source: Rows<'_>, out: &mut [u8], sums: &mut [u16]) {
        let radius = self.vertical.radius();
        let last = source.count - 1;
        let row = |i: isize| source.row(i.clamp(0, last as isize) as usize);
        sums.fill(self.vertical.bias());
        for i in -(radius as isize)..=radius as isize {
            self.simd.add_row(sums, row(i));
        }
        for (i, out) in out.chunks_exact_mut(source.width).enumerate() {
            let i = i as isize;
            self.simd.column_step(
                sums,
                row(i + radius as isize + 1),
                row(i - radius as isize),
                out,
                self.vertical,
            );
        }
    }

    /// Repeats the first and last pixel of the row in the middle of `line` over the padding at each end.
    fn pad(&self, line: &mut [u8]) {
        let (reach, channels) = (self.horizontal.radius() * self.channels, self.channels);
        let (head, rest) = line.split_at_mut(reach);
        fill_samples(head, &rest[..channels]);
        let (body, tail) = line.split_at_mut(line.len() - reach);
        fill_samples(tail, &body[body.len() - channels..]);
    }
}

/// Copies the blurred region (full resolution) to its covered samples. (The same walk as
/// [`upsample`]; sharing it through a closure measured 30–60% slower, so the two stay apart.)
fn copy_covered(
    plane: &mut PlaneMut<'_>,
    region: &SampleBox,
    coverage: &Coverage,
    blurred: Rows<'_>,
    parallel: bool,
) {
    let (channels, stride) = (plane.channels, plane.stride);
    let band_rows = band_rows(region.height(), parallel);
    let rows = rows_mut(plane, region.y0, region);
    for_each_chunk(rows, band_rows * stride, parallel, |band, rows| {
        for (j, row) in rows.chunks_mut(stride).enumerate() {
            let y = band * band_rows + j;
            let from = blurred.row(y);
            for span in coverage.row(region.y0 + y) {
                let (start, end) = ((span.start - region.x0) * channels, (span.end - region.x0) * channels);
                row[span.start * channels..span.end * channels].copy_from_slice(&from[start..end]);
            }
        }
    });
}

/// The horizontal interpolation of every byte of a region row from a grid row (see [`lerp_taps`]).
fn x_taps(taps: &mut Vec<Tap>, width: usize, cell: usize, cells: usize, channels: usize) -> &[Tap] {
    grow(taps, width * channels);
    let taps = &mut taps[..width * channels];
    for (x, pixel) in taps.chunks_exact_mut(channels).enumerate() {
        let (first, second, weight) = lerp_taps(x, cell, cells);
        for (c, tap) in pixel.iter_mut().enumerate() {
            *tap =
                Tap { first: (first * channels + c) as u32, second: (second * channels + c) as u32, weight };
        }
    }
    taps
}

/// Every blurred grid row interpolated to the region's width, scaled by 16 (the horizontal half of
/// the bilinear step).
fn widen<'a>(wide: &'a mut Vec<u16>, grid: Rows<'_>, taps: &[Tap], parallel: bool) -> WideRows<'a> {
    let width = taps.len();
    grow(wide, grid.count * width);
    let wide = &mut wide[..grid.count * width];
    let band_rows = band_rows(grid.count, parallel);
    for_each_chunk(wide, band_rows * width, parallel, |band, rows| {
        for (j, row) in rows.chunks_exact_mut(width).enumerate() {
            let cells = grid.row(band * band_rows + j);
            for (out, tap) in row.iter_mut().zip(taps) {
                let (a, b) = (u16::from(cells[tap.first as usize]), u16::from(cells[tap.second as usize]));
                *out = a * (LERP_ONE - tap.weight) + b * tap.weight;
            }
        }
    });
    WideRows { data: wide, width }
}

/// Grid rows at the region's width, ×16.
#[derive(Clone, Copy)]
struct WideRows<'a> {
    data: &'a [u16],
    width: usize,
}

impl WideRows<'_> {
    fn count(&self) -> usize {
        self.data.len() / self.width
    }

    fn row(&self, i: usize) -> &[u16] {
        &self.data[i * self.width..][..self.width]
    }
}

/// The vertical half of the bilinear step, written to the covered samples.
fn upsample(
    simd: Simd,
    plane: &mut PlaneMut<'_>,
    region: &SampleBox,
    coverage: &Coverage,
    cell_rows: usize,
    wide: WideRows<'_>,
    parallel: bool,
) {
    let (channels, stride) = (plane.channels, plane.stride);
    let band_rows = band_rows(region.height(), parallel);
    let rows = rows_mut(plane, region.y0, region);
    for_each_chunk(rows, band_rows * stride, parallel, |band, rows| {
        for (j, row) in rows.chunks_mut(stride).enumerate() {
            let y = band * band_rows + j;
            let (first, second, weight) = lerp_taps(y, cell_rows, wide.count());
            let (top, bottom) = (wide.row(first), wide.row(second));
            for span in coverage.row(region.y0 + y) {
                let (start, end) = ((span.start - region.x0) * channels, (span.end - region.x0) * channels);
                let out = &mut row[span.start * channels..span.end * channels];
                simd.lerp_rows(&top[start..end], &bottom[start..end], weight, out);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{Point, Rect, Shape};
    use crate::redact::kernels::tests::{assert_split_matches_inline, noise, plane_of, prepare};

    fn blur_shape(data: &mut [u8], width: usize, height: usize, channels: usize, shape: &Shape) {
        let (pixels, region, coverage, grid) = prepare(shape, width, height);
        let mut plane = plane_of(data, width, height, channels);
        let radius = BlurRadius::for_box(&pixels, &grid);
        blur(Simd::best(), &mut plane, region, &coverage, radius, &mut KernelScratch::new());
    }

    #[test]
    fn blur_radius_grows_with_the_box_and_halves_in_chroma() {
        let luma = PlaneGrid { width: 1920, height: 1080, sub_x: 1, sub_y: 1 };
        let chroma = PlaneGrid { width: 960, height: 540, sub_x: 2, sub_y: 2 };
        let face = SampleBox { x0: 101, y0: 51, x1: 181, y1: 151 };
        assert_eq!(BlurRadius::for_box(&face, &luma), BlurRadius { x: 14, y: 14 });
        assert_eq!(BlurRadius::for_box(&face, &chroma), BlurRadius { x: 7, y: 7 });
        let frame = SampleBox { x0: 0, y0: 0, x1: 1920, y1: 1080 };
        assert_eq!(BlurRadius::for_box(&frame, &luma), BlurRadius { x: 180, y: 180 });
        let dot = SampleBox { x0: 5, y0: 5, x1: 6, y1: 6 };
        assert_eq!(BlurRadius::for_box(&dot, &chroma), BlurRadius { x: 1, y: 1 });
        let nv12 = PlaneGrid { width: 960, height: 1080, sub_x: 2, sub_y: 1 };
        assert_eq!(
            BlurRadius::for_box(&SampleBox { x0: 0, y0: 0, x1: 13, y1: 40 }, &nv12),
            BlurRadius { x: 2, y: 3 }
        );
    }

    /// The variance of the whole kernel of a plan, along one axis, in samples².
    fn variance(cell: usize, rho: usize) -> f64 {
        let (k, rho) = (cell as f64, rho as f64);
        if cell == 1 {
            rho * (rho + 1.0)
        } else {
            (k * k - 1.0) / 12.0 + k * k * rho * (rho + 1.0) + k * k / 6.0
        }
    }

    #[test]
    fn decimation_keeps_the_blur_at_least_as_strong_and_at_most_20_percent_stronger() {
        for r in 1..=MAX_RADIUS {
            let (k, rho) = decimate(r);
            assert!((1..=MAX_BOX_RADIUS).contains(&rho), "r {r}: ρ {rho}");
            assert_eq!(k == 1, r < 8, "r {r}: k {k}");
            let full = (r * (r + 1)) as f64;
            let ratio = (variance(k, rho) / full).sqrt();
            assert!((1.0..1.201).contains(&ratio), "r {r}: k {k} ρ {rho}, σ ×{ratio:.3}");
        }
        let frame = BlurPlan::new(BlurRadius { x: 180, y: 180 });
        assert_eq!(frame, BlurPlan { cell_x: 45, cell_y: 45, radius_x: 4, radius_y: 4 });
        assert_eq!(frame.cells(1920, 1080), (43, 24));
        let face = BlurPlan::new(BlurRadius { x: 14, y: 7 });
        assert_eq!(face, BlurPlan { cell_x: 3, cell_y: 1, radius_x: 5, radius_y: 7 });
    }

    #[test]
    fn lerp_taps_interpolate_between_cell_centres() {
        // Cells of 4: centres at 1.5, 5.5, 9.5; the last cell is partial (10 samples).
        let taps: Vec<_> = (0..10).map(|p| lerp_taps(p, 4, 3)).collect();
        assert_eq!(
            taps,
            [
                (0, 0, 0),
                (0, 0, 0),
                (0, 1, 2),
                (0, 1, 6),
                (0, 1, 10),
                (0, 1, 14),
                (1, 2, 2),
                (1, 2, 6),
                (1, 2, 10),
                (1, 2, 14)
            ]
        );
        assert!((0..7).all(|p| matches!(lerp_taps(p, 1, 7), (first, _, 0) if first == p)));
        assert_eq!(lerp_taps(0, 3, 1), (0, 0, 0));
        assert_eq!(lerp_taps(2, 3, 1), (0, 0, 0));
    }

    #[test]
    fn blur_of_a_constant_region_stays_constant_whatever_surrounds_it() {
        let (width, height) = (150, 120);
        for channels in 1..=4 {
            let mut data = noise(width * height * channels, channels as u64);
            let (x0, y0, x1, y1) = (20, 10, 130, 100);
            for y in y0..y1 {
                for x in x0..x1 {
                    for c in 0..channels {
                        data[(y * width + x) * channels + c] = 77 + c as u8;
                    }
                }
            }
            let before = data.clone();
            let shape = Shape::Ellipse(Rect::new(x0 as f32, y0 as f32, x1 as f32, y1 as f32));
            blur_shape(&mut data, width, height, channels, &shape);
            assert_eq!(data, before, "channels {channels}");
        }
    }

    fn deviation(values: &[f64]) -> f64 {
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
    }

    #[test]
    fn blur_flattens_a_checkerboard() {
        for (size, cells) in [(128, [1, 4, 8]), (640, [1, 8, 32])] {
            for cell in cells {
                let mut data: Vec<u8> = (0..size * size)
                    .map(|i| if (i % size / cell + i / size / cell) % 2 == 0 { 0 } else { 255 })
                    .collect();
                let (a, b) = (size / 4, 3 * size / 4);
                let inside = |data: &[u8]| -> Vec<f64> {
                    (a..b)
                        .flat_map(|y| (a..b).map(move |x| y * size + x))
                        .map(|i| f64::from(data[i]))
                        .collect()
                };
                let before = deviation(&inside(&data));
                let shape = Shape::Rect(Rect::new(a as f32, a as f32, b as f32, b as f32));
                blur_shape(&mut data, size, size, 1, &shape);
                let after = deviation(&inside(&data));
                assert!(before > 120.0 && after < 0.1 * before, "{size}, cell {cell}: {before} → {after}");
            }
        }
    }

    /// A decimated blur is a smooth field: neighbouring samples differ by little, so the cells leave no
    /// visible grid.
    #[test]
    fn decimated_blur_leaves_no_steps_at_cell_borders() {
        let (width, height) = (960, 540);
        let mut data = noise(width * height, 7);
        // A hard-edged bright square, the worst case for steps.
        for y in 200..340 {
            data[y * width + 400..y * width + 560].fill(255);
        }
        let shape = Shape::Rect(Rect::new(0.0, 0.0, width as f32, height as f32));
        blur_shape(&mut data, width, height, 1, &shape);
        let steps = (0..height).flat_map(|y| (1..width).map(move |x| (y, x)));
        let largest =
            steps.map(|(y, x)| data[y * width + x].abs_diff(data[y * width + x - 1])).max().unwrap();
        assert!(largest <= 2, "largest step between neighbours {largest}");
    }

    #[test]
    fn split_blur_matches_inline() {
        assert_split_matches_inline(|simd, plane, region, coverage, grid, pixels, parallel| {
            let plan = BlurPlan::new(BlurRadius::for_box(&pixels, &grid));
            blur_split(simd, plane, region, coverage, plan, &mut KernelScratch::new(), parallel);
        });
    }

    #[test]
    fn polygon_blur_touches_only_covered_samples() {
        let (width, height) = (300, 200);
        let shape =
            Shape::Polygon(vec![Point::new(10.0, 5.0), Point::new(290.0, 60.0), Point::new(40.0, 190.0)]);
        let mut data = noise(width * height * 2, 3);
        let before = data.clone();
        blur_shape(&mut data, width, height, 2, &shape);
        for y in 0..height {
            for x in 0..width {
                if !crate::redact::raster::covers(&shape, x, y) {
                    assert_eq!(
                        data[(y * width + x) * 2..][..2],
                        before[(y * width + x) * 2..][..2],
                        "({x}, {y})"
                    );
                }
            }
        }
        assert_ne!(data, before);
    }
}
