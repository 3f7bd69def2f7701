//! Scalar pixel kernels (blur, pixelate, fill) applied to the covered samples of one region of a plane.
//!
//! Each kernel reads only the region (a shape's bounding box in plane samples) and writes only the samples
//! its [`Coverage`] lists. Large regions are split across the ambient rayon pool: row bands for row work,
//! column strips for the blur's vertical passes. The blur's hot loops are `box_row` (one box pass along
//! an interleaved row) and `column_step` (one row of a vertical box pass over a strip of columns): they
//! are what the AVX2/NEON variants in `redact/simd/` will replace.

use rayon::prelude::*;

use super::planes::{PlaneGrid, PlaneMut};
use super::raster::{Coverage, SampleBox, Span};

/// Blur regions with fewer samples than this run on the calling thread: splitting them costs more than it
/// saves. Face-size masks (~80×100) stay inline: split, they took the same wall time and kept pool threads
/// spinning; the planes of a frame still run side by side (see `engine`).
const BLUR_PARALLEL_MIN_SAMPLES: usize = 128 * 128;

/// The same for pixelation, about ten times cheaper a sample.
const PIXELATE_PARALLEL_MIN_SAMPLES: usize = 256 * 256;

/// The same for fill, a `memset`: only whole frames are worth splitting.
const FILL_PARALLEL_MIN_SAMPLES: usize = 1024 * 1024;

/// Bytes per column strip of the vertical blur passes: a strip of rows this wide stays in L1/L2 while its
/// three passes run, and its running sums fit on the stack.
const STRIP_BYTES: usize = 128;

/// Row bands per pool thread, so that uneven bands still balance.
const BANDS_PER_THREAD: usize = 4;

/// The largest blur radius, in samples; larger radii (boxes over ~12 000 pixels both ways) are clamped.
/// Keeps the division by multiplication exact.
pub const MAX_RADIUS: usize = 2047;

/// The largest pixelation block side, in samples (boxes over ~24 000 pixels both ways are clamped):
/// keeps a block's sum within `u32`.
pub const MAX_BLOCK: usize = 4096;

/// Radii of the blur's box passes in one plane, in samples.
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

/// The pixelation grid in one plane, in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockGrid {
    /// Block width.
    pub size_x: usize,
    /// Block height.
    pub size_y: usize,
    /// Column where a block starts (at or left of the region).
    pub origin_x: usize,
    /// Row where a block starts (at or above the region).
    pub origin_y: usize,
}

impl BlockGrid {
    /// The blocks for a shape whose bounding box, clipped to the frame, is `pixels` (luma grid).
    ///
    /// Blocks are `b = max(2, ceil(min(w, h) / 6))` full-resolution pixels, rounded up to even, so that a
    /// face is about 6 blocks across; the grid is anchored at the box origin floored to even coordinates.
    /// Even sizes and origins make the chroma grid (`b / s`, origin `/ s`) line up with the luma grid.
    /// Clamped to [`MAX_BLOCK`].
    pub fn for_box(pixels: &SampleBox, grid: &PlaneGrid) -> Self {
        let b = pixels.width().min(pixels.height()).div_ceil(6).max(2).next_multiple_of(2).min(MAX_BLOCK);
        BlockGrid {
            size_x: b / grid.sub_x,
            size_y: b / grid.sub_y,
            origin_x: (pixels.x0 & !1) / grid.sub_x,
            origin_y: (pixels.y0 & !1) / grid.sub_y,
        }
    }
}

/// Buffers the kernels reuse between calls; they only grow.
#[derive(Debug, Default)]
pub struct KernelScratch {
    /// The region after the vertical passes, strip-major (see [`blur`]).
    columns: Vec<u8>,
    /// Ping-pong partner of `columns`.
    columns_tmp: Vec<u8>,
    /// Two row buffers per row band.
    lines: Vec<u8>,
    /// Per-block sums of pixelation, one block row per band.
    block_sums: Vec<u32>,
}

