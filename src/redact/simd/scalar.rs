//! The scalar reference of each hot loop: what the vector paths must equal, bit for bit.

use super::{BoxDivider, LERP_ONE};

pub(super) fn add_row(acc: &mut [u16], row: &[u8]) {
    acc.iter_mut().zip(row).for_each(|(a, &v)| *a = a.wrapping_add(u16::from(v)));
}

pub(super) fn lerp_rows(top: &[u16], bottom: &[u16], weight: u16, out: &mut [u8]) {
    for ((out, &t), &b) in out.iter_mut().zip(top).zip(bottom) {
        *out = ((t * (LERP_ONE - weight) + b * weight + 128) >> 8) as u8;
    }
}

pub(super) fn column_step(sums: &mut [u16], add: &[u8], sub: &[u8], out: &mut [u8], divider: BoxDivider) {
    for (((sum, out), &add), &sub) in sums.iter_mut().zip(out).zip(add).zip(sub) {
        *out = divider.divide(*sum);
        *sum = sum.wrapping_add(u16::from(add)).wrapping_sub(u16::from(sub));
    }
}

/// A running sum per channel: each step adds the sample entering the window and drops the one leaving.
pub(super) fn box_row(padded: &[u8], out: &mut [u8], channels: usize, divider: BoxDivider) {
    match channels {
        1 => box_row_of::<1>(padded, out, divider),
        2 => box_row_of::<2>(padded, out, divider),
        3 => box_row_of::<3>(padded, out, divider),
        _ => box_row_of::<4>(padded, out, divider),
    }
}

fn box_row_of<const CH: usize>(padded: &[u8], out: &mut [u8], divider: BoxDivider) {
    let (padded, _) = padded.as_chunks::<CH>();
    let (out, _) = out.as_chunks_mut::<CH>();
    let taps = 2 * divider.radius();
    let mut sums = [divider.bias(); CH];
    for pixel in &padded[..taps] {
        sums.iter_mut().zip(pixel).for_each(|(s, &v)| *s += u16::from(v));
    }
    for ((out, entering), leaving) in out.iter_mut().zip(&padded[taps..]).zip(padded) {
        for c in 0..CH {
            sums[c] += u16::from(entering[c]);
            out[c] = divider.divide(sums[c]);
            sums[c] -= u16::from(leaving[c]);
        }
    }
}
