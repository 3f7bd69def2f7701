//! A constant-velocity Kalman filter on one box's centre and size, with time in frames.
//!
//! The state is `(cx, cy, w, h)` and their velocities in px/frame, the `xywh` variant of
//! ByteTrack's filter that BoT-SORT uses: a velocity of the width reads directly as px/frame, where
//! ByteTrack's aspect-ratio state would not. Noise is the one ByteTrack/SORT use, a standard
//! deviation proportional to the box size (1/20 of it on position, 1/160 of it per frame on
//! velocity; `x` and `w` scale with the width, `y` and `h` with the height), so a large near box
//! moves more pixels per frame than a small far one without retuning.
//!
//! With a diagonal process and measurement noise and a measurement of positions only, the 8×8
//! filter is four independent filters of (position, velocity), one per coordinate; this module
//! runs those four 2×2 filters, which is the same arithmetic without the zeros.

use crate::geometry::Rect;

use super::Velocity;

/// Measurement and per-frame process noise on position, as a fraction of the box size.
const STD_POSITION: f64 = 1.0 / 20.0;
/// Per-frame process noise on velocity, as a fraction of the box size per frame.
const STD_VELOCITY: f64 = 1.0 / 160.0;
/// The smallest box size (px) noise is scaled with, so a degenerate box still has some noise.
const MIN_SCALE: f64 = 1.0;

/// The 95th percentile of the chi-square distribution with 4 degrees of freedom: a box whose
/// [`BoxFilter::distance2`] is below it is a plausible measurement of the track (DeepSORT's
/// `chi2inv95[4]`).
pub(super) const GATE_4DOF: f64 = 9.4877;

/// One coordinate and its velocity, with their 2×2 covariance.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    pos: f64,
    vel: f64,
    p_pp: f64,
    p_pv: f64,
    p_vv: f64,
}

impl Axis {
    /// A first measurement at `pos`: velocity 0, uncertain (ByteTrack's initial deviations).
    fn new(pos: f64, scale: f64) -> Self {
        let sp = 2.0 * STD_POSITION * scale;
        let sv = 10.0 * STD_VELOCITY * scale;
        Self { pos, vel: 0.0, p_pp: sp * sp, p_pv: 0.0, p_vv: sv * sv }
    }

    /// Moves the state `n` frames ahead: exactly `n` one-frame steps `P ← F P Fᵀ + Q` in closed
    /// form, `Fⁿ P Fⁿᵀ + Σⱼ Fʲ Q Fʲᵀ` with `Fʲ = [[1, j], [0, 1]]` and `j = 0..n`.
    fn predict(&mut self, n: f64, scale: f64) {
        let qp = (STD_POSITION * scale).powi(2);
        let qv = (STD_VELOCITY * scale).powi(2);
        let sum_j = n * (n - 1.0) / 2.0;
        let sum_j2 = (n - 1.0) * n * (2.0 * n - 1.0) / 6.0;
        let p_pp = self.p_pp + 2.0 * n * self.p_pv + n * n * self.p_vv;
        let p_pv = self.p_pv + n * self.p_vv;
        self.p_pp = p_pp + n * qp + sum_j2 * qv;
        self.p_pv = p_pv + sum_j * qv;
        self.p_vv += n * qv;
        self.pos += n * self.vel;
    }

    /// The squared distance of a measured position `z` from the predicted one, in deviations of
    /// the innovation (prediction and measurement noise together).
    fn distance2(&self, z: f64, scale: f64) -> f64 {
        let s = self.p_pp + (STD_POSITION * scale).powi(2);
        (z - self.pos).powi(2) / s
    }

    /// Corrects the state with a measured position `z`.
    fn update(&mut self, z: f64, scale: f64) {
        let r = (STD_POSITION * scale).powi(2);
        let s = self.p_pp + r;
        let (k_pos, k_vel) = (self.p_pp / s, self.p_pv / s);
        let innovation = z - self.pos;
        self.pos += k_pos * innovation;
        self.vel += k_vel * innovation;
        self.p_vv -= k_vel * self.p_pv;
        self.p_pp *= 1.0 - k_pos;
        self.p_pv *= 1.0 - k_pos;
    }
}

/// The filter of one track: centre x, centre y, width, height.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct BoxFilter {
    axes: [Axis; 4],
}

impl BoxFilter {
    /// A filter started from a first detected box, at rest.
    pub(super) fn new(rect: &Rect) -> Self {
        let z = measurement(rect);
        let (sw, sh) = scales(&z);
        Self { axes: [Axis::new(z[0], sw), Axis::new(z[1], sh), Axis::new(z[2], sw), Axis::new(z[3], sh)] }
    }

    /// Moves the state `frames` frames ahead; noise scales with the box size at the start.
    pub(super) fn predict(&mut self, frames: u64) {
        self.predict_span(frames as f64);
    }

