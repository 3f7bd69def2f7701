//! Counting lines: which way a track's anchor crossed a line segment, with hysteresis.

use serde::Serialize;

use super::{CountError, Frame, check_normalised};
use crate::geometry::Anchor;
use crate::geometry::Point;

/// Which way a track crossed a line. A *side* of a line is named after the crossing that ends on
/// it: the `in` side is to the right of the line's direction as seen on the image (x right,
/// y down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Onto the right-hand side of `from → to`: for `[0.5, 0] → [0.5, 1]`, right half to left
    /// half; for `[0, 0.5] → [1, 0.5]`, top to bottom.
    In,
    /// Onto the left-hand side of `from → to`.
    Out,
}

/// A counting line, validated, in normalised coordinates (0..1 of frame width and height).
///
/// The rule, per (track, line):
/// - A position is *committed* when the anchor is at least the hysteresis distance from the
///   (infinite) line; its side is then the track's committed side.
/// - Every step between consecutive positions of the track that crosses the line *segment* adds
///   +1 (into the `in` side) or −1 (into the `out` side) to a tally that restarts at every
///   committed position.
/// - A crossing is counted when the committed side changes and the tally since the previous
///   committed position points the same way: the track went from one side to the other *through
///   the segment*. A track that passes beyond the segment's ends changes sides without a count.
/// - The first committed side of a track is where it starts: no crossing; except for a track
///   nobody continues that was born inside the band and walks off it, across the line, whose way
///   walked back a second lies on the other side ([`LineTrack::start_born`], the counter's "born
///   on the line" rule).
///
/// So a track jittering on the line counts nothing until it commits to the other side, and then
/// counts once; a fast walker seen once on each side counts; `in − out` of a track is the net
/// change of its committed side through the segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    name: String,
    from: Point,
    to: Point,
    anchor: Anchor,
}

impl Line {
    /// The segment `from → to`, counting the tracks' `anchor` (config default:
    /// [`Anchor::BottomCenter`], the feet, for lines drawn on the floor). Coordinates must lie in
    /// 0..=1 and the ends must differ.
    pub fn new(name: impl Into<String>, from: Point, to: Point, anchor: Anchor) -> Result<Self, CountError> {
        let name = name.into();
        let invalid = |rule| CountError::InvalidLine { name: name.clone(), rule };
        if name.is_empty() {
            return Err(invalid("a line needs a name"));
        }
        if !check_normalised(from) || !check_normalised(to) {
            return Err(invalid("from and to are normalised coordinates: each in 0..=1"));
        }
        if from == to {
            return Err(invalid("from and to must differ"));
        }
        Ok(Self { name, from, to, anchor })
    }

    /// The line's name, as in config and in its buckets.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the segment starts, normalised.
    pub fn from(&self) -> Point {
        self.from
    }

    /// Where the segment ends, normalised.
    pub fn to(&self) -> Point {
        self.to
    }

    /// The point of a track's box that crosses.
    pub fn anchor(&self) -> Anchor {
        self.anchor
    }
}

/// A line in the pixels of one frame size, with its hysteresis distance.
#[derive(Debug, Clone, Copy)]
pub(super) struct PixelLine {
    a: Point,
    /// `to − from`, pixels.
    d: Point,
    /// `|d|²`.
    len2: f32,
    /// `|d|`.
    len: f32,
    /// The hysteresis distance times `|d|`: compared with the cross product, saves a division.
    commit: f32,
}

impl PixelLine {
    pub(super) fn new(line: &Line, frame: Frame, hysteresis_px: f32) -> Self {
        let a = frame.pixels(line.from);
        let b = frame.pixels(line.to);
        let d = Point::new(b.x - a.x, b.y - a.y);
        let len2 = d.x * d.x + d.y * d.y;
        let len = len2.sqrt();
        Self { a, d, len2, len, commit: hysteresis_px * len }
    }

    /// How far, pixels, a point moving from `from` to `to` came towards the line (negative: it
    /// went away), measured square to it.
    pub(super) fn approach(&self, from: Point, to: Point) -> f32 {
        let (a, b) = (self.cross(from), self.cross(to));
        (a - b) * a.signum() / self.len
    }