impl KernelScratch {
    /// Empty buffers.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Sets every covered sample of `region` to `value` (channel `c` gets `value[c]`).
pub fn fill(plane: &mut PlaneMut<'_>, region: SampleBox, coverage: &Coverage, value: [u8; 4]) {
    fill_split(plane, region, coverage, value, region.area() >= FILL_PARALLEL_MIN_SAMPLES);
}

/// [`fill`], in row bands on the pool when `parallel`.
fn fill_split(
    plane: &mut PlaneMut<'_>,
    region: SampleBox,
    coverage: &Coverage,
    value: [u8; 4],
    parallel: bool,
) {
    let (channels, stride) = (plane.channels, plane.stride);
    let pattern = &value[..channels];
    let band_rows = band_rows(region.height(), parallel);
    let rows = rows_mut(plane, region.y0, &region);
    for_each_chunk(rows, band_rows * stride, parallel, |band, rows| {
        for (j, row) in rows.chunks_mut(stride).enumerate() {
            for span in coverage.row(region.y0 + band * band_rows + j) {
                fill_samples(&mut row[span.start * channels..span.end * channels], pattern);
            }
        }
    });
}

/// Blurs `region` and writes the result to its covered samples.
///
/// Three vertical box passes of radius `radius.y` then three horizontal ones of radius `radius.x`, each
/// a running sum per channel (cost independent of the radius), clamp-to-edge at the region's border so
/// only the region's own samples are read, every pass rounded to the nearest integer. The vertical passes
/// go strip by strip of 128 columns, row by row with a running sum per column, into a
/// strip-major copy of the region; the horizontal passes then go row by row and write covered spans.
pub fn blur(
    plane: &mut PlaneMut<'_>,
    region: SampleBox,
    coverage: &Coverage,
    radius: BlurRadius,
    scratch: &mut KernelScratch,
) {
    let parallel = region.area() >= BLUR_PARALLEL_MIN_SAMPLES;
    blur_split(plane, region, coverage, radius, scratch, parallel);
}

/// [`blur`], in column strips and row bands on the pool when `parallel`.
fn blur_split(
    plane: &mut PlaneMut<'_>,
    region: SampleBox,
    coverage: &Coverage,
    radius: BlurRadius,
    scratch: &mut KernelScratch,
    parallel: bool,
) {
    debug_assert!([radius.x, radius.y].iter().all(|r| (1..=MAX_RADIUS).contains(r)));
    let len = region.area() * plane.channels;
    grow(&mut scratch.columns, len);
    grow(&mut scratch.columns_tmp, len);
    let columns = &mut scratch.columns[..len];
    blur_columns(plane, &region, radius.y, columns, &mut scratch.columns_tmp[..len], parallel);
    blur_rows(plane, &region, coverage, radius.x, columns, &mut scratch.lines, parallel);
}

/// Three vertical passes from the plane into `out`, laid out strip-major: strip `k` holds the columns
/// `[k * STRIP_BYTES, …)` of every row of the region, contiguously.
fn blur_columns(
    plane: &PlaneMut<'_>,
    region: &SampleBox,
    radius: usize,
    out: &mut [u8],
    tmp: &mut [u8],
    parallel: bool,
) {
    let (height, stride) = (region.height(), plane.stride);
    let source = &plane.data[region.y0 * stride + region.x0 * plane.channels..];
    let divider = Divider::for_radius(radius);
    let strip_len = height * STRIP_BYTES;
    for_each_chunk_pair(out, strip_len, tmp, strip_len, parallel, |strip, out, tmp| {
        let width = out.len() / height;
        let mut sums = [0u32; STRIP_BYTES];
        let sums = &mut sums[..width];
        let plane_rows = Rows { data: &source[strip * STRIP_BYTES..], stride, width, count: height };
        column_pass(plane_rows, out, radius, divider, sums);
        column_pass(Rows::packed(out, width), tmp, radius, divider, sums);
        column_pass(Rows::packed(tmp, width), out, radius, divider, sums);
    });
}

/// Three horizontal passes over each row of `columns` (strip-major), written to the covered samples.
fn blur_rows(
    plane: &mut PlaneMut<'_>,
    region: &SampleBox,
    coverage: &Coverage,
    radius: usize,
    columns: &[u8],
    lines: &mut Vec<u8>,
    parallel: bool,
) {
    let (height, channels, stride) = (region.height(), plane.channels, plane.stride);
    let line_len = region.width() * channels;
    let band_rows = band_rows(height, parallel);
    let lines_len = height.div_ceil(band_rows) * 2 * line_len;
    grow(lines, lines_len);
    let divider = Divider::for_radius(radius);
    let rows = rows_mut(plane, region.y0, region);
    for_each_chunk_pair(
        rows,
        band_rows * stride,
        &mut lines[..lines_len],
        2 * line_len,
        parallel,
        |band, rows, lines| {
            let (line, tmp) = lines.split_at_mut(line_len);
            for (j, row) in rows.chunks_mut(stride).enumerate() {
                let y = band * band_rows + j;
                gather_row(columns, height, y, line);
                box_line(line, tmp, channels, radius, divider);
                box_line(tmp, line, channels, radius, divider);
                box_line(line, tmp, channels, radius, divider);
                for span in coverage.row(region.y0 + y) {
                    let from = &tmp[(span.start - region.x0) * channels..(span.end - region.x0) * channels];
                    row[span.start * channels..span.end * channels].copy_from_slice(from);
                }
            }
        },
    );
}

/// Copies row `y` of a strip-major region of `height` rows into `line`.
fn gather_row(columns: &[u8], height: usize, y: usize, line: &mut [u8]) {
    for (strip, part) in line.chunks_mut(STRIP_BYTES).enumerate() {
        let width = part.len();
        part.copy_from_slice(&columns[strip * STRIP_BYTES * height + y * width..][..width]);
    }
}

/// Replaces each block of `region` by its mean and writes that to the block's covered samples.
///
/// A block's value, per channel, is the rounded mean of the block's samples inside the region (blocks
/// at the border are partial). Work goes block row by block row.
pub fn pixelate(
    plane: &mut PlaneMut<'_>,
    region: SampleBox,
    coverage: &Coverage,
    grid: BlockGrid,
    scratch: &mut KernelScratch,
) {
    let parallel = region.area() >= PIXELATE_PARALLEL_MIN_SAMPLES;
    pixelate_split(plane, region, coverage, grid, scratch, parallel);
}

/// [`pixelate`], block row by block row on the pool when `parallel`.
fn pixelate_split(
    plane: &mut PlaneMut<'_>,
    region: SampleBox,
    coverage: &Coverage,
    grid: BlockGrid,
    scratch: &mut KernelScratch,
    parallel: bool,
) {
    debug_assert!(grid.origin_x <= region.x0 && grid.origin_y <= region.y0);
    let (channels, stride) = (plane.channels, plane.stride);
    let top = grid.origin_y + (region.y0 - grid.origin_y) / grid.size_y * grid.size_y;
    let left = grid.origin_x + (region.x0 - grid.origin_x) / grid.size_x * grid.size_x;
    let blocks = BlockColumns { left, size: grid.size_x, x0: region.x0, x1: region.x1 };
    let sums_per_band = blocks.count() * channels;
    let sums_len = (region.y1 - top).div_ceil(grid.size_y) * sums_per_band;
    grow(&mut scratch.block_sums, sums_len);
    let rows = rows_mut(plane, top, &region);
    let sums = &mut scratch.block_sums[..sums_len];
    for_each_chunk_pair(rows, grid.size_y * stride, sums, sums_per_band, parallel, |band, rows, sums| {
        let band_top = top + band * grid.size_y;
        let first = region.y0.max(band_top) - band_top;
        let end = region.y1.min(band_top + grid.size_y) - band_top;
        block_means(rows, stride, first..end, &blocks, channels, sums);
        for (j, row) in rows.chunks_mut(stride).enumerate().take(end).skip(first) {
            write_block_means(row, coverage.row(band_top + j), &blocks, channels, sums);
        }
    });
}

/// The columns of the blocks that meet a region `[x0, x1)`: block `k` starts at `left + k * size`.
struct BlockColumns {
    left: usize,
    size: usize,
    x0: usize,
    x1: usize,
}

impl BlockColumns {
    fn count(&self) -> usize {
        (self.x1 - self.left).div_ceil(self.size)
    }

