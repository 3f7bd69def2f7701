//! `Redactor`: applies a redaction style inside mask shapes on every plane of a frame, reusing its buffers.

use std::sync::Arc;

use rayon::ThreadPool;
use rayon::prelude::*;

use super::blur::{self, BlurRadius};
use super::kernels::{self, BlockGrid, KernelScratch};
use super::planes::{PlaneMut, Style};
use super::raster::{Coverage, Rasterizer, SampleBox};
use super::simd::Simd;
use crate::geometry::Shape;

/// Below this many full-resolution pixels of work (the shapes' clipped boxes, summed) the planes are done
/// one after another on the calling thread. Above it they run side by side: with face-size masks this
/// is the only split (each mask is below the kernels' own thresholds), and it cuts wall time by a third
/// on 2 cores.
const PARALLEL_PLANES_MIN_PIXELS: usize = 64 * 64;

/// Redacts frames in place. Keep one per stage and reuse it: its buffers grow to the largest frame seen
/// and are not allocated again.
#[derive(Debug)]
pub struct Redactor {
    /// One per plane, so planes can be redacted at the same time.
    workers: Vec<PlaneWorker>,
    /// Where large work is split (shared with other redactors).
    pool: Arc<ThreadPool>,
    /// The vector path of the hot loops.
    simd: Simd,
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

/// The buffers one plane needs.
#[derive(Debug, Default)]
struct PlaneWorker {
    rasterizer: Rasterizer,
    coverage: Coverage,
    scratch: KernelScratch,
}

/// What is applied to every plane of one frame.
struct Job<'a> {
    simd: Simd,
    frame_width: usize,
    frame_height: usize,
    shapes: &'a [Shape],
    style: &'a Style,
}

impl Redactor {
    /// A redactor with empty buffers, on the [shared pool](super::pool::shared) and the fastest vector
    /// path of this CPU.
    pub fn new() -> Self {
        Self::with_pool(super::pool::shared())
    }

    /// A redactor that splits large work on `pool` (share one pool between the redactors of all cameras;
    /// see [`super::pool`]).
    pub fn with_pool(pool: Arc<ThreadPool>) -> Self {
        Redactor { workers: Vec::new(), pool, simd: Simd::best() }
    }

    /// The same redactor on another vector path (the scalar reference, to compare).
    pub fn with_simd(self, simd: Simd) -> Self {
        Redactor { simd, ..self }
    }

