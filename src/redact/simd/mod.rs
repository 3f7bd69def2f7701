//! The redaction hot loops with their vector paths: a scalar reference, AVX2 on x86-64 and NEON on
//! aarch64, chosen once at run time. The only module of the crate where `unsafe` is allowed: every
//! block carries a `// SAFETY:` comment and its lengths are asserted.
//!
//! Each loop is a plain function over slices with the same result, bit for bit, on every path
//! (integer arithmetic only; the property tests below compare each vector path with the scalar one on
//! random lengths that hit every tail). [`Simd`] is the proof that a path is supported: only
//! [`Simd::best`] (which asks the CPU) and [`Simd::scalar`] make one, so safe code cannot reach an
//! instruction the CPU lacks.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;

use std::sync::OnceLock;

/// The largest radius of a box pass the vector paths take: box sums then fit 16 bits and
/// [`BoxDivider`] divides them exactly. The blur decimates its grid so that no pass needs more.
pub const MAX_BOX_RADIUS: usize = 7;

/// The denominator of the bilinear weights of [`Simd::lerp_rows`]: weights are `0..=LERP_ONE`.
pub const LERP_ONE: u16 = 16;

/// An instruction set the hot loops can run on, checked against the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simd {
    isa: Isa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "aarch64")]
    Neon,
}

impl Simd {
    /// The fastest path this CPU supports (AVX2 when the CPU has it; NEON, baseline on aarch64;
    /// else scalar). Detected on the first call, then cached.
    pub fn best() -> Self {
        static BEST: OnceLock<Simd> = OnceLock::new();
        *BEST.get_or_init(|| Simd { isa: detect() })
    }

    /// The scalar reference path.
    pub fn scalar() -> Self {
        Simd { isa: Isa::Scalar }
    }

    /// Every path this CPU supports, scalar first (for tests and benches).
    pub fn supported() -> impl Iterator<Item = Simd> {
        let best = Self::best();
        std::iter::once(Self::scalar()).chain((best != Self::scalar()).then_some(best))
    }

    /// The path's name: `scalar`, `avx2` or `neon`.
    pub fn name(self) -> &'static str {
        match self.isa {
            Isa::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => "neon",
        }
    }

    /// `acc[i] += row[i]` for every `i`, wrapping (callers add at most 257 rows of bytes).
    ///
    /// # Panics
    /// When the lengths differ.
    pub fn add_row(self, acc: &mut [u16], row: &[u8]) {
        assert_eq!(acc.len(), row.len(), "add_row lengths");
        match self.isa {
            Isa::Scalar => scalar::add_row(acc, row),
            // SAFETY: `Isa::Avx2` is only made by `detect` after the CPU reported AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::add_row(acc, row) },
            // SAFETY: NEON is baseline on aarch64: every such CPU has it.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::add_row(acc, row) },
        }
    }

    /// `out[i] = (top[i] · (16 − weight) + bottom[i] · weight + 128) >> 8`: the vertical step of the
    /// bilinear upsampling, from two rows scaled by 16 (each `≤ 16 · 255`) to bytes.
    ///
    /// # Panics
    /// When the lengths differ or `weight > 16`.
    pub fn lerp_rows(self, top: &[u16], bottom: &[u16], weight: u16, out: &mut [u8]) {
        assert!(top.len() == out.len() && bottom.len() == out.len(), "lerp_rows lengths");
        assert!(weight <= LERP_ONE, "lerp weight {weight} > {LERP_ONE}");
        debug_assert!(top.iter().chain(bottom).all(|&v| v <= LERP_ONE * 255));
        match self.isa {
            Isa::Scalar => scalar::lerp_rows(top, bottom, weight, out),
            // SAFETY: `Isa::Avx2` is only made by `detect` after the CPU reported AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::lerp_rows(top, bottom, weight, out) },
            // SAFETY: NEON is baseline on aarch64: every such CPU has it.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::lerp_rows(top, bottom, weight, out) },
        }
    }

    /// One output row of a vertical box pass: `out[i] = divider.divide(sums[i])`, then each column's
    /// window slides down one row: `sums[i] += add[i] − sub[i]`.
    ///
    /// # Panics
    /// When the lengths differ.
    pub fn column_step(self, sums: &mut [u16], add: &[u8], sub: &[u8], out: &mut [u8], divider: BoxDivider) {
        let n = sums.len();
        assert!(add.len() == n && sub.len() == n && out.len() == n, "column_step lengths");
        match self.isa {
            Isa::Scalar => scalar::column_step(sums, add, sub, out, divider),
            // SAFETY: `Isa::Avx2` is only made by `detect` after the CPU reported AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::column_step(sums, add, sub, out, divider) },
            // SAFETY: NEON is baseline on aarch64: every such CPU has it.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::column_step(sums, add, sub, out, divider) },
        }
    }

    /// One horizontal box pass of radius `divider.radius()` over a row of interleaved `channels`:
    /// `out[i] = divider.divide(bias + Σ padded[i + k · channels], k = 0..=2r)`. `padded` is the row
    /// with `r` pixels of edge padding on each side, so `padded.len() == out.len() + 2r · channels`.
    ///
    /// # Panics
    /// When the lengths do not match or `channels` is not 1 to 4.
    pub fn box_row(self, padded: &[u8], out: &mut [u8], channels: usize, divider: BoxDivider) {
        assert!((1..=4).contains(&channels), "box_row of {channels} channels");
        let reach = 2 * usize::from(divider.radius) * channels;
        assert_eq!(padded.len(), out.len() + reach, "box_row lengths");
        match self.isa {
            Isa::Scalar => scalar::box_row(padded, out, channels, divider),
            // SAFETY: `Isa::Avx2` is only made by `detect` after the CPU reported AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::box_row(padded, out, channels, divider) },
            // SAFETY: NEON is baseline on aarch64: every such CPU has it.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::box_row(padded, out, channels, divider) },
        }
    }
}

fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return Isa::Avx2;
    }
    #[cfg(target_arch = "aarch64")]
    return Isa::Neon;
    #[cfg(not(target_arch = "aarch64"))]
    Isa::Scalar
}

/// Exact rounded division of a box's window sum by its size `n = 2r + 1`, in 16 bits.
///
/// Window sums start at `bias = r`, so they hold `s = sum + ⌊n / 2⌋`; then `⌊s · m / 2^16⌋` with
/// `m = ⌈2^16 / n⌉` equals `⌊s / n⌋`, the rounded mean: writing `m · n = 2^16 + e` (`e < n`), the error
/// `s · e / (n · 2^16)` stays below the gap `1 / n` to the next integer while `s · e < 2^16`, and
/// `s ≤ 255 n + r < 3840 < 2^16 / 15` for every radius up to [`MAX_BOX_RADIUS`] (the tests check every
/// sum). One `mulhi` divides a lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxDivider {
    radius: u16,
    multiplier: u16,
}

impl BoxDivider {
    /// The divider of a box of radius `radius`.
    ///
    /// # Panics
    /// When `radius` is 0 or above [`MAX_BOX_RADIUS`].
    pub fn for_radius(radius: usize) -> Self {
        assert!((1..=MAX_BOX_RADIUS).contains(&radius), "box radius {radius} outside 1..={MAX_BOX_RADIUS}");
        let n = 2 * radius as u32 + 1;
        BoxDivider { radius: radius as u16, multiplier: (1u32 << 16).div_ceil(n) as u16 }
    }

    /// The radius of the box.
    pub fn radius(self) -> usize {
        usize::from(self.radius)
    }

    /// What a window sum starts at (half the box, for rounding).
    pub fn bias(self) -> u16 {
        self.radius
    }

