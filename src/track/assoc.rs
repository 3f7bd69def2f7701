//! Optimal track–detection assignment: an O(n³) Hungarian solver and IoU-gated matching on it.
//!
//! Greedy matching by IoU is what many trackers ship, but it swaps identities exactly where this
//! tracker matters most: two people crossing, where one detection overlaps both predictions and
//! the greedy first pick can steal the other's match. The Hungarian method minimises the total
//! cost; with a few dozen boxes per pass its O(n³) is microseconds.

use crate::detect::nms::iou;
use crate::geometry::Rect;

/// Matches predicted track boxes to detected boxes, maximising the total IoU, keeping only pairs
/// with IoU ≥ `min_iou`. Returns `(track index, detection index)` pairs sorted by track index.
pub(super) fn match_by_iou(tracks: &[Rect], detections: &[Rect], min_iou: f32) -> Vec<(usize, usize)> {
    match_with_bonus(tracks, detections, min_iou, |_, _| 0.0)
}

/// [`match_by_iou`], maximising IoU plus `bonus(track, detection)` (small, e.g. for motion
/// consistency) over the pairs that pass the IoU gate.
pub(super) fn match_with_bonus(
    tracks: &[Rect],
    detections: &[Rect],
    min_iou: f32,
    bonus: impl Fn(usize, usize) -> f32,
) -> Vec<(usize, usize)> {
    let max_cost = 1.0 - f64::from(min_iou);
    let cost: Vec<f64> = tracks
        .iter()
        .enumerate()
        .flat_map(|(t, tr)| {
            let bonus = &bonus;
            detections.iter().enumerate().map(move |(d, de)| {
                let overlap = f64::from(iou(tr, de));
                let cost = 1.0 - overlap;
                // The bonus ranks pairs inside the gate; it never lets a pair through it.
                if cost <= max_cost { (cost - f64::from(bonus(t, d))).clamp(0.0, max_cost) } else { cost }
            })
        })
        .collect();
    assign_gated(&cost, tracks.len(), detections.len(), max_cost)
}

/// A minimum-cost partial assignment of a `rows × cols` cost matrix (row-major): each row and
/// column is used at most once, pairs cost at most `max_cost`, and the total of
/// `cost − max_cost` over chosen pairs is as low as possible (so leaving a row or column
/// unmatched costs as much as a pair at the limit, which is preferred to it). Returns pairs
/// `(row, col)` sorted by row.
///
/// This is the `cost_limit` extension `lap.lapjv` gives ByteTrack: the matrix is padded to
/// `(rows + cols)²` with "unmatched" entries of `max_cost / 2` on each side, so a pair above the
/// limit is never cheaper than leaving both unmatched. NaN costs count as above the limit.
pub(super) fn assign_gated(cost: &[f64], rows: usize, cols: usize, max_cost: f64) -> Vec<(usize, usize)> {
    debug_assert_eq!(cost.len(), rows * cols);
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    // A hair above half the limit, so a pair exactly at the limit is still taken.
    let unmatched = (max_cost + 1e-9) / 2.0;
    let above = max_cost + 1.0;
    let n = rows + cols;
    let mut square = vec![0.0; n * n];
    for r in 0..n {
        for c in 0..n {
            square[r * n + c] = match (r < rows, c < cols) {
                (true, true) => {
                    let x = cost[r * cols + c];
                    if x <= max_cost { x } else { above }
                }
                (true, false) | (false, true) => unmatched,
                (false, false) => 0.0,
            };
        }
    }
    let col_of_row = hungarian(&square, n, n);
    (0..rows)
        .filter_map(|r| {
            let c = col_of_row[r];
            (c < cols && cost[r * cols + c] <= max_cost).then_some((r, c))
        })
        .collect()
}