    /// Block `k`'s columns inside the region.
    fn extent(&self, k: usize) -> (usize, usize) {
        let start = self.left + k * self.size;
        (start.max(self.x0), (start + self.size).min(self.x1))
    }
}

/// Fills `sums` with each block's rounded mean per channel over rows `rows` of the band.
fn block_means(
    band: &[u8],
    stride: usize,
    rows: std::ops::Range<usize>,
    blocks: &BlockColumns,
    channels: usize,
    sums: &mut [u32],
) {
    sums.fill(0);
    let height = rows.len();
    for row in band.chunks(stride).take(rows.end).skip(rows.start) {
        for (k, sum) in sums.chunks_exact_mut(channels).enumerate() {
            let (start, end) = blocks.extent(k);
            let samples = &row[start * channels..end * channels];
            if let [sum] = sum {
                *sum += samples.iter().map(|&v| u32::from(v)).sum::<u32>();
            } else {
                for pixel in samples.chunks_exact(channels) {
                    sum.iter_mut().zip(pixel).for_each(|(s, &v)| *s += u32::from(v));
                }
            }
        }
    }
    for (k, sum) in sums.chunks_exact_mut(channels).enumerate() {
        let (start, end) = blocks.extent(k);
        let count = ((end - start) * height) as u32;
        sum.iter_mut().for_each(|s| *s = (*s + count / 2) / count);
    }
}

/// Writes each covered sample of `row` with the mean of its block.
fn write_block_means(row: &mut [u8], spans: &[Span], blocks: &BlockColumns, channels: usize, means: &[u32]) {
    for span in spans {
        let mut x = span.start;
        while x < span.end {
            let k = (x - blocks.left) / blocks.size;
            let end = span.end.min(blocks.left + (k + 1) * blocks.size);
            let mut value = [0u8; 4];
            value.iter_mut().zip(&means[k * channels..(k + 1) * channels]).for_each(|(v, &m)| *v = m as u8);
            fill_samples(&mut row[x * channels..end * channels], &value[..channels]);
            x = end;
        }
    }
}

/// Repeats `pattern` (one pixel's channels) over `samples`.
fn fill_samples(samples: &mut [u8], pattern: &[u8]) {
    if let [value] = pattern {
        samples.fill(*value);
    } else {
        samples.chunks_exact_mut(pattern.len()).for_each(|pixel| pixel.copy_from_slice(pattern));
    }
}

/// Exact rounded division of a box's window sum by its size `n = 2r + 1`, by multiplication.
///
/// Running sums start at `bias = n / 2`, so they hold `sum + n / 2`; then `(sum + n / 2) · ⌈2^32 / n⌉ >> 32`
/// equals `(sum + n / 2) / n` for every `sum ≤ 255 n` as long as `3 ≤ n < 4096` (radius 1 to
/// [`MAX_RADIUS`]): the error term `(sum + n / 2) · (m n − 2^32) < 256 n² ≤ 2^32` never reaches the next
/// integer. The multiplier fits 32 bits, so one 32×32→64 multiply (`pmuludq`) divides a lane.
#[derive(Debug, Clone, Copy)]
struct Divider {
    bias: u32,
    multiplier: u32,
}

impl Divider {
    fn for_radius(radius: usize) -> Self {
        let n = 2 * radius.clamp(1, MAX_RADIUS) as u64 + 1;
        Divider { bias: (n / 2) as u32, multiplier: (1u64 << 32).div_ceil(n) as u32 }
    }