    /// The step `from → to`, pixels, square to the line and along it.
    pub(super) fn displacement(&self, from: Point, to: Point) -> (f32, f32) {
        let (dx, dy) = (to.x - from.x, to.y - from.y);
        ((self.cross(to) - self.cross(from)) / self.len, (dx * self.d.x + dy * self.d.y) / self.len)
    }

    /// The hysteresis distance, pixels.
    pub(super) fn commit_px(&self) -> f32 {
        self.commit / self.len
    }

    /// `d × (p − a)`: positive on the `in` side (with y down, that is the right-hand side of `d`).
    fn cross(&self, p: Point) -> f32 {
        self.d.x * (p.y - self.a.y) - self.d.y * (p.x - self.a.x)
    }

    /// The side `p` is on; a point exactly on the line counts as `out`.
    fn side(&self, p: Point) -> Direction {
        if self.cross(p) > 0.0 { Direction::In } else { Direction::Out }
    }

    /// The side of `p` if `p` is at least the hysteresis distance from the line, and at least
    /// `person_px` (the person's own share, see [`super::PERSON_HYSTERESIS`]).
    fn committed_side(&self, p: Point, person_px: f32) -> Option<Direction> {
        (self.cross(p).abs() >= self.commit.max(person_px * self.len)).then(|| self.side(p))
    }

    /// The direction of the step `p → q` if it crosses the segment (ends included).
    fn crossing(&self, p: Point, q: Point) -> Option<Direction> {
        let (cp, cq) = (self.cross(p), self.cross(q));
        if (cp > 0.0) == (cq > 0.0) {
            return None;
        }
        // One of cp, cq is > 0 and the other ≤ 0, so cp − cq ≠ 0 and s ∈ [0, 1].
        let s = cp / (cp - cq);
        let x = Point::new(p.x + (q.x - p.x) * s, p.y + (q.y - p.y) * s);
        let t = ((x.x - self.a.x) * self.d.x + (x.y - self.a.y) * self.d.y) / self.len2;
        (0.0..=1.0).contains(&t).then(|| self.side(q))
    }
}

/// How far back, ms, a track born inside a line's band is walked back along its own velocity.
pub(super) const BORN_BACK_MS: u64 = 1000;
/// How fast, person heights a second square to the line, such a track must walk away from it:
/// a slow walk (0.8 m/s, about half a height a second) at 45° to the line is a third of a
/// height a second across it. Slower is someone standing about, whose feet drift.
pub(super) const BORN_WALKING: f32 = 0.35;
/// How much its height may change from birth to its first committed position (a box that grows
/// or shrinks moves its feet without a step).
const BORN_SAME_SIZE: f32 = 1.25;

/// A track's way from its birth to now, for the rules on where a track first seen was before.
pub(super) struct BornWay {
    /// Its step from where it was born to where it is now, pixels.
    pub step: Point,
    /// How long that step took, ms (> 0).
    pub dt: f32,
    /// Where it was [`BORN_BACK_MS`] before it was born, walked back along that step.
    pub back: Point,
}

/// The way of a track born at `born` (pixels) at `born_ms`, its hysteresis distance (its size)
/// then `born_px`, now at `p` at `time_ms` with `person_px`: `None` if no time passed, or if its
/// size changed by more than [`BORN_SAME_SIZE`] (a box that grows or shrinks moves its feet
/// without a step).
pub(super) fn born_way(
    (born, born_ms, born_px): (Point, u64, f32),
    (p, time_ms, person_px): (Point, u64, f32),
) -> Option<BornWay> {
    let dt = time_ms.checked_sub(born_ms).filter(|&dt| dt > 0)? as f32;
    if person_px.max(born_px) > BORN_SAME_SIZE * person_px.min(born_px) {
        return None;
    }
    let step = Point::new(p.x - born.x, p.y - born.y);
    let k = BORN_BACK_MS as f32 / dt;
    Some(BornWay { step, dt, back: Point::new(born.x - step.x * k, born.y - step.y * k) })
}

