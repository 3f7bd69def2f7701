//! Pixelate and fill, applied to the covered samples of one region of a plane, and what the kernels share:
//! block means, row views, band splitting and reused buffers. The blur is in [`super::blur`].
//!
//! Each kernel reads only the region (a shape's bounding box in plane samples) and writes only the samples
//! its [`Coverage`] lists. Large regions are split in row bands across the current rayon pool (the
//! redactor's, see [`super::pool`]).

use rayon::prelude::*;

use super::blur::BlurScratch;
use super::planes::{PlaneGrid, PlaneMut};
use super::raster::{Coverage, SampleBox, Span};
use super::simd::Simd;

/// Pixelation regions with fewer samples than this run on the calling thread: splitting them costs more
/// than it saves.
const PIXELATE_PARALLEL_MIN_SAMPLES: usize = 256 * 256;

/// The same for fill, a `memset`: only whole frames are worth splitting.
const FILL_PARALLEL_MIN_SAMPLES: usize = 1024 * 1024;

/// Row bands per pool thread, so that uneven bands still balance.
const BANDS_PER_THREAD: usize = 4;

/// Rows summed in 16-bit lanes before the sums are carried into 32 bits: `257 · 255 < 2^16`.
const ROWS_PER_WORD_SUM: usize = 257;

/// The largest pixelation block side, in samples (boxes over ~24 000 pixels both ways are clamped):
/// keeps a block's sum within `u32`.
pub const MAX_BLOCK: usize = 4096;

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

/// Buffers the kernels reuse between calls; they only grow, so a redactor in steady state allocates
/// nothing.
#[derive(Debug, Default)]
pub struct KernelScratch {
    /// One per row band that runs at the same time.
    pub(super) bands: Vec<BandScratch>,
    pub(super) blur: BlurScratch,
}