    /// Applies `style` inside each of `shapes` on every plane.
    ///
    /// `frame_width`×`frame_height` is the luma (full-resolution) grid; shapes are in its pixel
    /// coordinates and may extend past the frame (they are clipped). A sample of a subsampled plane is
    /// redacted when any pixel it stands for is covered. Each shape is processed on its own, in order,
    /// its blur radius or block size taken from its bounding box clipped to the frame; where shapes
    /// overlap the samples are redacted twice. Samples outside every shape, and stride padding, are never
    /// written. Large work (shapes covering 64×64 pixels or more, summed) runs on the redactor's pool,
    /// planes side by side and large regions in row bands; the rest on the calling thread.
    ///
    /// # Panics
    /// When a plane's geometry is unsupported or does not fit its data (see [`PlaneMut::assert_valid`]).
    pub fn apply(
        &mut self,
        planes: &mut [PlaneMut<'_>],
        frame_width: usize,
        frame_height: usize,
        shapes: &[Shape],
        style: &Style,
    ) {
        planes.iter().for_each(PlaneMut::assert_valid);
        if self.workers.len() < planes.len() {
            self.workers.resize_with(planes.len(), PlaneWorker::default);
        }
        let job = Job { simd: self.simd, frame_width, frame_height, shapes, style };
        let workers = &mut self.workers[..planes.len()];
        let work: usize = shapes
            .iter()
            .map(|s| SampleBox::of_shape(s, frame_width, frame_height).area())
            .fold(0, usize::saturating_add);
        // Below this no region reaches a kernel's own threshold either: nothing would use the pool.
        if work >= PARALLEL_PLANES_MIN_PIXELS {
            self.pool.install(|| {
                planes
                    .par_iter_mut()
                    .zip(workers)
                    .enumerate()
                    .for_each(|(i, (plane, worker))| worker.redact(i, plane, &job))
            });
        } else {
            planes
                .iter_mut()
                .zip(workers)
                .enumerate()
                .for_each(|(i, (plane, worker))| worker.redact(i, plane, &job));
        }
    }
}

impl PlaneWorker {
    /// Redacts every shape of `job` on plane number `index`.
    fn redact(&mut self, index: usize, plane: &mut PlaneMut<'_>, job: &Job<'_>) {
        if plane.is_empty() {
            return;
        }
        let grid = plane.grid();
        for shape in job.shapes {
            let pixels = SampleBox::of_shape(shape, job.frame_width, job.frame_height);
            let region = pixels.to_plane(&grid);
            if region.is_empty() {
                continue;
            }
            self.rasterizer.rasterize(shape, pixels, &grid, &mut self.coverage);
            if self.coverage.is_empty() {
                continue;
            }
            let coverage = &self.coverage;
            match job.style {
                Style::Blur => {
                    let radius = BlurRadius::for_box(&pixels, &grid);
                    blur::blur(job.simd, plane, region, coverage, radius, &mut self.scratch);
                }
                Style::Pixelate => {
                    let blocks = BlockGrid::for_box(&pixels, &grid);
                    kernels::pixelate(job.simd, plane, region, coverage, blocks, &mut self.scratch);
                }
                Style::Fill(values) => kernels::fill(plane, region, coverage, values[index.min(2)]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use proptest::prelude::*;

    use super::*;
    use crate::geometry::{Point, Rect};
    use crate::redact::blur::{BlurPlan, lerp_taps};
    use crate::redact::planes::PlaneGrid;
    use crate::redact::raster::covers;

    /// An owned plane for tests; `data` includes padding and tail bytes past the last row.
    #[derive(Debug, Clone)]
    struct TestPlane {
        data: Vec<u8>,
        stride: usize,
        width: usize,
        height: usize,
        channels: usize,
        sub_x: usize,
        sub_y: usize,
    }

    impl TestPlane {
        fn new(grid: PlaneGrid, channels: usize, padding: usize, tail: usize, seed: u64) -> Self {
            let stride = grid.width * channels + padding;
            let len = if grid.width == 0 || grid.height == 0 {
                tail
            } else {
                stride * (grid.height - 1) + grid.width * channels + tail
            };
            let data = crate::redact::kernels::tests::noise(len, seed);
            let PlaneGrid { width, height, sub_x, sub_y } = grid;
            TestPlane { data, stride, width, height, channels, sub_x, sub_y }
        }

        fn as_mut(&mut self) -> PlaneMut<'_> {
            PlaneMut {
                data: &mut self.data,
                stride: self.stride,
                width: self.width,
                height: self.height,
                channels: self.channels,
                sub_x: self.sub_x,
                sub_y: self.sub_y,
            }
        }

        fn grid(&self) -> PlaneGrid {
            PlaneGrid { width: self.width, height: self.height, sub_x: self.sub_x, sub_y: self.sub_y }
        }

        /// Byte offset of channel `c` of sample `(x, y)`.
        fn at(&self, x: usize, y: usize, c: usize) -> usize {
            y * self.stride + x * self.channels + c
        }

        /// Whether byte `i` is a sample (not padding or tail).
        fn is_sample(&self, i: usize) -> bool {
            self.stride > 0 && i / self.stride < self.height && i % self.stride < self.width * self.channels
        }
    }

    fn redact(planes: &mut [TestPlane], frame: (usize, usize), shapes: &[Shape], style: &Style) {
        redact_on(Simd::best(), planes, frame, shapes, style);
    }

    fn redact_on(
        simd: Simd,
        planes: &mut [TestPlane],
        frame: (usize, usize),
        shapes: &[Shape],
        style: &Style,
    ) {
        let mut views: Vec<PlaneMut<'_>> = planes.iter_mut().map(TestPlane::as_mut).collect();
        Redactor::new().with_simd(simd).apply(&mut views, frame.0, frame.1, shapes, style);
    }

    /// Conservative coverage by brute force: a sample is covered when any frame pixel it stands for is.
    fn covered(shape: &Shape, frame: (usize, usize), plane: &TestPlane, x: usize, y: usize) -> bool {
        let xs = x * plane.sub_x..((x + 1) * plane.sub_x).min(frame.0);
        let ys = y * plane.sub_y..((y + 1) * plane.sub_y).min(frame.1);
        ys.into_iter().any(|fy| xs.clone().any(|fx| covers(shape, fx, fy)))
    }

    /// The region of `shape` in `plane` (its clipped bounding box) and the box in frame pixels.
    fn region_of(shape: &Shape, frame: (usize, usize), plane: &TestPlane) -> (SampleBox, SampleBox) {
        let pixels = SampleBox::of_shape(shape, frame.0, frame.1);
        (pixels, pixels.to_plane(&plane.grid()))
    }

    /// Straightforward blur of `region` as [`BlurPlan`] defines it: cell means, 3 vertical then 3
    /// horizontal box passes on the cells (clamp-to-edge), bilinear back with weights in 16ths.
    fn reference_blur(plane: &TestPlane, region: SampleBox, radius: BlurRadius) -> Vec<Vec<u8>> {
        let plan = BlurPlan::new(radius);
        let (w, h, ch) = (region.width(), region.height(), plane.channels);
        let (kx, ky) = (plan.cell_x, plan.cell_y);
        let (gw, gh) = plan.cells(w, h);
        let mut cells: Vec<Vec<u8>> = (0..gh)
            .map(|j| {
                (0..gw * ch)
                    .map(|i| {
                        let (xs, ys) =
                            ((i / ch) * kx..((i / ch + 1) * kx).min(w), j * ky..((j + 1) * ky).min(h));
                        let n = (xs.len() * ys.len()) as u32;
                        let sum: u32 = ys
                            .flat_map(|y| xs.clone().map(move |x| (x, y)))
                            .map(|(x, y)| {
                                u32::from(plane.data[plane.at(region.x0 + x, region.y0 + y, i % ch)])
                            })
                            .sum();
                        ((sum + n / 2) / n) as u8
                    })
                    .collect()
            })
            .collect();
        let mean = |values: &mut dyn Iterator<Item = u8>, r: usize| -> u8 {
            let n = 2 * r as u32 + 1;
            ((values.map(u32::from).sum::<u32>() + n / 2) / n) as u8
        };
        let clamp = |i: isize, len: usize| i.clamp(0, len as isize - 1) as usize;
        for _ in 0..3 {
            let src = cells.clone();
            let r = plan.radius_y as isize;
            for (y, row) in cells.iter_mut().enumerate() {
                for (i, v) in row.iter_mut().enumerate() {
                    *v = mean(&mut (-r..=r).map(|d| src[clamp(y as isize + d, gh)][i]), plan.radius_y);
                }
            }
        }
        for _ in 0..3 {
            let src = cells.clone();
            let r = plan.radius_x as isize;
            for (y, row) in cells.iter_mut().enumerate() {
                for (i, v) in row.iter_mut().enumerate() {
                    let (x, c) = ((i / ch) as isize, i % ch);
                    *v = mean(&mut (-r..=r).map(|d| src[y][clamp(x + d, gw) * ch + c]), plan.radius_x);
                }
            }
        }
        (0..h)
            .map(|y| {
                let (j0, j1, wy) = lerp_taps(y, ky, gh);
                (0..w * ch)
                    .map(|i| {
                        let (i0, i1, wx) = lerp_taps(i / ch, kx, gw);
                        let c = i % ch;
                        let at = |j: usize| {
                            u32::from(cells[j][i0 * ch + c]) * u32::from(16 - wx)
                                + u32::from(cells[j][i1 * ch + c]) * u32::from(wx)
                        };
                        ((at(j0) * u32::from(16 - wy) + at(j1) * u32::from(wy) + 128) >> 8) as u8
                    })
                    .collect()
            })
            .collect()
    }

    /// The pixelated value of channel `c` of sample `(x, y)` in `region`.
    fn reference_block_mean(
        plane: &TestPlane,
        region: SampleBox,
        grid: BlockGrid,
        x: usize,
        y: usize,
        c: usize,
    ) -> u8 {
        let (bx, by) = ((x - grid.origin_x) / grid.size_x, (y - grid.origin_y) / grid.size_y);
        let xs = (grid.origin_x + bx * grid.size_x).max(region.x0)
            ..(grid.origin_x + (bx + 1) * grid.size_x).min(region.x1);
        let ys = (grid.origin_y + by * grid.size_y).max(region.y0)
            ..(grid.origin_y + (by + 1) * grid.size_y).min(region.y1);
        let count = (xs.len() * ys.len()) as u32;
        let sum: u32 = ys
            .flat_map(|sy| xs.clone().map(move |sx| (sx, sy)))
            .map(|(sx, sy)| u32::from(plane.data[plane.at(sx, sy, c)]))
            .sum();
        ((sum + count / 2) / count) as u8
    }

    /// Applies one shape to one plane the slow way.
    fn reference_apply(
        plane: &mut TestPlane,
        index: usize,
        frame: (usize, usize),
        shape: &Shape,
        style: &Style,
    ) {
        let (pixels, region) = region_of(shape, frame, plane);
        if region.is_empty() {
            return;
        }
        let grid = plane.grid();
        let blurred = matches!(style, Style::Blur)
            .then(|| reference_blur(plane, region, BlurRadius::for_box(&pixels, &grid)));
        let source = plane.clone();
        for y in region.y0..region.y1 {
            for x in (region.x0..region.x1).filter(|&x| covered(shape, frame, &source, x, y)) {
                for c in 0..plane.channels {
                    let at = plane.at(x, y, c);
                    plane.data[at] = match style {
                        Style::Blur => {
                            blurred.as_ref().unwrap()[y - region.y0][(x - region.x0) * plane.channels + c]
                        }
                        Style::Pixelate => {
                            reference_block_mean(&source, region, BlockGrid::for_box(&pixels, &grid), x, y, c)
                        }
                        Style::Fill(values) => values[index.min(2)][c],
                    };
                }
            }
        }
    }

    fn shape_strategy(frame: (usize, usize)) -> impl Strategy<Value = Shape> {
        let (w, h) = (frame.0 as f32, frame.1 as f32);
        // Quarter-pixel coordinates hit centres and edges exactly; some reach past the frame.
        let x = (-32i32..=(4 * w as i32 + 32)).prop_map(|q| q as f32 / 4.0);
        let y = (-32i32..=(4 * h as i32 + 32)).prop_map(|q| q as f32 / 4.0);
        let fine = (-8.0f32..w + 8.0, -8.0f32..h + 8.0);
        let rect = (x.clone(), y.clone(), x.clone(), y.clone())
            .prop_map(|(a, b, c, d)| Rect::new(a.min(c), b.min(d), a.max(c), b.max(d)));
        prop_oneof![
            rect.clone().prop_map(Shape::Rect),
            rect.prop_map(Shape::Ellipse),
            prop::collection::vec((x, y), 3..7)
                .prop_map(|v| Shape::Polygon(v.into_iter().map(|(x, y)| Point::new(x, y)).collect())),
            prop::collection::vec(fine, 3..6)
                .prop_map(|v| Shape::Polygon(v.into_iter().map(|(x, y)| Point::new(x, y)).collect())),
        ]
    }

    fn style_strategy() -> impl Strategy<Value = Style> {
        prop_oneof![Just(Style::Blur), Just(Style::Pixelate), any::<[[u8; 4]; 3]>().prop_map(Style::Fill)]
    }

    /// A plane of a `frame`: any subsampling and channels, sometimes a sample wider or narrower than the
    /// frame needs, with padding and tail bytes.
    fn plane_strategy(frame: (usize, usize)) -> impl Strategy<Value = TestPlane> {
        (1..=2usize, 1..=2usize, 1..=4usize, 0..=1usize, 0..=1usize, 0..=5usize, 0..=3usize, any::<u64>())
            .prop_map(move |(sub_x, sub_y, channels, wider, narrower, padding, tail, seed)| {
                let width = (frame.0.div_ceil(sub_x) + wider).saturating_sub(narrower);
                let grid = PlaneGrid { width, height: frame.1.div_ceil(sub_y), sub_x, sub_y };
                TestPlane::new(grid, channels, padding, tail, seed)
            })
    }

    fn case_strategy(
        sizes: std::ops::RangeInclusive<usize>,
    ) -> impl Strategy<Value = ((usize, usize), Vec<TestPlane>, Vec<Shape>, Style)> {
        (sizes.clone(), sizes).prop_flat_map(|frame| {
            (
                Just(frame),
                prop::collection::vec(plane_strategy(frame), 1..=3),
                prop::collection::vec(shape_strategy(frame), 0..=3),
                style_strategy(),
            )
        })
    }

    /// Checks every invariant of one redaction on every vector path: untouched outside the conservative
    /// coverage and in padding, exact fill, and kernels equal (bit for bit) to the slow reference applied
    /// shape after shape.
    fn check(
        frame: (usize, usize),
        planes: Vec<TestPlane>,
        shapes: Vec<Shape>,
        style: Style,
    ) -> Result<(), TestCaseError> {
        for simd in Simd::supported() {
            check_on(simd, frame, &planes, &shapes, style)?;
        }
        Ok(())
    }

    fn check_on(
        simd: Simd,
        frame: (usize, usize),
        planes: &[TestPlane],
        shapes: &[Shape],
        style: Style,
    ) -> Result<(), TestCaseError> {
        let mut got = planes.to_vec();
        redact_on(simd, &mut got, frame, shapes, &style);
        for (index, (before, after)) in planes.iter().zip(&got).enumerate() {
            for i in (0..before.data.len()).filter(|&i| !before.is_sample(i)) {
                prop_assert_eq!(before.data[i], after.data[i], "padding byte {} of plane {}", i, index);
            }
            for y in 0..before.height {
                for x in 0..before.width {
                    let hit = shapes.iter().any(|s| covered(s, frame, before, x, y));
                    for c in 0..before.channels {
                        let at = before.at(x, y, c);
                        if !hit {
                            prop_assert_eq!(
                                before.data[at],
                                after.data[at],
                                "({}, {}, {}) of plane {} outside",
                                x,
                                y,
                                c,
                                index
                            );
                        } else if let Style::Fill(values) = style {
                            prop_assert_eq!(
                                after.data[at],
                                values[index.min(2)][c],
                                "({}, {}, {}) fill",
                                x,
                                y,
                                c
                            );
                        }
                    }
                }
            }
            let mut expected = before.clone();
            for shape in shapes {
                reference_apply(&mut expected, index, frame, shape, &style);
            }
            prop_assert!(
                expected.data == after.data,
                "plane {} differs from the reference on {}",
                index,
                simd.name()
            );
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn small_frames_match_the_reference_and_touch_nothing_else((frame, planes, shapes, style) in case_strategy(0..=24)) {
            check(frame, planes, shapes, style)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        /// Regions above the inline threshold go through the parallel paths (bands, strips, planes).
        #[test]
        fn large_frames_match_the_reference_and_touch_nothing_else((frame, planes, shapes, style) in case_strategy(60..=200)) {
            check(frame, planes, shapes, style)?;
        }
    }

    fn i420(width: usize, height: usize, seed: u64) -> Vec<TestPlane> {
        let luma = PlaneGrid { width, height, sub_x: 1, sub_y: 1 };
        let chroma = PlaneGrid { width: width.div_ceil(2), height: height.div_ceil(2), sub_x: 2, sub_y: 2 };
        vec![
            TestPlane::new(luma, 1, 0, 0, seed),
            TestPlane::new(chroma, 1, 0, 0, seed + 1),
            TestPlane::new(chroma, 1, 0, 0, seed + 2),
        ]
    }

    fn changed(before: &TestPlane, after: &TestPlane) -> Vec<usize> {
        (0..before.data.len()).filter(|&i| before.data[i] != after.data[i]).collect()
    }

    #[test]
    fn one_pixel_mask_at_odd_offset_fills_one_sample_per_plane() {
        let mut planes = i420(9, 7, 1);
        planes.iter_mut().for_each(|p| p.data.fill(50));
        let before = planes.clone();
        let fill = Style::Fill([[200, 0, 0, 0], [10, 0, 0, 0], [20, 0, 0, 0]]);
        redact(&mut planes, (9, 7), &[Shape::Rect(Rect::new(5.0, 3.0, 6.0, 4.0))], &fill);
        assert_eq!(changed(&before[0], &planes[0]), [3 * 9 + 5]);
        assert_eq!(changed(&before[1], &planes[1]), [5 + 2]);
        assert_eq!(changed(&before[2], &planes[2]), [5 + 2]);
        assert_eq!((planes[0].data[32], planes[1].data[7], planes[2].data[7]), (200, 10, 20));
    }

    #[test]
    fn one_pixel_mask_blurs_and_pixelates_to_itself() {
        for style in [Style::Blur, Style::Pixelate] {
            let mut planes = i420(9, 7, 2);
            let before = planes.clone();
            redact(&mut planes, (9, 7), &[Shape::Ellipse(Rect::new(5.0, 3.0, 6.0, 4.0))], &style);
            assert_eq!(
                planes.iter().map(|p| &p.data).collect::<Vec<_>>(),
                before.iter().map(|p| &p.data).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn planes_of_zero_size_are_skipped() {
        let empty =
            |width, height| TestPlane::new(PlaneGrid { width, height, sub_x: 2, sub_y: 2 }, 2, 0, 0, 3);
        let frame_rect = [Shape::Rect(Rect::new(0.0, 0.0, 8.0, 8.0))];
        for style in [Style::Blur, Style::Pixelate, Style::Fill([[1; 4]; 3])] {
            let mut planes = vec![
                TestPlane::new(PlaneGrid { width: 8, height: 8, sub_x: 1, sub_y: 1 }, 1, 0, 0, 4),
                empty(0, 4),
                empty(4, 0),
            ];
            redact(&mut planes, (8, 8), &frame_rect, &style);
            redact(&mut planes, (0, 0), &frame_rect, &style);
            let mut none: Vec<TestPlane> = vec![];
            redact(&mut none, (8, 8), &frame_rect, &style);
        }
    }

    #[test]
    #[should_panic(expected = "needed")]
    fn plane_too_short_for_its_geometry_is_refused() {
        let mut plane = TestPlane::new(PlaneGrid { width: 8, height: 8, sub_x: 1, sub_y: 1 }, 1, 0, 0, 5);
        plane.data.pop();
        redact(&mut [plane], (8, 8), &[], &Style::Blur);
    }

    #[test]
    fn pixelate_makes_each_block_of_covered_samples_one_value() {
        let (width, height) = (101, 77);
        let mut planes = i420(width, height, 9);
        let before = planes.clone();
        let shape = Shape::Ellipse(Rect::new(13.0, 9.0, 90.0, 70.0));
        redact(&mut planes, (width, height), std::slice::from_ref(&shape), &Style::Pixelate);
        // Box 77×61 → 12-pixel blocks from (12, 8); 6-sample blocks from (6, 4) in chroma.
        for (plane, old) in planes.iter().zip(&before) {
            let (size, origin) = (12 / plane.sub_x, (12 / plane.sub_x, 8 / plane.sub_y));
            let mut values = std::collections::HashMap::new();
            for y in 0..plane.height {
                for x in (0..plane.width).filter(|&x| covered(&shape, (width, height), plane, x, y)) {
                    let block = ((x - origin.0) / size, (y - origin.1) / size);
                    let value = plane.data[plane.at(x, y, 0)];
                    assert_eq!(*values.entry(block).or_insert(value), value, "block {block:?} at ({x}, {y})");
                }
            }
            assert!(values.len() > 20);
            assert_ne!(plane.data, old.data);
        }
    }

    #[test]
    fn overlapping_shapes_are_each_redacted() {
        let mut planes = i420(16, 16, 6);
        let shapes =
            [Shape::Rect(Rect::new(0.0, 0.0, 10.0, 10.0)), Shape::Ellipse(Rect::new(4.0, 4.0, 16.0, 16.0))];
        let fill = Style::Fill([[1, 0, 0, 0], [2, 0, 0, 0], [3, 0, 0, 0]]);
        let before = planes.clone();
        redact(&mut planes, (16, 16), &shapes, &fill);
        assert!(planes[0].data[..10].iter().all(|&v| v == 1));
        assert_eq!(
            (planes[0].data[15 * 16 + 10], planes[0].data[15 * 16 + 15]),
            (1, before[0].data[15 * 16 + 15])
        );
    }

    #[test]
    fn redactor_is_reusable_across_frame_sizes() {
        let mut redactor = Redactor::new();
        for (width, height) in [(64, 48), (200, 120), (33, 17), (200, 120)] {
            let mut planes = i420(width, height, 7);
            let mut expected = planes.clone();
            let shape = Shape::Ellipse(Rect::new(3.0, 2.0, width as f32 - 4.0, height as f32 - 1.0));
            let mut views: Vec<PlaneMut<'_>> = planes.iter_mut().map(TestPlane::as_mut).collect();
            redactor.apply(&mut views, width, height, std::slice::from_ref(&shape), &Style::Blur);
            for (index, plane) in expected.iter_mut().enumerate() {
                reference_apply(plane, index, (width, height), &shape, &Style::Blur);
            }
            assert!(planes.iter().zip(&expected).all(|(a, b)| a.data == b.data), "{width}x{height}");
        }
    }

    #[test]
    fn a_redactor_on_its_own_pool_gives_the_same_bytes() {
        let (width, height) = (640, 360);
        let shapes = [
            Shape::Rect(Rect::new(0.0, 0.0, 640.0, 360.0)),
            Shape::Ellipse(Rect::new(50.0, 20.0, 200.0, 220.0)),
        ];
        for style in [Style::Blur, Style::Pixelate] {
            let mut shared = i420(width, height, 11);
            let mut own = shared.clone();
            redact(&mut shared, (width, height), &shapes, &style);
            let pool = crate::redact::pool::with_threads(1).unwrap();
            let mut views: Vec<PlaneMut<'_>> = own.iter_mut().map(TestPlane::as_mut).collect();
            Redactor::with_pool(pool).apply(&mut views, width, height, &shapes, &style);
            assert!(shared.iter().zip(&own).all(|(a, b)| a.data == b.data), "{style:?}");
        }
    }

    /// Milliseconds per call of `apply`: the best of 15 rounds of 10 calls (the best round is the one
    /// least disturbed by other work on the machine).
    fn time_ms(planes: &mut [TestPlane], shapes: &[Shape], style: &Style) -> f64 {
        let mut redactor = Redactor::new();
        let mut views: Vec<PlaneMut<'_>> = planes.iter_mut().map(TestPlane::as_mut).collect();
        redactor.apply(&mut views, 1920, 1080, shapes, style);
        (0..15)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..10 {
                    redactor.apply(&mut views, 1920, 1080, shapes, style);
                }
                start.elapsed().as_secs_f64() * 1000.0 / 10.0
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// `cargo test --release -- --ignored --nocapture redaction_speed`
    #[test]
    #[ignore = "timing; run in release"]
    fn redaction_speed_1080p() {
        let mut planes = i420(1920, 1080, 8);
        let frame = [Shape::Rect(Rect::new(0.0, 0.0, 1920.0, 1080.0))];
        let faces: Vec<Shape> = (0..10)
            .map(|i| {
                let (x, y) = (60.0 + 180.0 * i as f32, 100.0 + 80.0 * (i % 5) as f32);
                Shape::Ellipse(Rect::new(x, y, x + 80.0, y + 100.0))
            })
            .collect();
        let threads = rayon::current_num_threads();
        for (name, style) in
            [("blur", Style::Blur), ("pixelate", Style::Pixelate), ("fill", Style::Fill([[0; 4]; 3]))]
        {
            let whole = time_ms(&mut planes, &frame, &style);
            let masks = time_ms(&mut planes, &faces, &style);
            println!(
                "{name:8} 1080p I420, {threads} threads: whole frame {whole:.2} ms, 10 faces 80x100 {masks:.3} ms"
            );
        }
        let mut copies = planes.clone();
        let start = Instant::now();
        for _ in 0..100 {
            copies.iter_mut().zip(&planes).for_each(|(to, from)| to.data.copy_from_slice(&from.data));
        }
        println!("memcpy of the frame: {:.2} ms", start.elapsed().as_secs_f64() * 10.0);
    }
}
