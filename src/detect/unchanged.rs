//! Unchanged tiles: a person-detector tile (or the face detector's view of the frame) whose
//! network input has not changed since its latest inference gets that inference's detections
//! again instead of a new inference.
//!
//! A fixed camera's picture is mostly still: on a distant view, where the person detector runs a
//! dozen tiles a pass, most tiles hold background that looks the same pass after pass, and their
//! inferences find the same nothing each time. Frigate runs its detector only where motion is;
//! this is the same idea, decided in what the network itself sees.
//!
//! # The rule
//! - The input of a tile's inference (300×300 RGB, 0..255, for persons; the frame at 640 px for
//!   faces) is summarised as the means of its [`PATCH`]×[`PATCH`]-pixel patches, the three
//!   channels together (3,600 numbers a person tile).
//! - At a later pass the same tile (the same crop of a frame of the same size) is *unchanged* when
//!   no patch mean moved by more than [`CHANGE`] from that inference's, and the inference is at
//!   most [`REUSE_MS`] of stream time old. Its detections are then used again; otherwise the tile
//!   runs, and its summary and detections replace the old ones.
//! - The comparison is with the input of the inference whose detections would be reused, not
//!   with the previous pass's: slow change adds up until it counts.
//! - Frames without a timestamp (stills, each a picture of its own) never reuse; a stream whose
//!   time goes backwards (the next input of a run, a reconnect) or whose frame size changes
//!   starts afresh.
//!
//! # Why it is safe for masks
//! The network is deterministic: the same input gives the same boxes. A person who enters a
//! tile, leaves it or moves in it changes its input where they are, and that tile runs at the
//! same pass; a person who stands still keeps the boxes the network found for them. The
//! threshold is in the network's own pixels, so it means the same at any frame size or tiling:
//! the smallest person the network finds (~20 px tall at its input) walking 3 px between passes,
//! at a contrast of 20 grey levels against the background, moves the mean of a 5×5 patch on
//! their edge by 8 or more; noise on a still background moves it much less (it is the mean of 25
//! pixels); heavy sensor noise at night may move it more than [`CHANGE`], and then tiles simply
//! run (redact more, never less). Whatever the comparison misses is bounded by [`REUSE_MS`]: every
//! tile runs at least once a second.

use super::preprocess::Crop;

/// Side of the square patches of the network input whose means are compared, in input pixels.
pub const PATCH: usize = 5;
/// The most a patch mean (0..255, the three channels together) may move for the tile to count as
/// unchanged.
pub const CHANGE: f32 = 4.0;
/// The oldest inference whose detections are reused, in ms of stream time.
pub const REUSE_MS: u64 = 1000;

/// The patch means of one square network input: `input` is planar (`3 × side × side`, 0..255);
/// `out` gets `(side / PATCH)²` means, row by row (a partial last row or column is left out).
pub fn patch_means(input: &[f32], side: usize, out: &mut Vec<f32>) {
    patch_means_of(input, side, side, out);
}

/// [`patch_means`] of a `width × height` input.
pub fn patch_means_of(input: &[f32], width: usize, height: usize, out: &mut Vec<f32>) {
    let (n, rows) = (width / PATCH, height / PATCH);
    out.clear();
    out.resize(n * rows, 0.0);
    if n == 0 {
        return;
    }
    let plane = width * height;
    for channel in input.chunks_exact(plane).take(3) {
        for (py, row_of_patches) in out.chunks_exact_mut(n).enumerate() {
            for y in py * PATCH..(py + 1) * PATCH {
                let row = &channel[y * width..y * width + n * PATCH];
                for (sum, pixels) in row_of_patches.iter_mut().zip(row.chunks_exact(PATCH)) {
                    *sum += pixels.iter().sum::<f32>();
                }
            }
        }
    }
    let count = (3 * PATCH * PATCH) as f32;
    for v in out.iter_mut() {
        *v /= count;
    }
}