impl KernelScratch {
    /// Empty buffers.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The buffers of one row band computing block means.
#[derive(Debug, Default)]
pub(super) struct BandScratch {
    pub sums: BlockSums,
    /// Pixelation's block means of the band.
    means: Vec<u8>,
}

/// The running sums of [`block_means`].
#[derive(Debug, Default)]
pub(super) struct BlockSums {
    /// Column sums of up to [`ROWS_PER_WORD_SUM`] rows, one per byte of a region row.
    columns: Vec<u16>,
    /// Per-block, per-channel sums.
    blocks: Vec<u32>,
}

/// The first `count` of `bands`, added as needed.
pub(super) fn bands(bands: &mut Vec<BandScratch>, count: usize) -> &mut [BandScratch] {
    if bands.len() < count {
        bands.resize_with(count, BandScratch::default);
    }
    &mut bands[..count]
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

/// Replaces each block of `region` by its mean and writes that to the block's covered samples.
///
/// A block's value, per channel, is the rounded mean of the block's samples inside the region (blocks
/// at the border are partial). Work goes block row by block row.
pub fn pixelate(
    simd: Simd,
    plane: &mut PlaneMut<'_>,
    region: SampleBox,
    coverage: &Coverage,
    grid: BlockGrid,
    scratch: &mut KernelScratch,
) {
    let parallel = region.area() >= PIXELATE_PARALLEL_MIN_SAMPLES;
    pixelate_split(simd, plane, region, coverage, grid, scratch, parallel);
}

/// [`pixelate`], block row by block row on the pool when `parallel`.
fn pixelate_split(
    simd: Simd,
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
    let block_rows = (region.y1 - top).div_ceil(grid.size_y);
    let means_len = blocks.count() * channels;
    let bands = bands(&mut scratch.bands, block_rows);
    let rows = rows_mut(plane, top, &region);
    for_each_band(rows, grid.size_y * stride, bands, parallel, |band, rows, scratch| {
        let band_top = top + band * grid.size_y;
        let first = region.y0.max(band_top) - band_top;
        let end = region.y1.min(band_top + grid.size_y) - band_top;
        let source = Rows::of_region(&rows[first * stride..], stride, &blocks, channels, end - first);
        grow(&mut scratch.means, means_len);
        let means = &mut scratch.means[..means_len];
        block_means(simd, source, &blocks, channels, &mut scratch.sums, means);
        for (j, row) in rows.chunks_mut(stride).enumerate().take(end).skip(first) {
            write_block_means(row, coverage.row(band_top + j), &blocks, channels, means);
        }
    });
}

/// The columns of the blocks that meet a region `[x0, x1)`: block `k` starts at `left + k * size`.
#[derive(Debug, Clone, Copy)]
pub(super) struct BlockColumns {
    pub left: usize,
    pub size: usize,
    pub x0: usize,
    pub x1: usize,
}

impl BlockColumns {
    pub fn count(&self) -> usize {
        (self.x1 - self.left).div_ceil(self.size)
    }

    /// Block `k`'s columns inside the region.
    fn extent(&self, k: usize) -> (usize, usize) {
        let start = self.left + k * self.size;
        (start.max(self.x0), (start + self.size).min(self.x1))
    }
}

/// Fills `means` with each block's rounded mean per channel over the rows of `source` (the region's
/// columns `[blocks.x0, blocks.x1)` of some rows).
///
/// Rows are added up in 16-bit column sums (vector code), [`ROWS_PER_WORD_SUM`] at a time; each block
/// then sums its columns into 32 bits.
pub(super) fn block_means(
    simd: Simd,
    source: Rows<'_>,
    blocks: &BlockColumns,
    channels: usize,
    sums: &mut BlockSums,
    means: &mut [u8],
) {
    debug_assert_eq!(source.width, (blocks.x1 - blocks.x0) * channels);
    debug_assert_eq!(means.len(), blocks.count() * channels);
    grow(&mut sums.columns, source.width);
    grow(&mut sums.blocks, means.len());
    let column_sums = &mut sums.columns[..source.width];
    let block_sums = &mut sums.blocks[..means.len()];
    block_sums.fill(0);
    for first in (0..source.count).step_by(ROWS_PER_WORD_SUM) {
        column_sums.fill(0);
        for i in first..source.count.min(first + ROWS_PER_WORD_SUM) {
            simd.add_row(column_sums, source.row(i));
        }
        for (k, sums) in block_sums.chunks_exact_mut(channels).enumerate() {
            let (start, end) = blocks.extent(k);
            let columns = &column_sums[(start - blocks.x0) * channels..(end - blocks.x0) * channels];
            if let [sum] = sums {
                *sum += columns.iter().map(|&v| u32::from(v)).sum::<u32>();
            } else {
                for pixel in columns.chunks_exact(channels) {
                    sums.iter_mut().zip(pixel).for_each(|(s, &v)| *s += u32::from(v));
                }
            }
        }
    }
    for (k, (sums, means)) in
        block_sums.chunks_exact(channels).zip(means.chunks_exact_mut(channels)).enumerate()
    {
        let (start, end) = blocks.extent(k);
        let count = ((end - start) * source.count) as u32;
        means.iter_mut().zip(sums).for_each(|(m, &s)| *m = ((s + count / 2) / count) as u8);
    }
}

/// Writes each covered sample of `row` with the mean of its block.
fn write_block_means(row: &mut [u8], spans: &[Span], blocks: &BlockColumns, channels: usize, means: &[u8]) {
    for span in spans {
        let mut x = span.start;
        while x < span.end {
            let k = (x - blocks.left) / blocks.size;
            let end = span.end.min(blocks.left + (k + 1) * blocks.size);
            fill_samples(&mut row[x * channels..end * channels], &means[k * channels..(k + 1) * channels]);
            x = end;
        }
    }
}

/// Repeats `pattern` (one pixel's channels) over `samples`.
pub(super) fn fill_samples(samples: &mut [u8], pattern: &[u8]) {
    if let [value] = pattern {
        samples.fill(*value);
    } else {
        samples.chunks_exact_mut(pattern.len()).for_each(|pixel| pixel.copy_from_slice(pattern));
    }
}

/// `count` rows of `width` bytes, `stride` apart.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rows<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub count: usize,
}

impl<'a> Rows<'a> {
    /// Rows stored back to back.
    pub fn packed(data: &'a [u8], width: usize) -> Self {
        Rows { data, stride: width, width, count: data.len() / width.max(1) }
    }

    /// `count` rows of a plane (`data` starts at a row) restricted to the columns of `blocks`.
    pub fn of_region(
        data: &'a [u8],
        stride: usize,
        blocks: &BlockColumns,
        channels: usize,
        count: usize,
    ) -> Self {
        let width = (blocks.x1 - blocks.x0) * channels;
        Rows { data: &data[blocks.x0 * channels..], stride, width, count }
    }

    pub fn row(&self, i: usize) -> &'a [u8] {
        &self.data[i * self.stride..][..self.width]
    }
}

