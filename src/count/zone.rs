//! Zones: polygons in which tracks are counted present (occupancy), entering (entries) and for how
//! long (dwell).

use super::{CountError, Frame, check_normalised, line};
use crate::geometry::Anchor;
use crate::geometry::Point;

/// A counting zone, validated, in normalised coordinates (0..1 of frame width and height).
///
/// The rule, per (track, zone), with a margin `m` (the hysteresis distance):
/// - The anchor is *inside* when it is in the polygon (even-odd rule) at least `m` from its
///   boundary, *outside* when out of it at least `m` from the boundary; within `m` of the
///   boundary the track keeps its previous state. A track flickering on the boundary neither
///   enters nor leaves.
/// - An *entry* is counted when a track becomes inside after being outside or after being first
///   seen within the margin (that is how a person walking in over a zone edge that is also the
///   frame edge appears). A track first seen already inside (stream start, a track that the
///   tracker lost and found again under a new id) is present but has not entered: it counts in
///   occupancy, not in entries, and its visit has no dwell time. So does a track nobody
///   continues, first seen within the margin, that becomes inside without having walked in
///   ([`walked_in`]): someone standing or walking along the edge, found again under a new id.
/// - A visit lasts from the pass at which its entry is counted to the last pass at which the
///   track was seen before it became outside, or before it ended. Every counted entry yields
///   exactly one dwell time, when the visit ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    name: String,
    polygon: Vec<Point>,
    anchor: Anchor,
}

impl Zone {
    /// The polygon through `polygon`'s points (≥ 3, any winding, concave or self-intersecting
    /// allowed; the even-odd rule says what is inside), counting the tracks' `anchor` (config
    /// default: [`Anchor::BottomCenter`], the feet). Coordinates must lie in 0..=1 and the points
    /// must not all lie on one line.
    pub fn new(name: impl Into<String>, polygon: Vec<Point>, anchor: Anchor) -> Result<Self, CountError> {
        let name = name.into();
        let invalid = |rule| CountError::InvalidZone { name: name.clone(), rule };
        if name.is_empty() {
            return Err(invalid("a zone needs a name"));
        }
        if polygon.len() < 3 {
            return Err(invalid("a zone is a polygon of at least 3 points"));
        }
        if !polygon.iter().all(|&p| check_normalised(p)) {
            return Err(invalid("points are normalised coordinates: each in 0..=1"));
        }
        if !encloses_area(&polygon) {
            return Err(invalid("the points enclose no area: they all lie on one line"));
        }
        Ok(Self { name, polygon, anchor })
    }

    /// The zone's name, as in config and in its buckets.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The polygon's points, normalised.
    pub fn polygon(&self) -> &[Point] {
        &self.polygon
    }

    /// The point of a track's box that is in or out.
    pub fn anchor(&self) -> Anchor {
        self.anchor
    }

    /// Where `p` (pixels) is: `Some(true)` inside, `Some(false)` outside, `None` within
    /// `margin_px` of the boundary.
    pub(super) fn presence(&self, frame: Frame, margin_px: f32, p: Point) -> Option<bool> {
        let mut inside = false;
        let mut distance2 = f32::INFINITY;
        let mut a = frame.pixels(self.polygon[self.polygon.len() - 1]);
        for &vertex in &self.polygon {
            let b = frame.pixels(vertex);
            if (a.y > p.y) != (b.y > p.y) && p.x < a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y) {
                inside = !inside;
            }
            distance2 = distance2.min(segment_distance2(a, b, p));
            a = b;
        }
        (distance2 >= margin_px * margin_px).then_some(inside)
    }
}

/// Whether the points do not all lie on one line.
fn encloses_area(polygon: &[Point]) -> bool {
    let a = polygon[0];
    let Some(b) = polygon.iter().find(|&&p| p != a) else { return false };
    polygon.iter().any(|p| (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x) != 0.0)
}

/// The squared distance from `p` to the segment `a–b`.
fn segment_distance2(a: Point, b: Point, p: Point) -> f32 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (ex, ey) = (a.x + t * dx - p.x, a.y + t * dy - p.y);
    ex * ex + ey * ey
}

/// What one zone remembers about one track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum ZoneTrack {
    /// First seen within the margin of the boundary; neither inside nor outside yet. `born`: a
    /// track nobody continues, whose step inside is an entry only if it walked in.
    Boundary { born: Option<Birth> },
    /// Last committed outside.
    Outside,
    /// In a visit: since `entered_ms` if its entry was counted, last seen at `last_ms`; `born`
    /// while a track nobody continues, first seen inside, has not yet shown whether it walked in.
    Inside { entered_ms: Option<u64>, last_ms: u64, born: Option<Birth> },
}

/// Where (normalised) and when (ms) a track nobody continues was first seen inside a zone, and
/// its own hysteresis distance then (its size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Birth {
    at: Point,
    pub(super) time_ms: u64,
    person_px: f32,
}