    /// The rounded mean of a window whose running sum (started at `bias`) is `biased_sum`.
    #[inline(always)]
    fn divide(self, biased_sum: u32) -> u8 {
        ((u64::from(biased_sum) * u64::from(self.multiplier)) >> 32) as u8
    }
}

/// One box pass along an interleaved row of `channels` channels, `src` → `dst`.
fn box_line(src: &[u8], dst: &mut [u8], channels: usize, radius: usize, divider: Divider) {
    match channels {
        1 => box_row::<1>(src, dst, radius, divider),
        2 => box_row::<2>(src, dst, radius, divider),
        3 => box_row::<3>(src, dst, radius, divider),
        _ => box_row::<4>(src, dst, radius, divider),
    }
}

/// One box pass of radius `radius` along a row of `CH`-channel pixels, clamp-to-edge.
///
/// A running sum per channel: output `i` is the rounded mean of pixels `i - r ..= i + r` (indices
/// clamped to the row); the left edge, middle and right edge are separate loops so the middle needs no
/// clamping.
fn box_row<const CH: usize>(src: &[u8], dst: &mut [u8], radius: usize, divider: Divider) {
    let (src, _) = src.as_chunks::<CH>();
    let (dst, _) = dst.as_chunks_mut::<CH>();
    let n = src.len();
    if n == 0 {
        return;
    }
    let last = n - 1;
    let mut sums = window_start(src, radius, divider.bias);
    let left_end = radius.min(n);
    let middle_end = n.saturating_sub(radius + 1).max(left_end);
    for i in 0..left_end {
        pixel_step(&mut sums, &mut dst[i], &src[(i + radius + 1).min(last)], &src[0], divider);
    }
    if middle_end > left_end {
        let adds = &src[left_end + radius + 1..];
        let subs = &src[left_end - radius..];
        for ((out, add), sub) in dst[left_end..middle_end].iter_mut().zip(adds).zip(subs) {
            pixel_step(&mut sums, out, add, sub, divider);
        }
    }
    for i in middle_end..n {
        pixel_step(&mut sums, &mut dst[i], &src[last], &src[i - radius], divider);
    }
}

/// `bias` plus the window sum of pixel 0: `r + 1` copies of pixel 0 and pixels `1..=r` (clamped to the row).
fn window_start<const CH: usize>(src: &[[u8; CH]], radius: usize, bias: u32) -> [u32; CH] {
    let last = src.len() - 1;
    let inside = radius.min(last);
    let mut sums = [bias; CH];
    for c in 0..CH {
        sums[c] +=
            (radius as u32 + 1) * u32::from(src[0][c]) + (radius - inside) as u32 * u32::from(src[last][c]);
        sums[c] += src[1..=inside].iter().map(|p| u32::from(p[c])).sum::<u32>();
    }
    sums
}

#[inline(always)]
fn pixel_step<const CH: usize>(
    sums: &mut [u32; CH],
    out: &mut [u8; CH],
    add: &[u8; CH],
    sub: &[u8; CH],
    divider: Divider,
) {
    for c in 0..CH {
        out[c] = divider.divide(sums[c]);
        sums[c] = sums[c].wrapping_add_signed(i32::from(add[c]) - i32::from(sub[c]));
    }
}

/// `count` rows of `width` bytes, `stride` apart.
#[derive(Clone, Copy)]
struct Rows<'a> {
    data: &'a [u8],
    stride: usize,
    width: usize,
    count: usize,
}

