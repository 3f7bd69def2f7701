//! NEON paths (aarch64): 16 bytes or 8 words a step, the tails on the scalar reference.
//!
//! The functions are marked `#[target_feature(enable = "neon")]` (the intrinsics need it), so callers
//! say `unsafe`; NEON is part of every aarch64 target's baseline.
//!
//! Memory is touched only through the `load_*`/`store_*` helpers, which take fixed-size arrays: their
//! bounds are in the types, the slices are split with `as_chunks`.

use std::arch::aarch64::*;

use super::{BoxDivider, LERP_ONE, scalar};

#[target_feature(enable = "neon")]
pub(super) fn add_row(acc: &mut [u16], row: &[u8]) {
    debug_assert_eq!(acc.len(), row.len());
    let (acc_chunks, acc_tail) = acc.as_chunks_mut::<16>();
    let (row_chunks, row_tail) = row.as_chunks::<16>();
    for (acc, row) in acc_chunks.iter_mut().zip(row_chunks) {
        let bytes = load_bytes(row);
        let (acc_lo, acc_hi) = split_words_mut(acc);
        store_words(acc_lo, vaddw_u8(load_words(acc_lo), vget_low_u8(bytes)));
        store_words(acc_hi, vaddw_high_u8(load_words(acc_hi), bytes));
    }
    scalar::add_row(acc_tail, row_tail);
}

#[target_feature(enable = "neon")]
pub(super) fn lerp_rows(top: &[u16], bottom: &[u16], weight: u16, out: &mut [u8]) {
    debug_assert!(top.len() == out.len() && bottom.len() == out.len());
    let n = out.len();
    if n < 16 {
        return scalar::lerp_rows(top, bottom, weight, out);
    }
    // Steps of 16, the last one ending at `n` (it may overlap the one before: same values).
    for start in (0..n - 16).step_by(16).chain([n - 16]) {
        let (t, b): (&[u16; 16], &[u16; 16]) =
            (top[start..].first_chunk().unwrap(), bottom[start..].first_chunk().unwrap());
        let (t_lo, t_hi) = split_words(t);
        let (b_lo, b_hi) = split_words(b);
        // ≤ 16 · 255 · 16 < 2^16: exact in unsigned 16-bit lanes; vrshrn adds the 128 and shifts.
        let lo = vmlaq_n_u16(vmulq_n_u16(load_words(t_lo), LERP_ONE - weight), load_words(b_lo), weight);
        let hi = vmlaq_n_u16(vmulq_n_u16(load_words(t_hi), LERP_ONE - weight), load_words(b_hi), weight);
        let value = vcombine_u8(vrshrn_n_u16::<8>(lo), vrshrn_n_u16::<8>(hi));
        store_bytes(out[start..].first_chunk_mut().unwrap(), value);
    }
}

#[target_feature(enable = "neon")]
pub(super) fn column_step(sums: &mut [u16], add: &[u8], sub: &[u8], out: &mut [u8], divider: BoxDivider) {
    debug_assert!(add.len() == sums.len() && sub.len() == sums.len() && out.len() == sums.len());
    let (sum_chunks, sum_tail) = sums.as_chunks_mut::<16>();
    let (add_chunks, add_tail) = add.as_chunks::<16>();
    let (sub_chunks, sub_tail) = sub.as_chunks::<16>();
    let (out_chunks, out_tail) = out.as_chunks_mut::<16>();
    for (((sums, add), sub), out) in sum_chunks.iter_mut().zip(add_chunks).zip(sub_chunks).zip(out_chunks) {
        let (sums_lo, sums_hi) = split_words_mut(sums);
        let (lo, hi) = (load_words(sums_lo), load_words(sums_hi));
        store_bytes(out, divide(lo, hi, divider));
        let (add, sub) = (load_bytes(add), load_bytes(sub));
        store_words(sums_lo, vsubw_u8(vaddw_u8(lo, vget_low_u8(add)), vget_low_u8(sub)));
        store_words(sums_hi, vsubw_high_u8(vaddw_high_u8(hi, add), sub));
    }
    scalar::column_step(sum_tail, add_tail, sub_tail, out_tail, divider);
}

/// Each 16 outputs sum their `2r + 1` taps directly (`r ≤ 7`): no running sum, so no dependency from
/// one step to the next.
#[target_feature(enable = "neon")]
pub(super) fn box_row(padded: &[u8], out: &mut [u8], channels: usize, divider: BoxDivider) {
    let reach = 2 * divider.radius() * channels;
    debug_assert_eq!(padded.len(), out.len() + reach);
    let n = out.len();
    if n < 16 {
        return scalar::box_row(padded, out, channels, divider);
    }
    let bias = vdupq_n_u16(divider.bias());
    // Steps of 16, the last one ending at `n` (it may overlap the one before: same values).
    for start in (0..n - 16).step_by(16).chain([n - 16]) {
        let (mut lo, mut hi) = (bias, bias);
        for tap in (start..=start + reach).step_by(channels) {
            let bytes = load_bytes(padded[tap..].first_chunk().unwrap());
            lo = vaddw_u8(lo, vget_low_u8(bytes));
            hi = vaddw_high_u8(hi, bytes);
        }
        store_bytes(out[start..].first_chunk_mut().unwrap(), divide(lo, hi, divider));
    }
}

/// `divider.divide` of 16 window sums: the high halves of the 32-bit products, narrowed to bytes.
#[target_feature(enable = "neon")]
fn divide(lo: uint16x8_t, hi: uint16x8_t, divider: BoxDivider) -> uint8x16_t {
    let m = vdup_n_u16(divider.multiplier);
    let high = |v: uint16x8_t| {
        let low_half = vshrn_n_u32::<16>(vmull_u16(vget_low_u16(v), m));
        vshrn_high_n_u32::<16>(low_half, vmull_high_u16(v, vdupq_n_u16(divider.multiplier)))
    };
    vcombine_u8(vmovn_u16(high(lo)), vmovn_u16(high(hi)))
}

fn split_words_mut(words: &mut [u16; 16]) -> (&mut [u16; 8], &mut [u16; 8]) {
    let (lo, hi) = words.split_at_mut(8);
    (lo.try_into().unwrap(), hi.try_into().unwrap())
}

fn split_words(words: &[u16; 16]) -> (&[u16; 8], &[u16; 8]) {
    let (lo, hi) = words.split_at(8);
    (lo.try_into().unwrap(), hi.try_into().unwrap())
}

#[target_feature(enable = "neon")]
fn load_bytes(bytes: &[u8; 16]) -> uint8x16_t {
    // SAFETY: reads exactly the 16 bytes of `bytes`; `vld1q` needs no alignment beyond the element's.
    unsafe { vld1q_u8(bytes.as_ptr()) }
}

#[target_feature(enable = "neon")]
fn store_bytes(bytes: &mut [u8; 16], value: uint8x16_t) {
    // SAFETY: writes exactly the 16 bytes of `bytes`, which we borrow mutably.
    unsafe { vst1q_u8(bytes.as_mut_ptr(), value) }
}

#[target_feature(enable = "neon")]
fn load_words(words: &[u16; 8]) -> uint16x8_t {
    // SAFETY: reads exactly the 8 words of `words`, aligned as `u16`.
    unsafe { vld1q_u16(words.as_ptr()) }
}

#[target_feature(enable = "neon")]
fn store_words(words: &mut [u16; 8], value: uint16x8_t) {
    // SAFETY: writes exactly the 8 words of `words`, which we borrow mutably, aligned as `u16`.
    unsafe { vst1q_u16(words.as_mut_ptr(), value) }
}