/// Whether a track first seen inside `zone` (`birth`), now at `p` (pixels) at `time_ms` with
/// its hysteresis distance `person_px`, walked in: it walks (at least [`line::BORN_WALKING`] of
/// its height a second, the same size, [`line::born_way`]), and walked back along that way for
/// [`line::BORN_BACK_MS`] from where it was first seen, it was outside the zone by the margin (or
/// outside the picture: it came in over the frame's edge). As a line's born rule, for the same
/// reason: a person found only once inside (seen late coming in at the picture's edge, hidden
/// behind someone as they crossed the zone's edge) did not appear there.
pub(super) fn walked_in(
    zone: &Zone,
    frame: Frame,
    margin_px: f32,
    birth: Birth,
    now: (Point, u64, f32),
) -> bool {
    let born = (frame.pixels(birth.at), birth.time_ms, birth.person_px);
    let Some(way) = line::born_way(born, now) else { return false };
    let height = now.2 / super::PERSON_HYSTERESIS;
    way.step.x.hypot(way.step.y) * 1000.0 / way.dt >= line::BORN_WALKING * height
        && zone.presence(frame, margin_px, way.back) == Some(false)
}

/// What one pass changed for one track in one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ZoneChange {
    None,
    /// An entry to count.
    Entered,
    /// A visit ended; its dwell time if its entry was counted.
    Left(Option<u64>),
}

impl ZoneTrack {
    /// A track first seen at `presence` (see [`Zone::presence`]) at `time_ms`.
    pub(super) fn start(presence: Option<bool>, time_ms: u64) -> Self {
        match presence {
            None => Self::Boundary { born: None },
            Some(false) => Self::Outside,
            Some(true) => Self::Inside { entered_ms: None, last_ms: time_ms, born: None },
        }
    }

    /// [`Self::start`] for a track nobody continues, first seen with its anchor at `p` (pixels),
    /// `person_px` being its own hysteresis distance: first seen inside, its next position may
    /// show that it walked in ([`walked_in`]); first seen within the margin, the position at
    /// which it is inside must show it.
    pub(super) fn start_born(
        presence: Option<bool>,
        frame: Frame,
        p: Point,
        person_px: f32,
        time_ms: u64,
    ) -> Self {
        let born = Some(Birth { at: frame.normalised(p), time_ms, person_px });
        match Self::start(presence, time_ms) {
            Self::Inside { entered_ms, last_ms, .. } => Self::Inside { entered_ms, last_ms, born },
            Self::Boundary { .. } => Self::Boundary { born },
            state => state,
        }
    }

    /// The birth of a track first seen inside, once it is seen again later: taken (it is judged
    /// once, at the first later position).
    pub(super) fn take_birth(&mut self, time_ms: u64) -> Option<Birth> {
        match self {
            Self::Inside { born, .. } if born.is_some_and(|b| time_ms > b.time_ms) => born.take(),
            _ => None,
        }
    }

    /// A visit whose entry is counted after all, as from `entered_ms`.
    pub(super) fn entered_at(&mut self, entered_ms: u64) {
        if let Self::Inside { entered_ms: entered, .. } = self {
            *entered = Some(entered_ms);
        }
    }

    /// A visit whose entry is not this track's to count after all (it was someone else's): the
    /// track stays in it, present, with no entry and no dwell time.
    pub(super) fn forget_entry(&mut self) {
        if let Self::Inside { entered_ms, .. } = self {
            *entered_ms = None;
        }
    }

    /// The birth of a track nobody continues first seen on the boundary, if it is still there.
    pub(super) fn boundary_birth(&self) -> Option<Birth> {
        match *self {
            Self::Boundary { born } => born,
            _ => None,
        }
    }

    /// A track first seen on the boundary that is inside now without having walked in: present,
    /// in a visit with no entry.
    pub(super) fn inside_unentered(&mut self, time_ms: u64) {
        *self = Self::start(Some(true), time_ms);
    }

    /// The track is seen at `presence` at `time_ms`.
    pub(super) fn advance(&mut self, presence: Option<bool>, time_ms: u64) -> ZoneChange {
        match (*self, presence) {
            (Self::Boundary { .. } | Self::Outside, Some(true)) => {
                *self = Self::Inside { entered_ms: Some(time_ms), last_ms: time_ms, born: None };
                ZoneChange::Entered
            }
            (Self::Boundary { .. } | Self::Outside, Some(false)) => {
                *self = Self::Outside;
                ZoneChange::None
            }
            (Self::Boundary { .. } | Self::Outside, None) => ZoneChange::None,
            (Self::Inside { .. }, Some(false)) => {
                let dwell = self.end();
                *self = Self::Outside;
                ZoneChange::Left(dwell)
            }
            (Self::Inside { entered_ms, born, .. }, _) => {
                *self = Self::Inside { entered_ms, last_ms: time_ms, born };
                ZoneChange::None
            }
        }
    }

    /// The dwell time of the visit this track is in, if it is in one whose entry was counted: what
    /// the visit records when it ends (the track left or ended).
    pub(super) fn end(&self) -> Option<u64> {
        match *self {
            Self::Inside { entered_ms: Some(entered), last_ms, .. } => Some(last_ms - entered),
            _ => None,
        }
    }

    /// Whether the track is in a visit.
    pub(super) fn is_inside(&self) -> bool {
        matches!(self, Self::Inside { .. })
    }
}