impl<'a> Rows<'a> {
    /// Rows stored back to back.
    fn packed(data: &'a [u8], width: usize) -> Self {
        Rows { data, stride: width, width, count: data.len() / width }
    }

    fn row(&self, i: usize) -> &'a [u8] {
        &self.data[i * self.stride..][..self.width]
    }
}

/// One vertical box pass of radius `radius` over `src` into packed `dst`, clamp-to-edge, with `sums` (one
/// per column) as the running window sums (biased, see [`Divider`]).
fn column_pass(src: Rows<'_>, dst: &mut [u8], radius: usize, divider: Divider, sums: &mut [u32]) {
    let last = src.count - 1;
    let inside = radius.min(last);
    let (first, last_row) = (src.row(0), src.row(last));
    for ((sum, &a), &b) in sums.iter_mut().zip(first).zip(last_row) {
        *sum = divider.bias + (radius as u32 + 1) * u32::from(a) + (radius - inside) as u32 * u32::from(b);
    }
    for i in 1..=inside {
        sums.iter_mut().zip(src.row(i)).for_each(|(sum, &v)| *sum += u32::from(v));
    }
    for (i, out) in dst.chunks_exact_mut(src.width).enumerate() {
        let add = src.row((i + radius + 1).min(last));
        let sub = src.row(i.saturating_sub(radius));
        column_step(sums, add, sub, out, divider);
    }
}

/// Emits one output row of a vertical pass and slides every column's window down by one row.
fn column_step(sums: &mut [u32], add: &[u8], sub: &[u8], out: &mut [u8], divider: Divider) {
    for (((sum, out), &add), &sub) in sums.iter_mut().zip(out).zip(add).zip(sub) {
        *out = divider.divide(*sum);
        *sum = *sum + u32::from(add) - u32::from(sub);
    }
}

/// The bytes of a plane from row `first_row` to the end of the region's last row.
fn rows_mut<'a>(plane: &'a mut PlaneMut<'_>, first_row: usize, region: &SampleBox) -> &'a mut [u8] {
    let end = (region.y1 - 1) * plane.stride + region.x1 * plane.channels;
    &mut plane.data[first_row * plane.stride..end]
}