/// The Hungarian method (Kuhn–Munkres with potentials, O(rows² · cols)): assigns every row of a
/// `rows × cols` row-major matrix of finite costs, `rows ≤ cols`, to a distinct column with the
/// least total cost. Returns the column of each row. Ties go the same way on every run.
pub(super) fn hungarian(cost: &[f64], rows: usize, cols: usize) -> Vec<usize> {
    assert!(rows <= cols, "hungarian: {rows} rows > {cols} columns");
    debug_assert_eq!(cost.len(), rows * cols);
    debug_assert!(cost.iter().all(|c| c.is_finite()));
    // 1-based, with row/column 0 as the virtual start; `row_of[j]` is the row in column j.
    let mut u = vec![0.0; rows + 1];
    let mut v = vec![0.0; cols + 1];
    let mut row_of = vec![0usize; cols + 1];
    let mut way = vec![0usize; cols + 1];
    for i in 1..=rows {
        row_of[0] = i;
        let mut j0 = 0;
        let mut min_to = vec![f64::INFINITY; cols + 1];
        let mut used = vec![false; cols + 1];
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=cols {
                if used[j] {
                    continue;
                }
                let reduced = cost[(i0 - 1) * cols + (j - 1)] - u[i0] - v[j];
                if reduced < min_to[j] {
                    min_to[j] = reduced;
                    way[j] = j0;
                }
                if min_to[j] < delta {
                    delta = min_to[j];
                    j1 = j;
                }
            }
            for j in 0..=cols {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_to[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        // Augment along the alternating path back to the virtual column.
        while j0 != 0 {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
        }
    }
    let mut col_of = vec![0; rows];
    for j in 1..=cols {
        if row_of[j] != 0 {
            col_of[row_of[j] - 1] = j - 1;
        }
    }
    col_of
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: a seeded generator, so a failing case reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }

        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// The least total cost over all injective row → column maps, by enumeration.
    fn brute_full(cost: &[f64], rows: usize, cols: usize, row: usize, used: &mut [bool]) -> f64 {
        if row == rows {
            return 0.0;
        }
        let mut best = f64::INFINITY;
        for c in 0..cols {
            if !used[c] {
                used[c] = true;
                best = best.min(cost[row * cols + c] + brute_full(cost, rows, cols, row + 1, used));
                used[c] = false;
            }
        }
        best
    }

    /// The least `Σ (cost − limit)` over all partial matchings with pairs ≤ limit, by enumeration.
    fn brute_gated(cost: &[f64], rows: usize, cols: usize, limit: f64, row: usize, used: &mut [bool]) -> f64 {
        if row == rows {
            return 0.0;
        }
        let mut best = brute_gated(cost, rows, cols, limit, row + 1, used);
        for c in 0..cols {
            let x = cost[row * cols + c];
            if !used[c] && x <= limit {
                used[c] = true;
                best = best.min(x - limit + brute_gated(cost, rows, cols, limit, row + 1, used));
                used[c] = false;
            }
        }
        best
    }

    /// Costs drawn from a few values, so ties (the hard case for a solver) are common.
    fn random_costs(rng: &mut Rng, len: usize) -> Vec<f64> {
        (0..len).map(|_| if rng.below(3) == 0 { rng.below(4) as f64 / 4.0 } else { rng.unit() }).collect()
    }

    #[test]
    fn hungarian_matches_brute_force_on_random_matrices() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let rows = 1 + rng.below(6);
            let cols = rows + rng.below(3);
            let cost = random_costs(&mut rng, rows * cols);
            let col_of = hungarian(&cost, rows, cols);
            let mut seen = vec![false; cols];
            for &c in &col_of {
                assert!(!seen[c], "column {c} used twice in {col_of:?}");
                seen[c] = true;
            }
            let total: f64 = col_of.iter().enumerate().map(|(r, &c)| cost[r * cols + c]).sum();
            let best = brute_full(&cost, rows, cols, 0, &mut vec![false; cols]);
            assert!((total - best).abs() < 1e-9, "{rows}×{cols} {cost:?}: {total} vs best {best}");
        }
    }

    #[test]
    fn gated_assignment_matches_brute_force_on_random_matrices() {
        let mut rng = Rng(0x0bad_5eed_1234_5678);
        for _ in 0..2000 {
            let rows = rng.below(6);
            let cols = rng.below(6);
            let limit = [0.5, 0.7, 0.8][rng.below(3)];
            let cost = random_costs(&mut rng, rows * cols);
            let pairs = assign_gated(&cost, rows, cols, limit);
            let mut seen = vec![false; cols];
            for &(r, c) in &pairs {
                assert!(cost[r * cols + c] <= limit, "pair ({r}, {c}) above the limit");
                assert!(!seen[c], "column {c} used twice");
                seen[c] = true;
            }
            assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0), "rows not sorted/unique: {pairs:?}");
            let total: f64 = pairs.iter().map(|&(r, c)| cost[r * cols + c] - limit).sum();
            let best = brute_gated(&cost, rows, cols, limit, 0, &mut vec![false; cols]);
            assert!((total - best).abs() < 1e-9, "{rows}×{cols} {cost:?}: {total} vs best {best}");
        }
    }

    /// The case greedy matching gets wrong: track 0's best detection is the only one track 1 can
    /// take. Greedy (highest IoU first) gives track 0 detection 0 and leaves track 1 unmatched; the
    /// optimum gives both a match.
    #[test]
    fn iou_matching_prefers_two_good_matches_over_one_best() {
        let tracks = [Rect::new(0.0, 0.0, 10.0, 10.0), Rect::new(3.0, 0.0, 13.0, 10.0)];
        let detections = [Rect::new(1.0, 0.0, 11.0, 10.0), Rect::new(-3.0, 0.0, 7.0, 10.0)];
        // IoU: t0–d0 0.82, t0–d1 0.54, t1–d0 0.67, t1–d1 0.25.
        assert_eq!(match_by_iou(&tracks, &detections, 0.3), vec![(0, 1), (1, 0)]);
        // Far away, or below the threshold: no match.
        let detections = [Rect::new(40.0, 0.0, 50.0, 10.0)];
        assert_eq!(match_by_iou(&tracks, &detections, 0.3), vec![]);
        assert_eq!(match_by_iou(&tracks, &[Rect::new(1.0, 0.0, 11.0, 10.0)], 0.9), vec![]);
    }

    #[test]
    fn nan_costs_are_never_matched() {
        let cost = [f64::NAN, 0.1, 0.2, f64::NAN];
        assert_eq!(assign_gated(&cost, 2, 2, 0.8), vec![(0, 1), (1, 0)]);
    }
}
