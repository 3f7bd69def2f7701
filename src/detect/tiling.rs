//! Cutting a frame into overlapping tiles, so detectors with a small input see people and faces
//! at a usable scale in large or wide frames.

use super::preprocess::Crop;

/// The most a tile is stretched to a square input (its long side over its short side).
pub const MAX_STRETCH: f32 = 1.5;
/// Tiles overlap by this share of the frame's short side, so a person on a seam is whole in one.
/// (An overlap shrinking with finer tiles was measured worse: on the stress set, people cut by
/// seams were found in neither tile.)
pub const TILE_OVERLAP: f32 = 0.25;

/// How the frame is cut into tiles for a detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tiling {
    /// Chosen by the detector. The face detector: the whole frame. The person detector: from the
    /// sizes of the people it finds ([`super::scale`]), at least the tiles of [`level_tiles`]
    /// level 1 (roughly square tiles across a wide frame, plus the whole frame).
    #[default]
    Auto,
    /// Level 1 always: roughly square tiles across a wide frame plus the whole frame, the whole
    /// frame alone for one within [`MAX_STRETCH`]. Constant cost; misses small people.
    Wide,
    /// `cols × rows` overlapping tiles plus the whole frame (1×1: the whole frame only). More
    /// tiles find smaller people at proportionally more CPU.
    Grid { cols: u32, rows: u32 },
}

/// The parts of a `width × height` frame a detector looks at: the whole frame, plus
/// overlapping tiles when the frame is cut. `Auto` is [`level_tiles`] level 1.
pub fn tiles(width: u32, height: u32, tiling: Tiling) -> Vec<Crop> {
    match tiling {
        Tiling::Grid { cols, rows } => {
            let overlap = TILE_OVERLAP * width.min(height).max(1) as f32;
            grid_tiles(width, height, cols.max(1), rows.max(1), overlap)
        }
        Tiling::Auto | Tiling::Wide => level_tiles(width, height, 1, 0.0),
    }
}

/// The grid (columns, rows) of [`tiles`] for `tiling` (1×1: the whole frame alone).
pub fn grid(width: u32, height: u32, tiling: Tiling) -> (u32, u32) {
    match tiling {
        Tiling::Grid { cols, rows } => (cols.max(1), rows.max(1)),
        Tiling::Auto | Tiling::Wide => level_grid(width, height, 1),
    }
}

/// A rectangle in normalised frame coordinates (0..1, x right, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

/// Keeps the whole frame (the first crop) and the tiles of a `cols × rows` grid (as [`tiles`]
/// and [`level_tiles`] make them: row by row after the whole frame) whose own cell of the grid,
/// its 1/cols × 1/rows share of the frame, meets `region`. The cells partition the frame and the
/// tiles overlap them, so a person inside the region is in a kept tile's cell and whole in a kept
/// tile or in the whole frame.
pub fn retain_cells_meeting(crops: &mut Vec<Crop>, (cols, rows): (u32, u32), region: &Region) {
    if crops.len() != 1 + (cols * rows) as usize || cols * rows <= 1 {
        return;
    }
    let meets =
        |i: u32, n: u32, lo: f32, hi: f32| (i as f32 / n as f32) < hi && lo < ((i + 1) as f32 / n as f32);
    let mut index = 0;
    crops.retain(|_| {
        let tile = index;
        index += 1;
        // The whole frame, then tile `tile - 1` of the grid, row by row.
        tile == 0 || {
            let (col, row) = ((tile - 1) % cols, (tile - 1) / cols);
            meets(col, cols, region.x0, region.x1) && meets(row, rows, region.y0, region.y1)
        }
    });
}

/// The grid of scale level `level` (≥ 1): `level` rows of tiles across the frame's short side,
/// and as many across the long side as keep each tile stretched at most [`MAX_STRETCH`]. Level 1
/// of a frame within `MAX_STRETCH` is the whole frame alone.
pub fn level_grid(width: u32, height: u32, level: u32) -> (u32, u32) {
    let level = level.max(1);
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let across = |long: f32, short: f32| (long / short * level as f32 / MAX_STRETCH).ceil().max(1.0) as u32;
    if w >= h { (across(w, h), level) } else { (level, across(h, w)) }
}