/// Rows per band: all of them inline, else enough bands to keep every pool thread busy.
fn band_rows(height: usize, parallel: bool) -> usize {
    if parallel {
        height.div_ceil(BANDS_PER_THREAD * rayon::current_num_threads()).max(1)
    } else {
        height.max(1)
    }
}

fn grow<T: Default + Clone>(buffer: &mut Vec<T>, len: usize) {
    if buffer.len() < len {
        buffer.resize(len, T::default());
    }
}

/// Calls `f(index, chunk)` for each `chunk_len` chunk of `data`, on the pool when `parallel`.
fn for_each_chunk<T: Send>(
    data: &mut [T],
    chunk_len: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if parallel {
        data.par_chunks_mut(chunk_len).enumerate().for_each(|(i, chunk)| f(i, chunk));
    } else {
        data.chunks_mut(chunk_len).enumerate().for_each(|(i, chunk)| f(i, chunk));
    }
}

/// Calls `f(index, a_chunk, b_chunk)` for chunks of `a` and `b` taken in step, on the pool when `parallel`.
fn for_each_chunk_pair<A: Send, B: Send>(
    a: &mut [A],
    a_len: usize,
    b: &mut [B],
    b_len: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    debug_assert!(a.len().div_ceil(a_len) <= b.len().div_ceil(b_len));
    if parallel {
        a.par_chunks_mut(a_len).zip(b.par_chunks_mut(b_len)).enumerate().for_each(|(i, (a, b))| f(i, a, b));
    } else {
        a.chunks_mut(a_len).zip(b.chunks_mut(b_len)).enumerate().for_each(|(i, (a, b))| f(i, a, b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{Point, Rect, Shape};
    use crate::redact::raster::Rasterizer;

    fn pass<const CH: usize>(src: &[u8], radius: usize) -> Vec<u8> {
        let mut dst = vec![0; src.len()];
        box_row::<CH>(src, &mut dst, radius, Divider::for_radius(radius));
        dst
    }

    /// A deterministic pseudo-random byte sequence.
    fn noise(len: usize, seed: u32) -> Vec<u8> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn divider_rounds_exactly() {
        let radii = (1..=200).chain([1000, 1500, 2000, MAX_RADIUS]);
        for radius in radii {
            let n = 2 * radius as u32 + 1;
            let divider = Divider::for_radius(radius);
            for sum in 0..=255 * n {
                assert_eq!(
                    u32::from(divider.divide(sum + divider.bias)),
                    (sum + n / 2) / n,
                    "n {n} sum {sum}"
                );
            }
        }
    }

    #[test]
    fn box_row_is_a_rounded_clamped_moving_average() {
        assert_eq!(pass::<1>(&[0, 0, 90, 0, 0], 1), [0, 30, 30, 30, 0]);
        assert_eq!(pass::<1>(&[0, 0, 100], 1), [0, 33, 67]);
        assert_eq!(pass::<1>(&[10, 20], 5), [15, 15]);
        assert_eq!(pass::<1>(&[7], 3), [7]);
        assert_eq!(pass::<1>(&[0, 0, 0, 0, 0, 0, 220], 2), [0, 0, 0, 0, 44, 88, 132]);
    }

    #[test]
    fn box_row_keeps_interleaved_channels_apart() {
        let src = [0, 10, 1, 0, 10, 2, 90, 10, 3, 0, 10, 4, 0, 10, 5];
        assert_eq!(pass::<3>(&src, 1), [0, 10, 1, 30, 10, 2, 30, 10, 3, 30, 10, 4, 0, 10, 5]);
        let rgba: Vec<u8> = [[200, 0, 0, 255], [0, 200, 0, 255]].concat();
        assert_eq!(pass::<4>(&rgba, 1), [133, 67, 0, 255, 67, 133, 0, 255]);
    }

    #[test]
    fn column_pass_matches_row_pass_on_every_column() {
        for (height, radius) in [(1, 1), (2, 1), (5, 2), (37, 3), (40, 45)] {
            let width = 11;
            let stride = 13;
            let data = noise(stride * height, height as u32);
            let mut out = vec![0; width * height];
            let mut sums = vec![0; width];
            let rows = Rows { data: &data, stride, width, count: height };
            column_pass(rows, &mut out, radius, Divider::for_radius(radius), &mut sums);
            for x in 0..width {
                let column: Vec<u8> = (0..height).map(|y| data[y * stride + x]).collect();
                let expected = pass::<1>(&column, radius);
                let got: Vec<u8> = (0..height).map(|y| out[y * width + x]).collect();
                assert_eq!(got, expected, "column {x} height {height} radius {radius}");
            }
        }
    }

    fn plane_of(data: &mut [u8], width: usize, height: usize, channels: usize) -> PlaneMut<'_> {
        PlaneMut { data, stride: width * channels, width, height, channels, sub_x: 1, sub_y: 1 }
    }

    /// Region, coverage and grid of `shape` on a full-resolution plane.
    fn prepare(shape: &Shape, width: usize, height: usize) -> (SampleBox, SampleBox, Coverage, PlaneGrid) {
        let grid = PlaneGrid { width, height, sub_x: 1, sub_y: 1 };
        let pixels = SampleBox::of_shape(shape, width, height);
        let mut coverage = Coverage::new();
        Rasterizer::new().rasterize(shape, pixels, &grid, &mut coverage);
        (pixels, pixels.to_plane(&grid), coverage, grid)
    }

    fn blur_shape(data: &mut [u8], width: usize, height: usize, channels: usize, shape: &Shape) {
        let (pixels, region, coverage, grid) = prepare(shape, width, height);
        let mut plane = plane_of(data, width, height, channels);
        blur(&mut plane, region, &coverage, BlurRadius::for_box(&pixels, &grid), &mut KernelScratch::new());
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

    #[test]
    fn block_grid_is_even_and_anchored_on_even_pixels() {
        let luma = PlaneGrid { width: 1920, height: 1080, sub_x: 1, sub_y: 1 };
        let chroma = PlaneGrid { width: 960, height: 540, sub_x: 2, sub_y: 2 };
        let face = SampleBox { x0: 101, y0: 51, x1: 181, y1: 151 };
        assert_eq!(
            BlockGrid::for_box(&face, &luma),
            BlockGrid { size_x: 14, size_y: 14, origin_x: 100, origin_y: 50 }
        );
        assert_eq!(
            BlockGrid::for_box(&face, &chroma),
            BlockGrid { size_x: 7, size_y: 7, origin_x: 50, origin_y: 25 }
        );
        let small = SampleBox { x0: 3, y0: 4, x1: 16, y1: 40 };
        assert_eq!(
            BlockGrid::for_box(&small, &luma),
            BlockGrid { size_x: 4, size_y: 4, origin_x: 2, origin_y: 4 }
        );
        let dot = SampleBox { x0: 5, y0: 5, x1: 6, y1: 6 };
        assert_eq!(
            BlockGrid::for_box(&dot, &chroma),
            BlockGrid { size_x: 1, size_y: 1, origin_x: 2, origin_y: 2 }
        );
    }

    #[test]
    fn blur_of_a_constant_region_stays_constant_whatever_surrounds_it() {
        let (width, height) = (150, 120);
        for channels in 1..=4 {
            let mut data = noise(width * height * channels, channels as u32);
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
        let (width, height) = (128, 128);
        for cell in [1, 4, 8] {
            let mut data: Vec<u8> = (0..width * height)
                .map(|i| if (i % width / cell + i / width / cell) % 2 == 0 { 0 } else { 255 })
                .collect();
            let inside = |data: &[u8]| -> Vec<f64> {
                (32..96)
                    .flat_map(|y| (32..96).map(move |x| y * width + x))
                    .map(|i| f64::from(data[i]))
                    .collect()
            };
            let before = deviation(&inside(&data));
            blur_shape(&mut data, width, height, 1, &Shape::Rect(Rect::new(32.0, 32.0, 96.0, 96.0)));
            let after = deviation(&inside(&data));
            assert!(before > 120.0 && after < 0.1 * before, "cell {cell}: {before} → {after}");
        }
    }

    #[test]
    fn pixelate_writes_rounded_block_means() {
        // An 8×8 box gives 2-pixel blocks; block (x, y) holds v, v+1, v+8, v+9 with v = 8y + x.
        let (width, height) = (10, 9);
        let mut data: Vec<u8> = (0..width * height).map(|i| (i % width + 8 * (i / width)) as u8).collect();
        let before = data.clone();
        let shape = Shape::Rect(Rect::new(0.0, 0.0, 8.0, 8.0));
        let (pixels, region, coverage, grid) = prepare(&shape, width, height);
        let mut plane = plane_of(&mut data, width, height, 1);
        pixelate(
            &mut plane,
            region,
            &coverage,
            BlockGrid::for_box(&pixels, &grid),
            &mut KernelScratch::new(),
        );
        for y in 0..height {
            for x in 0..width {
                let expected = if x < 8 && y < 8 { (x & !1) + 8 * (y & !1) + 5 } else { x + 8 * y };
                assert_eq!(data[y * width + x] as usize, expected, "({x}, {y})");
            }
        }
        assert_ne!(data, before);
    }

    #[test]
    fn pixelate_averages_partial_border_blocks_over_the_region_only() {
        // Box x 1..4 (3 wide), y 0..1 → 2-pixel blocks anchored at 0: block 0 is column 1 alone, block 1 is
        // columns 2..4. Column 0 (outside the box) must not count.
        let mut data = vec![250, 10, 20, 41, 250];
        let shape = Shape::Rect(Rect::new(1.0, 0.0, 4.0, 1.0));
        let (pixels, region, coverage, grid) = prepare(&shape, 5, 1);
        let mut plane = plane_of(&mut data, 5, 1, 1);
        pixelate(
            &mut plane,
            region,
            &coverage,
            BlockGrid::for_box(&pixels, &grid),
            &mut KernelScratch::new(),
        );
        assert_eq!(data, [250, 10, 31, 31, 250]);
    }

    /// Runs `kernel` inline, then split on pools of several sizes, and checks every split gives the
    /// inline result (which the engine's property tests compare with a reference).
    fn assert_split_matches_inline(
        kernel: impl Fn(&mut PlaneMut<'_>, SampleBox, &Coverage, PlaneGrid, SampleBox, bool) + Sync,
    ) {
        let (width, height) = (301, 203);
        let shapes = [
            Shape::Ellipse(Rect::new(-20.0, 7.5, 280.0, 190.0)),
            Shape::Polygon(vec![
                Point::new(3.0, 3.0),
                Point::new(300.0, 40.0),
                Point::new(150.0, 120.0),
                Point::new(290.0, 200.0),
            ]),
        ];
        for channels in 1..=4 {
            for shape in &shapes {
                let (pixels, region, coverage, grid) = prepare(shape, width, height);
                let source = noise(width * height * channels, channels as u32);
                let mut inline = source.clone();
                kernel(
                    &mut plane_of(&mut inline, width, height, channels),
                    region,
                    &coverage,
                    grid,
                    pixels,
                    false,
                );
                assert_ne!(inline, source);
                for threads in [1, 3, 8] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let mut split = source.clone();
                    pool.install(|| {
                        kernel(
                            &mut plane_of(&mut split, width, height, channels),
                            region,
                            &coverage,
                            grid,
                            pixels,
                            true,
                        )
                    });
                    assert!(split == inline, "{channels} channels, {threads} threads, {shape:?}");
                }
            }
        }
    }

    #[test]
    fn split_blur_matches_inline() {
        assert_split_matches_inline(|plane, region, coverage, grid, pixels, parallel| {
            let radius = BlurRadius::for_box(&pixels, &grid);
            blur_split(plane, region, coverage, radius, &mut KernelScratch::new(), parallel);
        });
    }

    #[test]
    fn split_pixelate_matches_inline() {
        assert_split_matches_inline(|plane, region, coverage, grid, pixels, parallel| {
            let blocks = BlockGrid::for_box(&pixels, &grid);
            pixelate_split(plane, region, coverage, blocks, &mut KernelScratch::new(), parallel);
        });
    }

    #[test]
    fn split_fill_matches_inline() {
        assert_split_matches_inline(|plane, region, coverage, _, _, parallel| {
            fill_split(plane, region, coverage, [1, 2, 3, 4], parallel);
        });
    }

    #[test]
    fn fill_writes_each_channel_on_covered_samples_only() {
        let mut data = vec![9; 4 * 3 * 2];
        let shape = Shape::Rect(Rect::new(1.0, 1.0, 3.0, 2.0));
        let (_, region, coverage, _) = prepare(&shape, 4, 3);
        fill(&mut plane_of(&mut data, 4, 3, 2), region, &coverage, [1, 2, 3, 4]);
        let mut expected = vec![9; 24];
        expected[10..14].copy_from_slice(&[1, 2, 1, 2]);
        assert_eq!(data, expected);
    }
}