/// Whether two summaries of the same tile differ by more than [`CHANGE`] anywhere.
pub fn changed(then: &[f32], now: &[f32]) -> bool {
    then.len() != now.len() || then.iter().zip(now).any(|(a, b)| (a - b).abs() > CHANGE)
}

/// One tile's latest inference: what its input looked like and what it found, `T` each (a face;
/// a person box and whether a seam of the tile cuts it).
#[derive(Debug)]
struct Remembered<T> {
    crop: Crop,
    patches: Vec<f32>,
    found: Vec<T>,
    at_ms: u64,
}

/// The latest inference of each tile (or crop) of one camera's detector.
#[derive(Debug)]
pub struct TileMemory<T> {
    size: (u32, u32),
    /// The stream time of the latest pass; `None` when passes do not reuse (no timestamp).
    now_ms: Option<u64>,
    tiles: Vec<Remembered<T>>,
}

impl<T> Default for TileMemory<T> {
    fn default() -> Self {
        Self { size: (0, 0), now_ms: None, tiles: Vec::new() }
    }
}

impl<T: Copy> TileMemory<T> {
    /// Starts a pass over a `size` frame at stream time `time_ms` (`None`: no reuse at this pass,
    /// and everything is forgotten).
    pub fn begin(&mut self, size: (u32, u32), time_ms: Option<u64>) {
        let fresh = size != self.size || time_ms.is_none() || time_ms < self.now_ms;
        if fresh {
            self.tiles.clear();
        }
        self.size = size;
        self.now_ms = time_ms;
        if let Some(now) = time_ms {
            self.tiles.retain(|t| now - t.at_ms <= REUSE_MS);
        }
    }

    /// The detections of `crop`'s latest inference, if its input then (`patches` now) is unchanged
    /// and recent enough.
    pub fn recall(&self, crop: Crop, patches: &[f32]) -> Option<&[T]> {
        self.now_ms?;
        let tile = self.tiles.iter().find(|t| t.crop == crop)?;
        (!changed(&tile.patches, patches)).then_some(tile.found.as_slice())
    }

