//! AVX2 paths (x86-64): 16 samples a step, one 16-bit lane each; tails of fewer than 16 on the scalar
//! reference (or, where a step only writes its output, as one more step overlapping the last).
//!
//! Every function here needs AVX2; [`super::Simd`] calls them only after the CPU reported it. Memory is
//! touched only through the `load_*`/`store_*` helpers, which take fixed-size arrays: their bounds are
//! in the types, the slices are split with `as_chunks`.

use std::arch::x86_64::*;

use super::{BoxDivider, LERP_ONE, scalar};

#[target_feature(enable = "avx2")]
pub(super) fn add_row(acc: &mut [u16], row: &[u8]) {
    debug_assert_eq!(acc.len(), row.len());
    let (acc_chunks, acc_tail) = acc.as_chunks_mut::<16>();
    let (row_chunks, row_tail) = row.as_chunks::<16>();
    for (acc, row) in acc_chunks.iter_mut().zip(row_chunks) {
        store_words(acc, _mm256_add_epi16(load_words(acc), load_widened(row)));
    }
    scalar::add_row(acc_tail, row_tail);
}

#[target_feature(enable = "avx2")]
pub(super) fn lerp_rows(top: &[u16], bottom: &[u16], weight: u16, out: &mut [u8]) {
    debug_assert!(top.len() == out.len() && bottom.len() == out.len());
    let n = out.len();
    let w_top = _mm256_set1_epi16((LERP_ONE - weight) as i16);
    let w_bottom = _mm256_set1_epi16(weight as i16);
    let half = _mm256_set1_epi16(128);
    let lerp = |start: usize| {
        let (t, b) = (first_words(&top[start..]), first_words(&bottom[start..]));
        // ≤ 16 · 255 · 16 + 128 < 2^16: exact in unsigned 16-bit lanes.
        let sum = _mm256_add_epi16(
            _mm256_mullo_epi16(load_words(t), w_top),
            _mm256_mullo_epi16(load_words(b), w_bottom),
        );
        _mm256_srli_epi16::<8>(_mm256_add_epi16(sum, half))
    };
    // Steps of 32 (or 16 in short rows), the last one ending at `n`: it may overlap the one before,
    // which only writes the same values again.
    if n >= 32 {
        for start in (0..n - 32).step_by(32).chain([n - 32]) {
            let packed = _mm256_packus_epi16(lerp(start), lerp(start + 16));
            store_bytes_32(
                out[start..].first_chunk_mut().unwrap(),
                _mm256_permute4x64_epi64::<0b11_01_10_00>(packed),
            );
        }
    } else if n >= 16 {
        for start in [0, n - 16] {
            store_bytes(out[start..].first_chunk_mut().unwrap(), narrow(lerp(start)));
        }
    } else {
        scalar::lerp_rows(top, bottom, weight, out);
    }
}

#[target_feature(enable = "avx2")]
pub(super) fn column_step(sums: &mut [u16], add: &[u8], sub: &[u8], out: &mut [u8], divider: BoxDivider) {
    debug_assert!(add.len() == sums.len() && sub.len() == sums.len() && out.len() == sums.len());
    let (sum_chunks, sum_tail) = sums.as_chunks_mut::<16>();
    let (add_chunks, add_tail) = add.as_chunks::<16>();
    let (sub_chunks, sub_tail) = sub.as_chunks::<16>();
    let (out_chunks, out_tail) = out.as_chunks_mut::<16>();
    let multiplier = _mm256_set1_epi16(divider.multiplier as i16);
    for (((sums, add), sub), out) in sum_chunks.iter_mut().zip(add_chunks).zip(sub_chunks).zip(out_chunks) {
        let window = load_words(sums);
        store_bytes(out, narrow(_mm256_mulhi_epu16(window, multiplier)));
        let entered = _mm256_add_epi16(window, load_widened(add));
        store_words(sums, _mm256_sub_epi16(entered, load_widened(sub)));
    }
    scalar::column_step(sum_tail, add_tail, sub_tail, out_tail, divider);
}

/// Each 16 outputs sum their `2r + 1` taps directly (`r ≤ 7`): no running sum, so no dependency from
/// one step to the next.
#[target_feature(enable = "avx2")]
pub(super) fn box_row(padded: &[u8], out: &mut [u8], channels: usize, divider: BoxDivider) {
    let reach = 2 * divider.radius() * channels;
    debug_assert_eq!(padded.len(), out.len() + reach);
    let n = out.len();
    if n < 16 {
        return scalar::box_row(padded, out, channels, divider);
    }
    let multiplier = _mm256_set1_epi16(divider.multiplier as i16);
    let bias = _mm256_set1_epi16(divider.bias() as i16);
    // Steps of 16, the last one ending at `n` (it may overlap the one before: same values).
    for start in (0..n - 16).step_by(16).chain([n - 16]) {
        let mut sum = bias;
        for tap in (start..=start + reach).step_by(channels) {
            sum = _mm256_add_epi16(sum, load_widened(padded[tap..].first_chunk().unwrap()));
        }
        store_bytes(out[start..].first_chunk_mut().unwrap(), narrow(_mm256_mulhi_epu16(sum, multiplier)));
    }
}

/// 16 words (each ≤ 255) to 16 bytes, in order.
#[target_feature(enable = "avx2")]
fn narrow(words: __m256i) -> __m128i {
    // packus works within 128-bit lanes: words 0–7 land in bytes 0–7, words 8–15 in bytes 16–23;
    // the permute brings the second group next to the first.
    let packed = _mm256_packus_epi16(words, words);
    _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b00_00_10_00>(packed))
}

fn first_words(words: &[u16]) -> &[u16; 16] {
    words.first_chunk().unwrap()
}

/// 16 bytes, each widened to a word.
#[target_feature(enable = "avx2")]
fn load_widened(bytes: &[u8; 16]) -> __m256i {
    // SAFETY: reads exactly the 16 bytes of `bytes`; `loadu` needs no alignment.
    _mm256_cvtepu8_epi16(unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) })
}

#[target_feature(enable = "avx2")]
fn store_bytes(bytes: &mut [u8; 16], value: __m128i) {
    // SAFETY: writes exactly the 16 bytes of `bytes`, which we borrow mutably; `storeu` needs no alignment.
    unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), value) }
}

#[target_feature(enable = "avx2")]
fn store_bytes_32(bytes: &mut [u8; 32], value: __m256i) {
    // SAFETY: writes exactly the 32 bytes of `bytes`, which we borrow mutably; `storeu` needs no alignment.
    unsafe { _mm256_storeu_si256(bytes.as_mut_ptr().cast(), value) }
}

#[target_feature(enable = "avx2")]
fn load_words(words: &[u16; 16]) -> __m256i {
    // SAFETY: reads exactly the 32 bytes of `words`; `loadu` needs no alignment.
    unsafe { _mm256_loadu_si256(words.as_ptr().cast()) }
}

#[target_feature(enable = "avx2")]
fn store_words(words: &mut [u16; 16], value: __m256i) {
    // SAFETY: writes exactly the 32 bytes of `words`, which we borrow mutably; `storeu` needs no alignment.
    unsafe { _mm256_storeu_si256(words.as_mut_ptr().cast(), value) }
}