/// The crops of scale level `level`: the whole frame, plus the tiles of [`level_grid`]
/// overlapping by [`TILE_OVERLAP`] of the short side, or by `min_overlap` pixels if more (the
/// height of the tall people seen, so that everyone is whole in some tile). Level `k` sees people
/// `1 / (1/k + TILE_OVERLAP)` times larger than the whole frame does (1.33× at 2, 1.71× at 3, 2×
/// at 4).
pub fn level_tiles(width: u32, height: u32, level: u32, min_overlap: f32) -> Vec<Crop> {
    let level = level.max(1);
    let (cols, rows) = level_grid(width, height, level);
    let overlap = (TILE_OVERLAP * width.min(height).max(1) as f32).max(min_overlap);
    grid_tiles(width, height, cols, rows, overlap)
}

/// The whole frame, plus `cols × rows` tiles overlapping by `overlap` pixels (none when 1×1).
fn grid_tiles(width: u32, height: u32, cols: u32, rows: u32, overlap: f32) -> Vec<Crop> {
    let whole = Crop { x: 0, y: 0, w: width.max(1), h: height.max(1) };
    let mut crops = vec![whole];
    if cols * rows == 1 {
        return crops;
    }
    let spans = |len: u32, n: u32| -> Vec<(u32, u32)> {
        if n == 1 {
            return vec![(0, len)];
        }
        let size = ((len as f32 / n as f32 + overlap).round() as u32).min(len);
        let step = (len - size) as f32 / (n - 1) as f32;
        (0..n).map(|i| ((i as f32 * step).round() as u32, size)).collect()
    };
    for (y, h) in spans(height, rows) {
        for &(x, w) in &spans(width, cols) {
            crops.push(Crop { x, y, w, h });
        }
    }
    crops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_four_by_three_frame_is_seen_whole() {
        assert_eq!(tiles(640, 480, Tiling::Auto), [Crop { x: 0, y: 0, w: 640, h: 480 }]);
        assert_eq!(tiles(480, 640, Tiling::Auto), [Crop { x: 0, y: 0, w: 480, h: 640 }]);
    }

    #[test]
    fn a_wide_frame_gets_overlapping_tiles_and_a_whole_pass() {
        let crops = tiles(1920, 1080, Tiling::Auto);
        // 16:9 / 1.5 → 2 columns of 960 + 270 = 1230 px, at x = 0 and x = 690.
        assert_eq!(
            crops,
            [
                Crop { x: 0, y: 0, w: 1920, h: 1080 },
                Crop { x: 0, y: 0, w: 1230, h: 1080 },
                Crop { x: 690, y: 0, w: 1230, h: 1080 },
            ]
        );
        for c in &crops[1..] {
            let stretch = c.w.max(c.h) as f32 / c.w.min(c.h) as f32;
            assert!(stretch <= MAX_STRETCH, "{c:?}");
        }
    }

    #[test]
    fn a_grid_covers_the_frame() {
        let crops = tiles(1000, 600, Tiling::Grid { cols: 3, rows: 2 });
        assert_eq!(crops.len(), 7);
        for x in 0..1000 {
            for y in 0..600 {
                assert!(
                    crops[1..].iter().any(|c| (c.x..c.x + c.w).contains(&x) && (c.y..c.y + c.h).contains(&y)),
                    "({x},{y}) is in no tile"
                );
            }
        }
        assert!(crops[1..].iter().all(|c| c.x + c.w <= 1000 && c.y + c.h <= 600));
    }

    #[test]
    fn levels_shrink_the_tiles_in_proportion_and_keep_them_near_square() {
        for (w, h) in [(768, 576), (1024, 576), (1920, 1080), (576, 1024), (640, 480)] {
            let short = w.min(h) as f32;
            for level in 1..=4 {
                let crops = level_tiles(w, h, level, 0.0);
                let (cols, rows) = level_grid(w, h, level);
                assert_eq!(crops.len() as u32, 1 + if cols * rows == 1 { 0 } else { cols * rows });
                let tile = crops.last().unwrap();
                let tile_short = tile.w.min(tile.h) as f32;
                if level > 1 {
                    // Short side / level plus the overlap.
                    let expected = short / level as f32 + TILE_OVERLAP * short;
                    assert!((tile_short - expected).abs() <= 2.0, "{w}x{h} level {level}: {tile:?}");
                    let stretch = tile.w.max(tile.h) as f32 / tile_short;
                    assert!(stretch <= MAX_STRETCH + 0.01, "{w}x{h} level {level}: {tile:?}");
                }
            }
        }
        assert_eq!(level_grid(768, 576, 3), (3, 3));
        assert_eq!(level_grid(1024, 576, 3), (4, 3));
        assert_eq!(level_grid(576, 1024, 2), (2, 3));
    }
}
