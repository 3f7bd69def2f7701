//! Cutting a frame into overlapping tiles, so detectors with a small input see people and faces
//! at a usable scale in large or wide frames.

use super::preprocess::Crop;

/// The most a tile is stretched to a square input (its long side over its short side).
pub const MAX_STRETCH: f32 = 1.5;
/// Tiles overlap by this share of the frame's short side, so a person on a seam is whole in one.
pub const TILE_OVERLAP: f32 = 0.25;

/// How the frame is cut into tiles for a detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tiling {
    /// Roughly square tiles across the long side (none for frames within [`MAX_STRETCH`]), plus
    /// the whole frame.
    #[default]
    Auto,
    /// `cols × rows` overlapping tiles plus the whole frame (1×1: the whole frame only). More
    /// tiles find smaller people at proportionally more CPU.
    Grid { cols: u32, rows: u32 },
}

/// The parts of a `width × height` frame a detector looks at: the whole frame, plus
/// overlapping tiles when the frame is cut.
pub fn tiles(width: u32, height: u32, tiling: Tiling) -> Vec<Crop> {
    let whole = Crop { x: 0, y: 0, w: width.max(1), h: height.max(1) };
    let (cols, rows) = match tiling {
        Tiling::Grid { cols, rows } => (cols.max(1), rows.max(1)),
        Tiling::Auto => {
            let (w, h) = (width.max(1) as f32, height.max(1) as f32);
            let cuts = |long: f32, short: f32| (long / short / MAX_STRETCH).ceil().max(1.0) as u32;
            if w >= h { (cuts(w, h), 1) } else { (1, cuts(h, w)) }
        }
    };
    let mut crops = vec![whole];
    if cols * rows == 1 {
        return crops;
    }
    let overlap = TILE_OVERLAP * width.min(height) as f32;
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
}