/// Whether a track born inside the band, now first committed on `side`, walked across the line
/// to get there ([`born_way`] from birth to now, pixels, ms and hysteresis distances): square to
/// the line at least as much as along it, at [`BORN_WALKING`] of its height a second or faster,
/// and walked back along that way for [`BORN_BACK_MS`] it was committed on the other side,
/// inside the picture, and the way from there to where it is now crosses the segment.
fn came_across(
    line: &PixelLine,
    frame: Frame,
    birth: (Point, u64, f32),
    now: (Point, u64, f32),
    side: Direction,
) -> Option<Direction> {
    let (p, person_px) = (now.0, now.2);
    let way = born_way(birth, now)?;
    let (perp, along) = line.displacement(birth.0, p);
    let height = person_px / super::PERSON_HYSTERESIS;
    if perp.abs() < along.abs() || perp.abs() * 1000.0 / way.dt < BORN_WALKING * height {
        return None;
    }
    // Walked back out of the picture, they came in over its edge: seen from their first step in.
    if !check_normalised(frame.normalised(way.back)) {
        return None;
    }
    let other = match side {
        Direction::In => Direction::Out,
        Direction::Out => Direction::In,
    };
    (line.committed_side(way.back, person_px) == Some(other) && line.crossing(way.back, p) == Some(side))
        .then_some(side)
}

/// What one line remembers about one track: only what the next pass needs.
#[derive(Debug, Clone, Copy)]
pub(super) struct LineTrack {
    /// The anchor at the track's latest pass, normalised (survives a change of frame size).
    last: Point,
    /// The side of the latest committed position; `None` until the first.
    committed: Option<Direction>,
    /// Segment crossings since the latest committed position: +1 into `in`, −1 into `out`.
    net: i32,
    /// Where (normalised) and when (ms) a track first seen inside the hysteresis band was born,
    /// and its own hysteresis distance then (its size), until its first committed position.
    born: Option<(Point, u64, f32)>,
}

impl LineTrack {
    /// The side of the latest committed position; `None` until the first.
    pub(super) fn committed(&self) -> Option<Direction> {
        self.committed
    }

    /// A track first seen with its anchor at `p` (pixels), `person_px` being the person's own
    /// hysteresis distance ([`super::PERSON_HYSTERESIS`]).
    pub(super) fn start(line: &PixelLine, frame: Frame, p: Point, person_px: f32) -> Self {
        Self { last: frame.normalised(p), committed: line.committed_side(p, person_px), net: 0, born: None }
    }

    /// [`Self::start`] for a track nobody continues: born inside the band at `time_ms`, its
    /// first committed side may be the end of a crossing (see [`Self::advance`]).
    pub(super) fn start_born(line: &PixelLine, frame: Frame, p: Point, person_px: f32, time_ms: u64) -> Self {
        let mut state = Self::start(line, frame, p, person_px);
        if state.committed.is_none() {
            state.born = Some((frame.normalised(p), time_ms, person_px));
        }
        state
    }

    /// The track's anchor is now at `p` (pixels), `person_px` being the person's own hysteresis
    /// distance: the crossing this completes, if any.
    pub(super) fn advance(
        &mut self,
        line: &PixelLine,
        frame: Frame,
        p: Point,
        person_px: f32,
        time_ms: u64,
    ) -> Option<Direction> {
        match line.crossing(frame.pixels(self.last), p) {
            Some(Direction::In) => self.net += 1,
            Some(Direction::Out) => self.net -= 1,
            None => {}
        }
        self.last = frame.normalised(p);
        let side = line.committed_side(p, person_px)?;
        let through = match side {
            Direction::In => self.net > 0,
            Direction::Out => self.net < 0,
        };
        let previous = self.committed.replace(side);
        self.net = 0;
        if previous.is_none()
            && let Some((born, born_ms, born_px)) = self.born.take()
        {
            return came_across(
                line,
                frame,
                (frame.pixels(born), born_ms, born_px),
                (p, time_ms, person_px),
                side,
            );
        }
        (previous.is_some_and(|c| c != side) && through).then_some(side)
    }
}