    /// Remembers the inference `crop` just had at this pass: its input's `patches` and what it
    /// found. Nothing is kept at a pass without a timestamp.
    pub fn remember(&mut self, crop: Crop, patches: &[f32], found: &[T]) {
        let Some(now) = self.now_ms else { return };
        let tile = match self.tiles.iter_mut().position(|t| t.crop == crop) {
            Some(i) => &mut self.tiles[i],
            None => {
                self.tiles.push(Remembered { crop, patches: Vec::new(), found: Vec::new(), at_ms: now });
                self.tiles.last_mut().expect("just pushed")
            }
        };
        tile.patches.clear();
        tile.patches.extend_from_slice(patches);
        tile.found.clear();
        tile.found.extend_from_slice(found);
        tile.at_ms = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::nms::Detection;
    use crate::geometry::Rect;

    const SIDE: usize = 300;

    /// A grey input with a `w × h` block of `value` at (`x`, `y`) in every channel.
    fn input(block: Option<(usize, usize, usize, usize, f32)>) -> Vec<f32> {
        let mut v = vec![100.0; 3 * SIDE * SIDE];
        if let Some((x, y, w, h, value)) = block {
            for c in 0..3 {
                for row in y..y + h {
                    let start = c * SIDE * SIDE + row * SIDE + x;
                    v[start..start + w].fill(value);
                }
            }
        }
        v
    }

    fn means(input: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        patch_means(input, SIDE, &mut out);
        out
    }

    #[test]
    fn patch_means_average_each_patch_over_the_channels() {
        let m = means(&input(Some((10, 5, 5, 5, 160.0))));
        assert_eq!(m.len(), 60 * 60);
        // Patch (2, 1) holds the block whole; its neighbours none of it.
        assert!((m[60 + 2] - 160.0).abs() < 1e-3);
        assert!((m[60 + 1] - 100.0).abs() < 1e-3 && (m[2] - 100.0).abs() < 1e-3);
        // One channel changed alone moves the mean by a third of it.
        let mut red = input(None);
        red[..5].fill(160.0);
        assert!((means(&red)[0] - (100.0 + 60.0 / 5.0 / 3.0)).abs() < 1e-3);
        // A 12 × 7 input (the face detector's are not square): 2 × 1 patches, the rest left out.
        let mut wide = vec![0.0; 3 * 12 * 7];
        for c in 0..3 {
            for y in 0..5 {
                wide[c * 84 + y * 12 + 5..c * 84 + y * 12 + 10].fill(30.0);
            }
        }
        let mut out = Vec::new();
        patch_means_of(&wide, 12, 7, &mut out);
        assert_eq!(out, [0.0, 30.0]);
    }

    #[test]
    fn a_small_person_stepping_changes_the_tile_and_noise_does_not() {
        // A 8 × 20 px figure, 20 levels darker, steps 3 px to the right.
        let before = means(&input(Some((100, 100, 8, 20, 80.0))));
        let after = means(&input(Some((103, 100, 8, 20, 80.0))));
        assert!(changed(&before, &after));
        // Noise of ±3 levels on every pixel (a fixed pattern, as a deterministic stand-in).
        let mut noisy = input(Some((100, 100, 8, 20, 80.0)));
        for (i, v) in noisy.iter_mut().enumerate() {
            *v += [3.0, -3.0, 2.0, -2.0, 1.0][i % 5] * if (i / SIDE).is_multiple_of(2) { 1.0 } else { -1.0 };
        }
        assert!(!changed(&before, &means(&noisy)));
        // The same picture a little brighter everywhere (an exposure step of 3 levels): unchanged;
        // of 5: changed (everything runs).
        let lit =
            |d: f32| means(&input(Some((100, 100, 8, 20, 80.0))).iter().map(|v| v + d).collect::<Vec<_>>());
        assert!(!changed(&before, &lit(3.0)) && changed(&before, &lit(5.0)));
    }

    #[test]
    fn a_tile_is_reused_while_unchanged_and_young_and_never_without_time() {
        let crop = Crop { x: 0, y: 0, w: 400, h: 400 };
        let other = Crop { x: 200, y: 0, w: 400, h: 400 };
        let still = means(&input(None));
        let moved = means(&input(Some((10, 10, 10, 30, 40.0))));
        let found = [(Detection { rect: Rect::new(1.0, 2.0, 3.0, 4.0), score: 0.7 }, false)];
        let mut memory = TileMemory::default();
        memory.begin((1920, 1080), Some(1000));
        assert!(memory.recall(crop, &still).is_none(), "nothing remembered yet");
        memory.remember(crop, &still, &found);
        memory.begin((1920, 1080), Some(1500));
        assert_eq!(memory.recall(crop, &still), Some(&found[..]));
        assert!(memory.recall(other, &still).is_none(), "another crop");
        assert!(memory.recall(crop, &moved).is_none(), "changed");
        // Reusing does not renew it: a second after the inference it runs again.
        memory.begin((1920, 1080), Some(2000));
        assert!(memory.recall(crop, &still).is_some());
        memory.begin((1920, 1080), Some(2001));
        assert!(memory.recall(crop, &still).is_none(), "older than REUSE_MS");
        // Time going backwards, a new size or no timestamp: forgotten.
        for (size, time) in [((1920, 1080), Some(500)), ((1280, 720), Some(2100)), ((1920, 1080), None)] {
            memory.begin((1920, 1080), Some(2000));
            memory.remember(crop, &still, &found);
            memory.begin(size, time);
            assert!(memory.recall(crop, &still).is_none(), "{size:?} {time:?}");
        }
        // Without a timestamp nothing is remembered either.
        memory.begin((1920, 1080), None);
        memory.remember(crop, &still, &found);
        memory.begin((1920, 1080), Some(0));
        assert!(memory.recall(crop, &still).is_none());
    }
}