    /// [`BoxFilter::predict`] over a span of `frames` that need not be whole (a stream frame
    /// stated in frames at another rate: the closed form taken at that span, the one-frame noise
    /// spread over it); nothing for a span that is not positive.
    pub(super) fn predict_span(&mut self, frames: f64) {
        if frames.is_nan() || frames <= 0.0 {
            return;
        }
        let (sw, sh) = scales(&self.mean());
        for (axis, scale) in self.axes.iter_mut().zip([sw, sh, sw, sh]) {
            axis.predict(frames, scale);
        }
    }

    /// Corrects the state with a detected box; noise scales with the predicted box size.
    pub(super) fn update(&mut self, rect: &Rect) {
        let z = measurement(rect);
        let (sw, sh) = scales(&self.mean());
        for ((axis, z), scale) in self.axes.iter_mut().zip(z).zip([sw, sh, sw, sh]) {
            axis.update(z, scale);
        }
    }

    /// The squared Mahalanobis distance of a detected box from the predicted state, over centre
    /// and size (the gating distance DeepSORT uses): how unlikely the box is as this track's next
    /// measurement, given how uncertain the prediction has become over the frames since the
    /// latest update. Compare with [`GATE_4DOF`].
    pub(super) fn distance2(&self, rect: &Rect) -> f64 {
        let z = measurement(rect);
        let (sw, sh) = scales(&self.mean());
        self.axes.iter().zip(z).zip([sw, sh, sw, sh]).map(|((axis, z), scale)| axis.distance2(z, scale)).sum()
    }

    /// Stops the size from changing (ByteTrack does this for lost tracks before each prediction,
    /// so an unobserved box cannot shrink to nothing or grow without bound).
    pub(super) fn hold_size(&mut self) {
        self.axes[2].vel = 0.0;
        self.axes[3].vel = 0.0;
    }

    /// The box the state describes.
    pub(super) fn rect(&self) -> Rect {
        let [cx, cy, w, h] = self.mean();
        rect_from(cx as f32, cy as f32, w as f32, h as f32)
    }

    /// The velocities of centre and size, px/frame.
    pub(super) fn velocity(&self) -> Velocity {
        let [cx, cy, w, h] = self.axes.map(|a| a.vel as f32);
        Velocity { cx, cy, w, h }
    }

    fn mean(&self) -> [f64; 4] {
        self.axes.map(|a| a.pos)
    }
}

/// A box from its centre and size.
pub(super) fn rect_from(cx: f32, cy: f32, w: f32, h: f32) -> Rect {
    Rect::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
}

/// `(cx, cy, w, h)` of a box.
fn measurement(rect: &Rect) -> [f64; 4] {
    let (w, h) = (f64::from(rect.width()), f64::from(rect.height()));
    [f64::from(rect.x0) + w / 2.0, f64::from(rect.y0) + h / 2.0, w, h]
}

/// The sizes noise scales with: the width for `x` and `w`, the height for `y` and `h`.
fn scales(mean: &[f64; 4]) -> (f64, f64) {
    (mean[2].abs().max(MIN_SCALE), mean[3].abs().max(MIN_SCALE))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The closed-form `n`-frame prediction equals `n` one-frame predictions.
    #[test]
    fn predicting_n_frames_at_once_equals_n_single_frames() {
        let mut once = Axis { pos: 10.0, vel: 2.0, p_pp: 4.0, p_pv: 0.5, p_vv: 0.3 };
        let mut stepwise = once;
        once.predict(7.0, 50.0);
        for _ in 0..7 {
            stepwise.predict(1.0, 50.0);
        }
        for (a, b) in [
            (once.pos, stepwise.pos),
            (once.vel, stepwise.vel),
            (once.p_pp, stepwise.p_pp),
            (once.p_pv, stepwise.p_pv),
            (once.p_vv, stepwise.p_vv),
        ] {
            assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} != {b}");
        }
        assert_eq!(once.pos, 24.0);
    }

    /// Boxes measured every 3 frames while moving 3 px/frame right and growing 1 px/frame: the
    /// filter's velocities converge to those per-frame rates, not per-pass ones.
    #[test]
    fn velocity_is_per_frame_across_gaps() {
        let at = |f: f32| Rect::new(100.0 + 3.0 * f, 50.0, 140.0 + 4.0 * f, 110.0);
        let mut filter = BoxFilter::new(&at(0.0));
        for pass in 1..=10 {
            filter.predict(3);
            filter.update(&at(3.0 * pass as f32));
        }
        let v = filter.velocity();
        assert!((v.cx - 3.5).abs() < 0.1, "{v:?}");
        assert!((v.w - 1.0).abs() < 0.1, "{v:?}");
        assert!(v.cy.abs() < 0.05 && v.h.abs() < 0.05, "{v:?}");
    }

    /// A measurement far from the prediction moves the state towards it, not past it.
    #[test]
    fn update_blends_prediction_and_measurement() {
        let mut filter = BoxFilter::new(&Rect::new(0.0, 0.0, 40.0, 40.0));
        filter.predict(1);
        filter.update(&Rect::new(10.0, 0.0, 50.0, 40.0));
        let r = filter.rect();
        assert!(r.x0 > 0.0 && r.x0 < 10.0, "{r:?}");
        assert!(filter.velocity().cx > 0.0);
    }
}