/// The bytes of a plane from row `first_row` to the end of the region's last row.
pub(super) fn rows_mut<'a>(
    plane: &'a mut PlaneMut<'_>,
    first_row: usize,
    region: &SampleBox,
) -> &'a mut [u8] {
    let end = (region.y1 - 1) * plane.stride + region.x1 * plane.channels;
    &mut plane.data[first_row * plane.stride..end]
}

/// Rows per band: all of them inline, else enough bands to keep every pool thread busy.
pub(super) fn band_rows(height: usize, parallel: bool) -> usize {
    if parallel {
        height.div_ceil(BANDS_PER_THREAD * rayon::current_num_threads()).max(1)
    } else {
        height.max(1)
    }
}

pub(super) fn grow<T: Default + Clone>(buffer: &mut Vec<T>, len: usize) {
    if buffer.len() < len {
        buffer.resize(len, T::default());
    }
}

/// Calls `f(index, chunk)` for each `chunk_len` chunk of `data`, on the pool when `parallel`.
pub(super) fn for_each_chunk<T: Send>(
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

/// Calls `f(index, chunk, band)` for each `chunk_len` chunk of `data` with the buffers of one band
/// each, on the pool when `parallel`.
pub(super) fn for_each_band<T: Send>(
    data: &mut [T],
    chunk_len: usize,
    bands: &mut [BandScratch],
    parallel: bool,
    f: impl Fn(usize, &mut [T], &mut BandScratch) + Sync + Send,
) {
    debug_assert!(data.len().div_ceil(chunk_len) <= bands.len());
    if parallel {
        data.par_chunks_mut(chunk_len)
            .zip(bands)
            .enumerate()
            .for_each(|(i, (chunk, band))| f(i, chunk, band));
    } else {
        data.chunks_mut(chunk_len).zip(bands).enumerate().for_each(|(i, (chunk, band))| f(i, chunk, band));
    }
}
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::geometry::{Point, Rect, Shape};
    use crate::redact::raster::Rasterizer;

    /// A deterministic pseudo-random byte sequence (a seed's two halves are folded together).
    pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
        let seed = seed as u32 ^ (seed >> 32) as u32;
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

    pub(crate) fn plane_of(data: &mut [u8], width: usize, height: usize, channels: usize) -> PlaneMut<'_> {
        PlaneMut { data, stride: width * channels, width, height, channels, sub_x: 1, sub_y: 1 }
    }

    /// Region, coverage and grid of `shape` on a full-resolution plane.
    pub(crate) fn prepare(
        shape: &Shape,
        width: usize,
        height: usize,
    ) -> (SampleBox, SampleBox, Coverage, PlaneGrid) {
        let grid = PlaneGrid { width, height, sub_x: 1, sub_y: 1 };
        let pixels = SampleBox::of_shape(shape, width, height);
        let mut coverage = Coverage::new();
        Rasterizer::new().rasterize(shape, pixels, &grid, &mut coverage);
        (pixels, pixels.to_plane(&grid), coverage, grid)
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
    fn pixelate_writes_rounded_block_means() {
        // An 8×8 box gives 2-pixel blocks; block (x, y) holds v, v+1, v+8, v+9 with v = 8y + x.
        let (width, height) = (10, 9);
        let mut data: Vec<u8> = (0..width * height).map(|i| (i % width + 8 * (i / width)) as u8).collect();
        let before = data.clone();
        let shape = Shape::Rect(Rect::new(0.0, 0.0, 8.0, 8.0));
        let (pixels, region, coverage, grid) = prepare(&shape, width, height);
        let mut plane = plane_of(&mut data, width, height, 1);
        pixelate(
            Simd::best(),
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
            Simd::best(),
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
    pub(crate) fn assert_split_matches_inline(
        kernel: impl Fn(Simd, &mut PlaneMut<'_>, SampleBox, &Coverage, PlaneGrid, SampleBox, bool) + Sync,
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
                let source = noise(width * height * channels, channels as u64);
                let simd = Simd::best();
                let mut inline = source.clone();
                kernel(
                    simd,
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
                            simd,
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
    fn split_pixelate_matches_inline() {
        assert_split_matches_inline(|simd, plane, region, coverage, grid, pixels, parallel| {
            let blocks = BlockGrid::for_box(&pixels, &grid);
            pixelate_split(simd, plane, region, coverage, blocks, &mut KernelScratch::new(), parallel);
        });
    }

    #[test]
    fn split_fill_matches_inline() {
        assert_split_matches_inline(|_, plane, region, coverage, _, _, parallel| {
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