    /// The rounded mean of a window whose sum, started at [`bias`](Self::bias), is `biased_sum`.
    #[inline(always)]
    pub fn divide(self, biased_sum: u16) -> u8 {
        ((u32::from(biased_sum) * u32::from(self.multiplier)) >> 16) as u8
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn divider_rounds_exactly() {
        for radius in 1..=MAX_BOX_RADIUS {
            let n = 2 * radius as u32 + 1;
            let divider = BoxDivider::for_radius(radius);
            for sum in 0..=255 * n {
                let biased = sum as u16 + divider.bias();
                assert_eq!(u32::from(divider.divide(biased)), (sum + n / 2) / n, "n {n} sum {sum}");
            }
        }
    }

    #[test]
    fn scalar_box_row_is_a_rounded_moving_average() {
        let mut out = [0; 3];
        Simd::scalar().box_row(&[0, 0, 90, 0, 0], &mut out, 1, BoxDivider::for_radius(1));
        assert_eq!(out, [30, 30, 30]);
        let mut out = [0; 4];
        Simd::scalar().box_row(&[1, 200, 1, 200, 4, 0, 7, 100], &mut out, 2, BoxDivider::for_radius(1));
        assert_eq!(out, [2, 133, 4, 100]);
    }

    #[test]
    fn scalar_lerp_rows_rounds_the_weighted_mean() {
        let mut out = [0; 3];
        Simd::scalar().lerp_rows(&[0, 16 * 255, 16 * 10], &[16 * 255, 0, 16 * 11], 8, &mut out);
        assert_eq!(out, [128, 128, 11]);
    }

    #[test]
    fn the_best_path_is_detected_once_and_named() {
        assert_eq!(Simd::best(), Simd::best());
        #[cfg(target_arch = "aarch64")]
        assert_eq!(Simd::best().name(), "neon");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(Simd::best().name() == "avx2", std::arch::is_x86_feature_detected!("avx2"));
        assert_eq!(Simd::supported().next(), Some(Simd::scalar()));
    }

    /// Lengths around the vector widths (16, 32) and their multiples, so every tail is hit.
    fn length() -> impl Strategy<Value = usize> {
        prop_oneof![0..=100usize, 100..=700usize]
    }

    fn bytes(len: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), len)
    }

    proptest! {
        #[test]
        fn add_row_paths_agree((acc, row) in length().prop_flat_map(|n| (prop::collection::vec(0..=65535u16 - 255, n), bytes(n)))) {
            let mut expected = acc.clone();
            Simd::scalar().add_row(&mut expected, &row);
            for simd in Simd::supported() {
                let mut got = acc.clone();
                simd.add_row(&mut got, &row);
                prop_assert_eq!(&got, &expected, "{}", simd.name());
            }
        }

        #[test]
        fn lerp_rows_paths_agree(
            (top, bottom) in length().prop_flat_map(|n| {
                let row = prop::collection::vec(0..=LERP_ONE * 255, n);
                (row.clone(), row)
            }),
            weight in 0..=LERP_ONE,
        ) {
            let mut expected = vec![0; top.len()];
            Simd::scalar().lerp_rows(&top, &bottom, weight, &mut expected);
            for simd in Simd::supported() {
                let mut got = vec![0; top.len()];
                simd.lerp_rows(&top, &bottom, weight, &mut got);
                prop_assert_eq!(&got, &expected, "{}", simd.name());
            }
        }

        #[test]
        fn column_step_paths_agree(
            radius in 1..=MAX_BOX_RADIUS,
            (add, sub, window) in length().prop_flat_map(|n| (bytes(n), bytes(n), bytes(n))),
        ) {
            let divider = BoxDivider::for_radius(radius);
            // A window sum of 2r + 1 samples that holds `sub` (so it can leave).
            let n = (2 * radius) as u16;
            let sums: Vec<u16> = window
                .iter()
                .zip(&sub)
                .map(|(&w, &s)| divider.bias() + u16::from(s) + n * u16::from(w))
                .collect();
            let mut expected = (sums.clone(), vec![0; sums.len()]);
            Simd::scalar().column_step(&mut expected.0, &add, &sub, &mut expected.1, divider);
            for simd in Simd::supported() {
                let mut got = (sums.clone(), vec![0; sums.len()]);
                simd.column_step(&mut got.0, &add, &sub, &mut got.1, divider);
                prop_assert_eq!(&got, &expected, "{}", simd.name());
            }
        }

        #[test]
        fn box_row_paths_agree(radius in 1..=MAX_BOX_RADIUS, channels in 1..=4usize, pixels in length(), seed in any::<u64>()) {
            let divider = BoxDivider::for_radius(radius);
            let len = pixels * channels;
            let padded = crate::redact::kernels::tests::noise(len + 2 * radius * channels, seed);
            let padded = &padded[..];
            let mut expected = vec![0; len];
            Simd::scalar().box_row(padded, &mut expected, channels, divider);
            for simd in Simd::supported() {
                let mut got = vec![0; len];
                simd.box_row(padded, &mut got, channels, divider);
                prop_assert_eq!(&got, &expected, "{}", simd.name());
            }
        }
    }
}
