//! Counting rules, observed the way a user would: counts per line, zone and bucket.

use proptest::prelude::*;

use super::*;
use crate::geometry::Anchor;
use crate::track::TrackId;

const W: u32 = 1920;
const H: u32 = 1080;
const MINUTE: u64 = 60_000;
/// 2023-11-14 22:15 UTC: a 15 min bucket boundary.
const T0: u64 = 1_699_999_200_000;
/// Time between detection passes in these tests, ms.
const STEP: u64 = 200;

/// The hysteresis distance at the default 0.02 of the frame diagonal, px.
fn h_px() -> f32 {
    0.02 * (W as f32).hypot(H as f32)
}

/// A person box whose feet (bottom centre) stand at normalised `(x, y)`.
fn person(x: f32, y: f32) -> Rect {
    let (px, py) = (x * W as f32, y * H as f32);
    Rect::new(px - 30.0, py - 200.0, px + 30.0, py)
}

fn line(from: [f32; 2], to: [f32; 2]) -> Line {
    Line::new("door", Point::new(from[0], from[1]), Point::new(to[0], to[1]), Anchor::BottomCenter).unwrap()
}

fn square_zone(x0: f32, y0: f32, x1: f32, y1: f32) -> Zone {
    let corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)];
    Zone::new("till", corners.map(|(x, y)| Point::new(x, y)).to_vec(), Anchor::BottomCenter).unwrap()
}

/// Drives a counter pass by pass and collects every bucket it closes.
struct Run {
    counter: Counter<u64>,
    time_ms: u64,
    closed: Closed,
}

impl Run {
    fn new(lines: Vec<Line>, zones: Vec<Zone>) -> Self {
        Self::with(lines, zones, &CountSettings::default())
    }

    fn with(lines: Vec<Line>, zones: Vec<Zone>, settings: &CountSettings) -> Self {
        let counter = Counter::new("entrance", lines, zones, settings).unwrap();
        Self { counter, time_ms: T0, closed: Closed::default() }
    }

    /// A pass at the current time with these tracks' feet (normalised) and these tracks ended,
    /// then the clock moves on by [`STEP`].
    fn pass(&mut self, tracks: &[(u64, (f32, f32))], ended: &[u64]) {
        let tracks: Vec<(u64, Rect)> = tracks.iter().map(|&(id, (x, y))| (id, person(x, y))).collect();
        self.pass_boxes(&tracks, ended);
    }

    /// [`Run::pass`] with the tracks' boxes as they are.
    fn pass_boxes(&mut self, tracks: &[(u64, Rect)], ended: &[u64]) {
        let pass = Pass { time_ms: self.time_ms, width: W, height: H, tracks, tentative: &[], ended };
        let closed = self.counter.observe(&pass).unwrap();
        self.closed.lines.extend(closed.lines);
        self.closed.zones.extend(closed.zones);
        self.time_ms += STEP;
    }

    /// Track `id` walks through `path`, one point per pass, and then ends.
    fn walk(&mut self, id: u64, path: &[(f32, f32)]) {
        for &point in path {
            self.pass(&[(id, point)], &[]);
        }
        self.pass(&[], &[id]);
    }

    fn finish(mut self) -> Closed {
        let closed = self.counter.close_all();
        self.closed.lines.extend(closed.lines);
        self.closed.zones.extend(closed.zones);
        self.closed
    }
}

/// `(in, out)` of all line buckets.
fn line_counts(closed: &Closed) -> (u64, u64) {
    closed.lines.iter().fold((0, 0), |(i, o), b| (i + b.in_count, o + b.out_count))
}

/// `(in, out)` of one track walking `path` across `line`.
fn walk_counts(line: Line, path: &[(f32, f32)]) -> (u64, u64) {
    let mut run = Run::new(vec![line], vec![]);
    run.walk(1, path);
    line_counts(&run.finish())
}

/// `n` points from `a` to `b`, both included.
fn steps(a: (f32, f32), b: (f32, f32), n: usize) -> Vec<(f32, f32)> {
    (0..n)
        .map(|i| i as f32 / (n - 1) as f32)
        .map(|t| (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t))
        .collect()
}

// ---- lines: direction ----

#[test]
fn vertical_line_pointing_down_counts_right_to_left_as_in() {
    let down = || line([0.5, 0.0], [0.5, 1.0]);
    assert_eq!(walk_counts(down(), &steps((0.8, 0.5), (0.2, 0.5), 7)), (1, 0));
    assert_eq!(walk_counts(down(), &steps((0.2, 0.5), (0.8, 0.5), 7)), (0, 1));
}

#[test]
fn horizontal_line_pointing_right_counts_top_to_bottom_as_in() {
    let right = || line([0.0, 0.5], [1.0, 0.5]);
    assert_eq!(walk_counts(right(), &steps((0.5, 0.2), (0.5, 0.8), 7)), (1, 0));
    assert_eq!(walk_counts(right(), &steps((0.5, 0.8), (0.5, 0.2), 7)), (0, 1));
}

#[test]
fn reversing_a_line_swaps_in_and_out() {
    let left = || line([1.0, 0.5], [0.0, 0.5]);
    assert_eq!(walk_counts(left(), &steps((0.5, 0.2), (0.5, 0.8), 7)), (0, 1));
    assert_eq!(walk_counts(left(), &steps((0.5, 0.8), (0.5, 0.2), 7)), (1, 0));
}

#[test]
fn diagonal_line_counts_both_directions() {
    // Pointing down-right on the image: its right-hand side is below-left of it.
    let diagonal = || line([0.2, 0.2], [0.8, 0.8]);
    assert_eq!(walk_counts(diagonal(), &steps((0.6, 0.4), (0.4, 0.6), 9)), (1, 0));
    assert_eq!(walk_counts(diagonal(), &steps((0.4, 0.6), (0.6, 0.4), 9)), (0, 1));
    // Along the line, never crossing it.
    assert_eq!(walk_counts(diagonal(), &steps((0.3, 0.5), (0.6, 0.8), 9)), (0, 0));
}

#[test]
fn center_anchor_counts_the_box_centre() {
    // The feet cross the horizontal line at y = 0.5 but the box centre (100 px higher) stays
    // above it.
    let centre = Line::new("c", Point::new(0.0, 0.5), Point::new(1.0, 0.5), Anchor::Center).unwrap();
    assert_eq!(walk_counts(centre, &steps((0.5, 0.4), (0.5, 0.58), 5)), (0, 0));
    let feet = line([0.0, 0.5], [1.0, 0.5]);
    assert_eq!(walk_counts(feet, &steps((0.5, 0.4), (0.5, 0.58), 5)), (1, 0));
}

// ---- lines: the segment and hysteresis ----

#[test]
fn fast_walker_seen_once_on_each_side_counts() {
    let door = || line([0.5, 0.1], [0.5, 0.9]);
    assert_eq!(walk_counts(door(), &[(0.9, 0.5), (0.1, 0.5)]), (1, 0));
    assert_eq!(walk_counts(door(), &[(0.1, 0.3), (0.9, 0.7)]), (0, 1));
}

#[test]
fn path_beyond_the_segments_end_does_not_count() {
    let short = || line([0.5, 0.2], [0.5, 0.6]);
    // Below the segment's lower end (y = 0.6), slowly and in one jump.
    assert_eq!(walk_counts(short(), &steps((0.8, 0.7), (0.2, 0.7), 13)), (0, 0));
    assert_eq!(walk_counts(short(), &[(0.8, 0.62), (0.2, 0.62)]), (0, 0));
    // A jump whose straight path passes above the upper end (y = 0.2).
    assert_eq!(walk_counts(short(), &[(0.8, 0.05), (0.2, 0.15)]), (0, 0));
    // The same walks through the segment count.
    assert_eq!(walk_counts(short(), &steps((0.8, 0.5), (0.2, 0.5), 13)), (1, 0));
    assert_eq!(walk_counts(short(), &[(0.8, 0.25), (0.2, 0.35)]), (1, 0));
}

#[test]
fn going_around_the_end_then_through_counts_the_crossing_through() {
    let short = || line([0.5, 0.2], [0.5, 0.6]);
    // Left side to right side around the lower end, then back through the segment: one in.
    let mut path = steps((0.3, 0.4), (0.3, 0.8), 5);
    path.extend(steps((0.3, 0.8), (0.7, 0.8), 5));
    path.extend(steps((0.7, 0.8), (0.7, 0.4), 5));
    path.extend(steps((0.7, 0.4), (0.3, 0.4), 5));
    assert_eq!(walk_counts(short(), &path), (1, 0));
}

#[test]
fn jitter_on_the_line_after_crossing_counts_once() {
    let door = line([0.5, 0.0], [0.5, 1.0]);
    let jitter = 0.5 * h_px() / W as f32;
    let mut path = steps((0.8, 0.5), (0.45, 0.5), 5);
    for i in 0..60 {
        path.push((if i % 2 == 0 { 0.5 + jitter } else { 0.5 - jitter }, 0.5));
    }
    path.extend(steps((0.45, 0.5), (0.2, 0.5), 5));
    assert_eq!(walk_counts(door, &path), (1, 0));
}

#[test]
fn jitter_on_the_line_without_committing_to_the_other_side_counts_nothing() {
    let door = || line([0.5, 0.0], [0.5, 1.0]);
    let jitter = 0.8 * h_px() / W as f32;
    let mut path = steps((0.8, 0.5), (0.5 + jitter, 0.5), 5);
    for i in 0..60 {
        path.push((if i % 2 == 0 { 0.5 - jitter } else { 0.5 + jitter }, 0.5));
    }
    let mut back = path.clone();
    back.extend(steps((0.5 + jitter, 0.5), (0.8, 0.5), 5));
    assert_eq!(walk_counts(door(), &back), (0, 0));
    // Ends on the line, on the far side but within the hysteresis.
    path.push((0.5 - jitter, 0.5));
    assert_eq!(walk_counts(door(), &path), (0, 0));
}

#[test]
fn in_then_back_out_counts_one_in_and_one_out() {
    let door = line([0.5, 0.0], [0.5, 1.0]);
    let mut path = steps((0.8, 0.5), (0.2, 0.5), 7);
    path.extend(steps((0.2, 0.5), (0.8, 0.5), 7));
    assert_eq!(walk_counts(door, &path), (1, 1));
}

#[test]
fn track_first_seen_on_the_line_is_not_a_crossing() {
    let door = line([0.5, 0.0], [0.5, 1.0]);
    assert_eq!(walk_counts(door, &steps((0.5, 0.5), (0.2, 0.5), 5)), (0, 0));
}

/// `(in, out)` of the door line `[0.5, 0] → [0.5, 1]` when track 2 (a 200 px person) appears with
/// its feet at each of `feet` (normalised), one pass each, after someone else has been seen
/// elsewhere for `before` passes ([`STEP`] apart); each foot may come with its own box height.
fn born_counts(settings: &CountSettings, before: usize, feet: &[((f32, f32), f32)]) -> (u64, u64) {
    born_counts_at(0.5, settings, before, feet)
}

/// [`born_counts`] with the door line at `x` (normalised), top to bottom.
fn born_counts_at(x: f32, settings: &CountSettings, before: usize, feet: &[((f32, f32), f32)]) -> (u64, u64) {
    let door = line([x, 0.0], [x, 1.0]);
    let mut counter = Counter::new("entrance", vec![door], vec![], settings).unwrap();
    let mut time_ms = T0;
    let far = person(0.1, 0.3);
    let mut observe = |tracks: &[(u64, Rect)], time_ms: u64| {
        let pass = Pass { time_ms, width: W, height: H, tracks, tentative: &[], ended: &[] };
        counter.observe(&pass).unwrap();
    };
    for _ in 0..before {
        observe(&[(1, far)], time_ms);
        time_ms += STEP;
    }
    for &((x, y), height) in feet {
        let (px, py) = (x * W as f32, y * H as f32);
        observe(&[(1, far), (2, Rect::new(px - 30.0, py - height, px + 30.0, py))], time_ms);
        time_ms += STEP;
    }
    line_counts(&counter.close_all())
}

#[test]
fn track_born_on_the_line_walking_off_it_counts_the_crossing_it_came_from() {
    let stitching = CountSettings::default();
    let walk = |from: (f32, f32), to: (f32, f32)| -> Vec<((f32, f32), f32)> {
        steps(from, to, 6).into_iter().map(|p| (p, 200.0)).collect()
    };
    // 19 px left of the line (the band is 44 px), walking right at ~1 height a second: they were
    // left of the line a second before, so this is a crossing (out: left to right).
    assert_eq!(born_counts(&stitching, 6, &walk((0.49, 0.5), (0.59, 0.5))), (0, 1));
    assert_eq!(born_counts(&stitching, 6, &walk((0.51, 0.5), (0.41, 0.5))), (1, 0));
    // In the stream's first second they may have stood there before it began: nothing.
    assert_eq!(born_counts(&stitching, 2, &walk((0.49, 0.5), (0.59, 0.5))), (0, 0));
    // Ground truth (no stitching): an annotated person first seen there appeared there.
    let off = CountSettings { stitch_ms: 0, ..CountSettings::default() };
    assert_eq!(born_counts(&off, 6, &walk((0.49, 0.5), (0.59, 0.5))), (0, 0));
    // Drifting off slowly (a third of a height a second) is no walk across it.
    let slow: Vec<_> = steps((0.49, 0.5), (0.53, 0.5), 10).into_iter().map(|p| (p, 200.0)).collect();
    assert_eq!(born_counts(&stitching, 6, &slow), (0, 0));
    // Walking mostly along the line, off it at a slant: nothing.
    assert_eq!(born_counts(&stitching, 6, &walk((0.49, 0.2), (0.56, 0.9))), (0, 0));
    // Feet that jump because the box grew (a person coming out from behind something at the
    // bottom), not because they stepped: nothing.
    let grown = [((0.49, 0.5), 200.0), ((0.49, 0.5), 200.0), ((0.53, 0.5), 300.0), ((0.55, 0.5), 300.0)];
    assert_eq!(born_counts(&stitching, 6, &grown), (0, 0));
    // A line 0.05 of the width from the picture's edge: walked back a second, this walker would
    // have been outside the picture, so they came in over its edge (as their annotation would
    // begin there): nothing. The same walk further in counts.
    assert_eq!(born_counts_at(0.05, &stitching, 6, &walk((0.04, 0.5), (0.14, 0.5))), (0, 0));
    assert_eq!(born_counts_at(0.15, &stitching, 6, &walk((0.14, 0.5), (0.24, 0.5))), (0, 1));
}

#[test]
fn track_born_on_the_line_just_after_a_restart_is_not_a_crossing() {
    // A camera that reconnects starts its people afresh (end_tracks): someone on the line then
    // may have stood there while it was down.
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    for _ in 0..10 {
        run.pass(&[(1, (0.1, 0.3))], &[]);
    }
    run.counter.end_tracks();
    run.walk(2, &steps((0.49, 0.5), (0.59, 0.5), 6));
    assert_eq!(line_counts(&run.finish()), (0, 0));
    // The same walk a second after the restart counts.
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    run.counter.end_tracks();
    for _ in 0..6 {
        run.pass(&[(1, (0.1, 0.3))], &[]);
    }
    run.walk(2, &steps((0.49, 0.5), (0.59, 0.5), 6));
    assert_eq!(line_counts(&run.finish()), (0, 1));
}

#[test]
fn track_missing_from_passes_still_counts_its_crossing() {
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    run.pass(&[(1, (0.8, 0.5))], &[]);
    for _ in 0..10 {
        run.pass(&[], &[]);
    }
    run.pass(&[(1, (0.2, 0.5))], &[]);
    assert_eq!(line_counts(&run.finish()), (1, 0));
}

#[test]
fn ended_track_is_forgotten_and_a_reused_id_starts_fresh() {
    let off = CountSettings { stitch_ms: 0, ..CountSettings::default() };
    let lines = vec![line([0.5, 0.0], [0.5, 1.0])];
    let mut run = Run::with(lines, vec![square_zone(0.1, 0.1, 0.4, 0.9)], &off);
    run.walk(7, &steps((0.8, 0.5), (0.2, 0.5), 7));
    assert!(
        run.counter.people.is_empty() && run.counter.ids.is_empty(),
        "an ended track leaves nothing behind"
    );
    // The same id on the right again: a fresh track, not a crossing back out, nor a zone exit.
    run.walk(7, &[(0.8, 0.5), (0.8, 0.5)]);
    let closed = run.finish();
    assert_eq!(line_counts(&closed), (1, 0));
    assert_eq!(closed.zones[0].entries, 1);
}

#[test]
fn tracks_are_counted_independently() {
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    let right_to_left = steps((0.8, 0.5), (0.2, 0.5), 7);
    for (i, &p) in right_to_left.iter().enumerate() {
        let q = right_to_left[right_to_left.len() - 1 - i];
        // Tracks 1 and 2 side by side (one box on the other would be one person found twice).
        run.pass(&[(1, p), (2, (p.0, p.1 + 0.25)), (3, q)], &[]);
    }
    assert_eq!(line_counts(&run.finish()), (2, 1));
}

/// `(in, out)` of a person `height` px tall whose feet walk `path` (normalised) across `line`.
fn walk_counts_of_height(line: Line, path: &[(f32, f32)], height: f32) -> (u64, u64) {
    let mut counter = Counter::new("entrance", vec![line], vec![], &CountSettings::default()).unwrap();
    let mut closed = Closed::default();
    for (i, &(x, y)) in path.iter().enumerate() {
        let (px, py) = (x * W as f32, y * H as f32);
        let tracks = [(1u64, Rect::new(px - 0.2 * height, py - height, px + 0.2 * height, py))];
        let time_ms = T0 + i as u64 * STEP;
        let pass = Pass { time_ms, width: W, height: H, tracks: &tracks, tentative: &[], ended: &[] };
        closed.lines.extend(counter.observe(&pass).unwrap().lines);
    }
    closed.lines.extend(counter.close_all().lines);
    line_counts(&closed)
}

#[test]
fn a_person_near_the_camera_walking_along_a_line_at_their_feet_counts_nothing() {
    // 600 px tall on a 1080p frame: their feet must be 120 px (a fifth of their height) from the
    // line to commit, more than the frame-wide 44 px.
    let floor = || line([0.0, 0.6], [1.0, 0.6]);
    let (height, bob) = (600.0, 80.0 / H as f32);
    // Walking across the picture, the box's bottom bobbing 80 px either side of the line (a
    // stride, legs hidden behind someone for a pass).
    let along: Vec<(f32, f32)> =
        (0..30).map(|i| (0.1 + 0.025 * i as f32, if i % 3 == 0 { 0.6 - bob } else { 0.6 + bob })).collect();
    assert_eq!(walk_counts_of_height(floor(), &along, height), (0, 0));
    // The same bobbing is a crossing for someone small, for whom 80 px is half their height.
    assert_ne!(walk_counts_of_height(floor(), &along, 160.0), (0, 0));
    // Walking down through the line, far beyond it, counts.
    let down = steps((0.5, 0.35), (0.5, 0.95), 8);
    assert_eq!(walk_counts_of_height(floor(), &down, height), (1, 0));
}

/// `(in, out)` of one track whose boxes are `boxes`, one a pass.
fn box_counts(line: Line, boxes: &[Rect]) -> (u64, u64) {
    let mut run = Run::new(vec![line], vec![]);
    for &rect in boxes {
        run.pass_boxes(&[(1, rect)], &[]);
    }
    run.pass_boxes(&[], &[1]);
    line_counts(&run.finish())
}

/// A box `height` px tall, 60 px wide, whose top is at `top` px, centred at `x` (normalised).
fn box_from_top(x: f32, top: f32, height: f32) -> Rect {
    let px = x * W as f32;
    Rect::new(px - 30.0, top, px + 30.0, top + height)
}

#[test]
fn a_box_whose_legs_are_hidden_while_crossing_a_line_square_to_its_walk_counts() {
    // Walking right to left across a vertical line, 200 px tall; someone in front hides the legs
    // for five passes as they cross (the box keeps its top, 90 px tall): one "in".
    let door = || line([0.5, 0.0], [0.5, 1.0]);
    let across = |i: usize, height: f32| box_from_top(0.6 - 0.015 * i as f32, 400.0, height);
    let mut boxes: Vec<Rect> = (0..5).map(|i| across(i, 200.0)).collect();
    boxes.extend((5..10).map(|i| across(i, 90.0)));
    boxes.extend((10..15).map(|i| across(i, 200.0)));
    assert_eq!(box_counts(door(), &boxes), (1, 0));
}

#[test]
fn a_person_walking_towards_the_camera_across_a_line_counts_as_their_box_grows() {
    // Growing from 150 to 230 px tall over 2 s as they come nearer, feet from 400 to 700 px
    // (the band, a fifth of their height, grows with them): one "in".
    let floor = || line([0.0, 0.5], [1.0, 0.5]);
    let boxes: Vec<Rect> = (0..11)
        .map(|i| {
            let (feet, height) = (400.0 + 30.0 * i as f32, 150.0 + 8.0 * i as f32);
            box_from_top(0.5, feet - height, height)
        })
        .collect();
    assert_eq!(box_counts(floor(), &boxes), (1, 0));
}

#[test]
fn a_zone_entry_of_a_person_near_the_camera_needs_a_fifth_of_their_height() {
    let mut counter =
        Counter::new("entrance", vec![], vec![square_zone(0.3, 0.3, 0.7, 0.7)], &CountSettings::default())
            .unwrap();
    let edge = 0.3 * W as f32;
    // A 600 px tall person whose feet flicker 80 px either side of the zone's left edge.
    for i in 0..40u64 {
        let x = if i % 2 == 0 { edge - 80.0 } else { edge + 80.0 };
        let tracks = [(1u64, Rect::new(x - 100.0, 0.5 * H as f32 - 600.0, x + 100.0, 0.5 * H as f32))];
        let pass =
            Pass { time_ms: T0 + i * STEP, width: W, height: H, tracks: &tracks, tentative: &[], ended: &[] };
        counter.observe(&pass).unwrap();
    }
    let entries: u64 = counter.close_all().zones.iter().map(|z| z.entries).sum();
    assert_eq!(entries, 0);
}

// ---- zones ----

#[test]
fn zone_occupancy_counts_tracks_inside() {
    let mut run = Run::new(vec![], vec![square_zone(0.3, 0.3, 0.7, 0.7)]);
    run.pass(&[(1, (0.5, 0.5)), (2, (0.4, 0.6)), (3, (0.9, 0.5))], &[]);
    assert_eq!(run.counter.occupancy_now().collect::<Vec<_>>(), [("till", 2)]);
    run.pass(&[(1, (0.5, 0.5)), (2, (0.4, 0.6)), (3, (0.5, 0.4))], &[]);
    assert_eq!(run.counter.occupancy_now().collect::<Vec<_>>(), [("till", 3)]);
    run.pass(&[(3, (0.5, 0.4))], &[1, 2]);
    run.pass(&[], &[3]);
    let zone = &run.finish().zones[0];
    assert_eq!((zone.occupancy_min, zone.occupancy_max), (Some(0), Some(3)));
    assert_eq!(zone.occupancy_mean, Some((2 + 3 + 1) as f64 / 4.0));
    assert_eq!(zone.passes, 4);
}

#[test]
fn zone_entry_needs_the_margin_and_boundary_flicker_counts_once() {
    let mut run = Run::new(vec![], vec![square_zone(0.3, 0.3, 0.7, 0.7)]);
    let near = 0.6 * h_px() / W as f32;
    // Track 1 flickers across the left edge within the margin: never enters.
    let flicker: Vec<(f32, f32)> =
        (0..40).map(|i| (0.3 + if i % 2 == 0 { near } else { -near }, 0.5)).collect();
    // Track 2 walks in, flickers at the edge from inside, walks back in.
    let mut enters = steps((0.1, 0.5), (0.5, 0.5), 5);
    enters.extend((0..40).map(|i| (0.3 + if i % 2 == 0 { near } else { -near }, 0.5)));
    enters.extend(steps((0.3, 0.5), (0.5, 0.5), 5));
    for (&a, &b) in flicker.iter().zip(&enters) {
        run.pass(&[(1, a), (2, b)], &[]);
    }
    let entries: u64 = run.finish().zones.iter().map(|z| z.entries).sum();
    assert_eq!(entries, 1);
}

#[test]
fn track_entering_over_a_zone_edge_on_the_frame_edge_enters() {
    // The zone reaches the bottom of the frame; a person walking in from below first appears
    // with the feet on the frame edge.
    let mut run = Run::new(vec![], vec![square_zone(0.2, 0.6, 0.8, 1.0)]);
    run.walk(1, &steps((0.5, 1.0), (0.5, 0.8), 5));
    // Appearing deep inside (a track found again under a new id) is presence, not an entry.
    run.walk(2, &[(0.5, 0.8), (0.5, 0.8)]);
    let zone = &run.finish().zones[0];
    assert_eq!(zone.entries, 1);
    assert_eq!(zone.occupancy_max, Some(1));
    assert_eq!(
        zone.dwell.iter().map(|bin| bin.count).sum::<u64>(),
        1,
        "only the entered visit has a dwell time"
    );
}

/// Entries into the bottom-right quarter of the frame (down to and along the frame's edges) of
/// a track first seen after `before` passes of someone else, walking through `path`.
fn born_entries(settings: &CountSettings, before: usize, path: &[(f32, f32)]) -> u64 {
    let mut run = Run::with(vec![], vec![square_zone(0.5, 0.5, 1.0, 1.0)], settings);
    for _ in 0..before {
        run.pass(&[(1, (0.1, 0.3))], &[]);
    }
    for &feet in path {
        run.pass(&[(1, (0.1, 0.3)), (2, feet)], &[]);
    }
    run.finish().zones.iter().map(|zone| zone.entries).sum()
}

#[test]
fn a_track_first_seen_inside_a_zone_walking_in_from_its_edge_enters() {
    let stitching = CountSettings::default();
    // A walker's box is 200 px tall; at 0.02 of the width a pass (200 ms) they walk about a
    // height a second. First seen 0.05 of the width inside the zone's left edge (96 px, past
    // the 44 px margin), walking in: a second before they were outside. An entry.
    let walk_in = steps((0.55, 0.7), (0.65, 0.7), 6);
    assert_eq!(born_entries(&stitching, 6, &walk_in), 1);
    // First seen coming up from the frame's bottom edge (an edge of the zone too).
    assert_eq!(born_entries(&stitching, 6, &steps((0.7, 0.95), (0.7, 0.85), 6)), 1);
    // Walking out of the zone instead: a second before they were further in. No entry.
    assert_eq!(born_entries(&stitching, 6, &steps((0.65, 0.7), (0.55, 0.7), 6)), 0);
    // First seen deep inside, walking: a second before they were inside already.
    assert_eq!(born_entries(&stitching, 6, &steps((0.75, 0.7), (0.85, 0.7), 6)), 0);
    // Standing (found again under a new id, or someone the detector missed until now).
    assert_eq!(born_entries(&stitching, 6, &[(0.55, 0.7); 6]), 0);
    // In the stream's first second they may have stood there before it began.
    assert_eq!(born_entries(&stitching, 2, &walk_in), 0);
    // Ground truth (no stitching): an annotated person first seen inside appeared there.
    let off = CountSettings { stitch_ms: 0, ..CountSettings::default() };
    assert_eq!(born_entries(&off, 6, &walk_in), 0);
}

#[test]
fn a_track_first_seen_on_a_zones_edge_enters_only_if_it_walked_in() {
    let stitching = CountSettings::default();
    // First seen on the zone's left edge (x 0.5, within the 44 px margin), walking in at about a
    // height a second: a second before they were outside. An entry.
    let walk_in = steps((0.5, 0.7), (0.6, 0.7), 6);
    assert_eq!(born_entries(&stitching, 6, &walk_in), 1);
    // First seen on the edge, then edging in at a seventh of a height a second (someone standing
    // there, found again under a new id, shifting their feet): present, not entered.
    let edging_in = steps((0.5, 0.7), (0.53, 0.7), 12);
    assert_eq!(born_entries(&stitching, 6, &edging_in), 0);
    // In the stream's first second, or as ground truth (an annotated person first seen on the
    // edge, then inside): an entry, as for everyone who crosses from the margin inwards.
    assert_eq!(born_entries(&stitching, 2, &edging_in), 1);
    let off = CountSettings { stitch_ms: 0, ..CountSettings::default() };
    assert_eq!(born_entries(&off, 6, &edging_in), 1);
}

#[test]
fn a_stitched_persons_new_track_is_present_from_its_first_detection() {
    let mut counter =
        Counter::new("entrance", vec![], vec![square_zone(0.0, 0.0, 1.0, 1.0)], &CountSettings::default())
            .unwrap();
    let walk = steps((0.3, 0.6), (0.5, 0.6), 8);
    let occupancy =
        |counter: &mut Counter<u64>, i: usize, tracks: &[(u64, Rect)], tentative: &[(u64, Rect)]| {
            let time_ms = T0 + i as u64 * STEP;
            let ended: &[u64] = if i == 6 { &[1] } else { &[] };
            counter.observe(&Pass { time_ms, width: W, height: H, tracks, tentative, ended }).unwrap();
            counter.occupancy_now().map(|(_, inside)| inside).sum::<u64>()
        };
    // A first detection is nobody present yet; confirmed at the next, present.
    let first = [(1, person(walk[0].0, walk[0].1))];
    assert_eq!(occupancy(&mut counter, 0, &[], &first), 0);
    for (i, &(x, y)) in walk.iter().enumerate().take(5).skip(1) {
        assert_eq!(occupancy(&mut counter, i, &[(1, person(x, y))], &[]), 1);
    }
    // Missed for two passes (the tracker ends the track), then found again where they were heading
    // under a new track: the same person, present at once, though the new track is a first
    // detection to the tracker.
    assert_eq!(occupancy(&mut counter, 5, &[], &[]), 0);
    assert_eq!(occupancy(&mut counter, 6, &[], &[]), 0);
    assert_eq!(occupancy(&mut counter, 7, &[], &[(2, person(walk[7].0, walk[7].1))]), 1);
}

fn dwell_counts(zone: &ZoneBucket) -> Vec<u64> {
    zone.dwell.iter().map(|bin| bin.count).collect()
}

#[test]
fn dwell_of_a_visit_lands_in_its_bin() {
    let mut run = Run::new(vec![], vec![square_zone(0.3, 0.3, 0.7, 0.7)]);
    run.pass(&[(1, (0.1, 0.5))], &[]);
    let entered = run.time_ms;
    // Inside for 45 s of passes, then out.
    while run.time_ms <= entered + 45_000 {
        run.pass(&[(1, (0.5, 0.5))], &[]);
    }
    run.pass(&[(1, (0.9, 0.5))], &[]);
    let zone = &run.finish().zones[0];
    assert_eq!(dwell_counts(zone), [0, 0, 1, 0, 0, 0, 0, 0]);
    assert_eq!((zone.dwell[2].from_ms, zone.dwell[2].to_ms), (30_000, Some(60_000)));
    assert_eq!((zone.dwell[7].from_ms, zone.dwell[7].to_ms), (1_800_000, None));
}

#[test]
fn track_ending_inside_closes_its_visit_when_last_seen() {
    let mut run = Run::new(vec![], vec![square_zone(0.3, 0.3, 0.7, 0.7)]);
    run.pass(&[(1, (0.1, 0.5))], &[]);
    let entered = run.time_ms;
    while run.time_ms <= entered + 8_000 {
        run.pass(&[(1, (0.5, 0.5))], &[]);
    }
    // Lost for 7 s, then removed by the tracker: the visit lasted 8 s, not 15 s.
    while run.time_ms < entered + 15_000 {
        run.pass(&[], &[]);
    }
    run.pass(&[], &[1]);
    assert!(run.counter.people.is_empty(), "seen last 7 s ago: past the stitching window, forgotten");
    let zone = &run.finish().zones[0];
    assert_eq!(dwell_counts(zone), [1, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn close_all_ends_visits_still_open() {
    let mut run = Run::new(vec![], vec![square_zone(0.3, 0.3, 0.7, 0.7)]);
    run.pass(&[(1, (0.1, 0.5))], &[]);
    for _ in 0..100 {
        run.pass(&[(1, (0.5, 0.5))], &[]);
    }
    let zone = &run.finish().zones[0];
    assert_eq!(zone.entries, 1);
    assert_eq!(dwell_counts(zone), [0, 1, 0, 0, 0, 0, 0, 0], "99 passes of 200 ms: 19.8 s");
}

#[test]
fn concave_zone_uses_the_even_odd_rule() {
    // A U shape: the notch between its arms is outside.
    let u = [(0.1, 0.1), (0.3, 0.1), (0.3, 0.6), (0.7, 0.6), (0.7, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)];
    let zone = Zone::new("u", u.map(|(x, y)| Point::new(x, y)).to_vec(), Anchor::BottomCenter).unwrap();
    let mut run = Run::new(vec![], vec![zone]);
    run.pass(&[(1, (0.5, 0.3)), (2, (0.2, 0.3)), (3, (0.5, 0.8))], &[]);
    assert_eq!(run.counter.occupancy_now().collect::<Vec<_>>(), [("u", 2)]);
}

// ---- buckets ----

#[test]
fn crossings_land_in_their_15_minute_bucket() {
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    run.time_ms = T0 + 15 * MINUTE - 2 * STEP;
    run.pass(&[(1, (0.8, 0.5))], &[]);
    run.pass(&[(1, (0.2, 0.5))], &[]); // at T0 + 15 min − 200 ms
    assert!(run.closed.is_empty());
    run.pass(&[(1, (0.8, 0.5))], &[]); // at T0 + 15 min: closes the first bucket
    assert_eq!(run.closed.lines.len(), 1);
    let closed = run.finish();
    let buckets: Vec<_> =
        closed.lines.iter().map(|b| (b.start_ms, b.end_ms, b.in_count, b.out_count, b.passes)).collect();
    assert_eq!(buckets, [(T0, T0 + 15 * MINUTE, 1, 0, 2), (T0 + 15 * MINUTE, T0 + 30 * MINUTE, 0, 1, 1)]);
    assert_eq!(closed.lines[0].camera, "entrance");
    assert_eq!(closed.lines[0].line, "door");
}

#[test]
fn buckets_are_aligned_to_the_wall_clock() {
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    run.time_ms = T0 + 7 * MINUTE + 123;
    run.pass(&[], &[]);
    let bucket = &run.finish().lines[0];
    assert_eq!((bucket.start_ms, bucket.end_ms), (T0, T0 + 15 * MINUTE));
}

#[test]
fn gaps_emit_zero_buckets_up_to_the_cap() {
    let settings = CountSettings { max_empty_buckets: 2, ..CountSettings::default() };
    let mut run =
        Run::with(vec![line([0.5, 0.0], [0.5, 1.0])], vec![square_zone(0.3, 0.3, 0.7, 0.7)], &settings);
    run.pass(&[(1, (0.5, 0.5))], &[]);
    run.time_ms = T0 + 3 * 15 * MINUTE + 5;
    run.pass(&[], &[]);
    let starts: Vec<_> = run.closed.lines.iter().map(|b| (b.start_ms - T0) / MINUTE).collect();
    assert_eq!(starts, [0, 15, 30]);
    let gap = &run.closed.zones[1];
    assert_eq!((gap.passes, gap.entries, gap.occupancy_max, gap.occupancy_mean), (0, 0, None, None));
    assert_eq!(run.closed.zones[0].occupancy_max, Some(1));
    // A gap of 10 buckets: the closed bucket and 2 empty ones, then a hole.
    run.time_ms = T0 + 14 * 15 * MINUTE;
    run.pass(&[], &[]);
    let starts: Vec<_> = run.closed.lines.iter().map(|b| (b.start_ms - T0) / MINUTE).collect();
    assert_eq!(starts, [0, 15, 30, 45, 60, 75]);
    let closed = run.finish();
    assert_eq!(closed.lines.last().map(|b| b.start_ms), Some(T0 + 14 * 15 * MINUTE));
}

#[test]
fn close_all_flushes_the_open_bucket_once() {
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    run.walk(1, &steps((0.8, 0.5), (0.2, 0.5), 4));
    assert!(run.closed.is_empty());
    let closed = run.counter.close_all();
    assert_eq!((closed.lines.len(), closed.lines[0].in_count), (1, 1));
    assert!(run.counter.close_all().is_empty());
}

#[test]
fn pass_before_the_previous_is_refused() {
    let mut run = Run::new(vec![], vec![]);
    run.pass(&[], &[]);
    let pass = Pass::<u64> { time_ms: T0 - 1, width: W, height: H, tracks: &[], tentative: &[], ended: &[] };
    let error = run.counter.observe(&pass).unwrap_err();
    assert_eq!(error, CountError::TimeWentBack { time_ms: T0 - 1, previous_ms: T0 });
    let same =
        Pass::<u64> { time_ms: T0 + STEP, width: W, height: H, tracks: &[], tentative: &[], ended: &[] };
    assert!(run.counter.observe(&same).is_ok());
    assert!(run.counter.observe(&same).is_ok(), "equal timestamps are fine");
    let empty = Pass::<u64> { width: 0, ..same };
    assert!(matches!(run.counter.observe(&empty), Err(CountError::EmptyFrame { .. })));
}

// ---- publishing ----

#[test]
fn min_count_publishes_small_counts_as_below_k() {
    let bucket = LineBucket {
        camera: "entrance".into(),
        line: "door".into(),
        start_ms: T0,
        end_ms: T0 + 15 * MINUTE,
        passes: 4500,
        in_count: 2,
        out_count: 5,
    };
    let json = serde_json::to_value(bucket.published(3)).unwrap();
    assert_eq!(json["in_count"], "<3");
    assert_eq!(json["out_count"], 5);
    assert_eq!(json["passes"], 4500);
    let open = serde_json::to_value(bucket.published(0)).unwrap();
    assert_eq!(open["in_count"], 2);
    assert_eq!(Published::count(0, 3), Published::Below(3), "zero is below the floor too");
}

#[test]
fn min_count_applies_to_every_person_figure_of_a_zone() {
    let mut run = Run::new(vec![], vec![square_zone(0.3, 0.3, 0.7, 0.7)]);
    run.pass(&[(1, (0.1, 0.5))], &[]);
    run.pass(&[(1, (0.5, 0.5))], &[]);
    run.pass(&[(1, (0.9, 0.5))], &[]);
    let zone = &run.finish().zones[0];
    let json = serde_json::to_value(zone.published(2)).unwrap();
    assert_eq!(json["entries"], "<2");
    assert_eq!(json["occupancy_max"], "<2");
    assert_eq!(json["occupancy_mean"], "<2");
    assert_eq!(json["dwell"][0]["count"], "<2");
    assert_eq!(json["dwell"][0]["to_ms"], 10_000);
    let open = serde_json::to_value(zone.published(0)).unwrap();
    assert_eq!(open["entries"], 1);
    assert_eq!(open["occupancy_mean"], 1.0 / 3.0);
}

// ---- configuration ----

#[test]
fn invalid_lines_zones_and_settings_are_refused() {
    let p = Point::new;
    let anchor = Anchor::BottomCenter;
    assert!(matches!(Line::new("a", p(0.5, 0.5), p(0.5, 0.5), anchor), Err(CountError::InvalidLine { .. })));
    assert!(matches!(Line::new("a", p(0.0, 0.0), p(1.2, 0.5), anchor), Err(CountError::InvalidLine { .. })));
    assert!(Line::new("a", p(f32::NAN, 0.0), p(1.0, 0.5), anchor).is_err());
    assert!(matches!(
        Zone::new("z", vec![p(0.0, 0.0), p(1.0, 1.0)], anchor),
        Err(CountError::InvalidZone { .. })
    ));
    let collinear = vec![p(0.0, 0.0), p(0.5, 0.5), p(1.0, 1.0)];
    assert!(matches!(Zone::new("z", collinear, anchor), Err(CountError::InvalidZone { .. })));
    let bad = [
        CountSettings { bucket_ms: 0, ..CountSettings::default() },
        CountSettings { hysteresis: -0.1, ..CountSettings::default() },
        CountSettings { hysteresis: f32::NAN, ..CountSettings::default() },
        CountSettings { dwell_edges_ms: vec![10, 10], ..CountSettings::default() },
        CountSettings { dwell_edges_ms: vec![0, 10], ..CountSettings::default() },
    ];
    for settings in bad {
        assert!(matches!(settings.validate(), Err(CountError::InvalidSetting { .. })), "{settings:?}");
    }
    let twice = Counter::<u64>::new(
        "entrance",
        vec![line([0.5, 0.0], [0.5, 1.0])],
        vec![Zone::new("door", vec![p(0.0, 0.0), p(1.0, 0.0), p(1.0, 1.0)], anchor).unwrap()],
        &CountSettings::default(),
    );
    let error = twice.unwrap_err();
    assert_eq!(
        error.to_string(),
        "camera \"entrance\" has two lines or zones named \"door\"; names must be unique per camera"
    );
}

#[test]
fn counter_takes_tracker_ids() {
    let mut counter: Counter<TrackId> =
        Counter::new("entrance", vec![line([0.5, 0.0], [0.5, 1.0])], vec![], &CountSettings::default())
            .unwrap();
    let pass = Pass { time_ms: T0, width: W, height: H, tracks: &[], tentative: &[], ended: &[] };
    assert!(counter.observe(&pass).unwrap().is_empty());
}

// ---- evaluation ----

#[test]
fn ground_truth_totals_use_the_counters_rule() {
    let door = line([0.5, 0.0], [0.5, 1.0]);
    // Person 4 walks right to left, unannotated (occluded) in the middle frames; person 9 walks
    // left to right and back to the middle.
    let walker = steps((0.8, 0.5), (0.2, 0.5), 9);
    let returner = steps((0.2, 0.5), (0.9, 0.5), 9);
    let frames: Vec<Vec<(u32, Rect)>> = (0..9)
        .map(|i| {
            let mut frame = vec![(9, person(returner[i].0, returner[i].1))];
            if !(3..6).contains(&i) {
                frame.push((4, person(walker[i].0, walker[i].1)));
            }
            frame
        })
        .collect();
    let timed = frames.iter().enumerate().map(|(i, frame)| (T0 + i as u64 * STEP, frame.clone()));
    let totals =
        track_totals(std::slice::from_ref(&door), &[], &CountSettings::default(), W, H, timed).unwrap();
    assert_eq!(totals.lines, [LineTotals { line: "door".into(), in_count: 1, out_count: 1 }]);
    // The same boxes through the pipeline's counter give the same counts.
    let mut counter = Counter::new("entrance", vec![door], vec![], &CountSettings::default()).unwrap();
    for (i, frame) in frames.iter().enumerate() {
        let time_ms = T0 + i as u64 * STEP;
        counter
            .observe(&Pass { time_ms, width: W, height: H, tracks: frame, tentative: &[], ended: &[] })
            .unwrap();
    }
    assert_eq!(line_counts(&counter.close_all()), (1, 1));
}

#[test]
fn ground_truth_zone_totals_time_visits_and_average_occupancy_over_the_frames() {
    let shop = square_zone(0.4, 0.0, 1.0, 1.0);
    // Person 1 walks in from the left and stays; person 2 stands inside from the first frame
    // (present, but no entry and no visit to time) and is gone for the last 4 frames.
    let walker = steps((0.1, 0.5), (0.9, 0.5), 10);
    let frames: Vec<(u64, Vec<(u32, Rect)>)> = (0..10)
        .map(|i| {
            let mut frame = vec![(1, person(walker[i].0, walker[i].1))];
            if i < 6 {
                frame.push((2, person(0.7, 0.8)));
            }
            (T0 + i as u64 * STEP, frame)
        })
        .collect();
    let settings =
        CountSettings { dwell_edges_ms: (1..=30).map(|i| i * 100).collect(), ..CountSettings::default() };
    let totals = track_totals(&[], std::slice::from_ref(&shop), &settings, W, H, frames).unwrap();
    let [zone] = totals.zones.as_slice() else { panic!("one zone: {totals:?}") };
    assert_eq!(zone.entries, 1);
    assert_eq!(zone.passes, 10);
    // Inside: person 2 in frames 0-5; the walker, once past 0.4 + the margin, to the end.
    let walker_inside = walker.iter().filter(|p| p.0 > 0.45).count();
    assert_eq!(zone.occupancy_mean, (6 + walker_inside) as f64 / 10.0);
    assert_eq!(zone.occupancy_max, 2);
    // One timed visit: the walker's, from the entry to the last frame, in the middle of its bin.
    assert_eq!(zone.visits, 1);
    let dwell = (walker_inside as u64 - 1) * STEP;
    let bin = dwell / 100 * 100;
    assert_eq!(zone.dwell_mean_ms, Some(bin as f64 + 50.0));
}

#[test]
fn ground_truth_with_no_frames_totals_zero() {
    let frames: Vec<(u64, Vec<(u32, Rect)>)> = Vec::new();
    let totals =
        track_totals(&[line([0.5, 0.0], [0.5, 1.0])], &[], &CountSettings::default(), W, H, frames).unwrap();
    assert_eq!(totals.lines, [LineTotals { line: "door".into(), in_count: 0, out_count: 0 }]);
}

// ---- properties ----

/// Signed distance (px) of normalised `p` from the line through normalised `a`, `b`: positive on
/// the right-hand side of `a → b` on the image (y down), the `in` side by the spec.
fn signed_distance(a: (f32, f32), b: (f32, f32), p: (f32, f32)) -> f64 {
    let px = |q: (f32, f32)| (f64::from(q.0) * f64::from(W), f64::from(q.1) * f64::from(H));
    let ((ax, ay), (bx, by), (x, y)) = (px(a), px(b), px(p));
    let (dx, dy) = (bx - ax, by - ay);
    (dx * (y - ay) - dy * (x - ax)) / dx.hypot(dy)
}

/// A track's path and at which passes it is detected (cycled).
type Walk = (Vec<(f32, f32)>, Vec<bool>);

/// A random walk in the frame: jitter steps and long jumps.
fn path() -> impl Strategy<Value = Vec<(f32, f32)>> {
    let point = (0.02f32..0.98, 0.02f32..0.98);
    let moves = prop::collection::vec((any::<bool>(), -0.03f32..0.03, -0.03f32..0.03, point.clone()), 1..60);
    (point, moves).prop_map(|(start, moves)| {
        let mut p = start;
        let mut out = vec![p];
        for (jump, dx, dy, to) in moves {
            p = if jump { to } else { ((p.0 + dx).clamp(0.02, 0.98), (p.1 + dy).clamp(0.02, 0.98)) };
            out.push(p);
        }
        out
    })
}

proptest! {
    /// For a line across the whole frame (every crossing of the line in the frame is a crossing
    /// of the segment), `in − out` of each track is the change of its committed side from first to
    /// last.
    #[test]
    fn in_minus_out_is_the_net_change_of_committed_side(
        ya in 0.1f32..0.9,
        yb in 0.1f32..0.9,
        paths in prop::collection::vec((path(), prop::collection::vec(any::<bool>(), 60)), 1..5),
    ) {
        let (a, b) = ((0.0, ya), (1.0, yb));
        let away = |p: &(f32, f32)| {
            let d = signed_distance(a, b, *p).abs();
            (d - f64::from(h_px())).abs() > 0.01 && d > 0.01
        };
        let paths: Vec<Walk> =
            paths.into_iter().map(|(path, seen)| (path.into_iter().filter(away).collect(), seen)).collect();
        let mut expected = 0i64;
        for (path, _) in &paths {
            let committed: Vec<f64> = path
                .iter()
                .map(|&p| signed_distance(a, b, p))
                .filter(|d| d.abs() >= f64::from(h_px()))
                .collect();
            if let (Some(first), Some(last)) = (committed.first(), committed.last()) {
                expected += i64::from(*last > 0.0) - i64::from(*first > 0.0);
            }
        }
        // Each id its own person: stitching (which lets a new id continue a missed one) is
        // tested on its own above.
        let off = CountSettings { stitch_ms: 0, ..CountSettings::default() };
        let mut run = Run::with(vec![line([a.0, a.1], [b.0, b.1])], vec![], &off);
        let longest = paths.iter().map(|(path, _)| path.len()).max().unwrap_or(0);
        let mut cursors = vec![0; paths.len()];
        for step in 0..longest + 60 {
            // A track is missed at some passes; it keeps its place in its path.
            let mut tracks = Vec::new();
            for (id, ((path, seen), cursor)) in paths.iter().zip(&mut cursors).enumerate() {
                if *cursor < path.len() && (seen[step % seen.len()] || step >= longest) {
                    tracks.push((id as u64, path[*cursor]));
                    *cursor += 1;
                }
            }
            run.pass(&tracks, &[]);
        }
        prop_assert!(cursors.iter().zip(&paths).all(|(c, (p, _))| *c == p.len()));
        let (ins, outs) = line_counts(&run.finish());
        prop_assert_eq!(ins as i64 - outs as i64, expected);
    }

    /// Every counted zone entry yields exactly one dwell time once the tracks end, and occupancy
    /// never exceeds the tracks seen.
    #[test]
    fn every_zone_entry_ends_in_one_dwell_time(paths in prop::collection::vec(path(), 1..6)) {
        let mut run = Run::new(vec![], vec![square_zone(0.3, 0.2, 0.7, 0.8)]);
        let longest = paths.iter().map(Vec::len).max().unwrap_or(0);
        for step in 0..longest {
            let tracks: Vec<(u64, (f32, f32))> =
                paths.iter().enumerate().filter_map(|(id, p)| p.get(step).map(|&q| (id as u64, q))).collect();
            run.pass(&tracks, &[]);
            let inside = run.counter.occupancy_now().map(|(_, n)| n).sum::<u64>();
            prop_assert!(inside <= tracks.len() as u64);
        }
        let closed = run.finish();
        let entries: u64 = closed.zones.iter().map(|z| z.entries).sum();
        let dwells: u64 = closed.zones.iter().flat_map(|z| &z.dwell).map(|bin| bin.count).sum();
        prop_assert_eq!(entries, dwells);
    }
}

#[test]
fn running_line_totals_include_closed_and_open_buckets() {
    let line = Line::new("door", Point::new(0.5, 0.0), Point::new(0.5, 1.0), Anchor::BottomCenter).unwrap();
    let mut counter: Counter<u32> = Counter::new(
        "c",
        vec![line],
        Vec::new(),
        &CountSettings { bucket_ms: 1000, ..CountSettings::default() },
    )
    .unwrap();
    let walk = |x: f32| Rect::new(x - 10.0, 100.0, x + 10.0, 300.0);
    let mut t = 0;
    for (id, xs) in [(1u32, [500.0, 300.0, 100.0]), (2, [100.0, 300.0, 500.0])] {
        for x in xs {
            counter
                .observe(&Pass {
                    time_ms: t,
                    width: 640,
                    height: 480,
                    tracks: &[(id, walk(x))],
                    tentative: &[],
                    ended: &[],
                })
                .unwrap();
            t += 400;
        }
    }
    let totals: Vec<(&str, u64, u64)> = counter.line_totals_now().collect();
    assert_eq!(totals, [("door", 1, 1)], "one in (right → left) in a closed bucket, one out in the open one");
}

#[test]
fn the_clock_closes_buckets_of_a_camera_that_is_down_with_its_gap_in_passes() {
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], Vec::new());
    assert!(run.counter.advance_clock(T0).lines.is_empty(), "no bucket before the first pass");
    // One crossing right to left (in), in the first minute of the 15-minute bucket.
    for step in steps((0.7, 0.5), (0.3, 0.5), 20) {
        run.pass(&[(1, step)], &[]);
    }
    // The camera goes down: no pass. The bucket stays open until its end…
    assert!(run.counter.advance_clock(T0 + 14 * MINUTE).lines.is_empty());
    // …and then closes on time, with the passes seen; a bucket wholly in the gap has 0 passes.
    let closed = run.counter.advance_clock(T0 + 31 * MINUTE);
    let rows: Vec<(u64, u64, u64)> =
        closed.lines.iter().map(|b| (b.start_ms, b.passes, b.in_count)).collect();
    assert_eq!(rows, [(T0, 20, 1), (T0 + 15 * MINUTE, 0, 0)]);
    assert!(run.counter.advance_clock(T0).lines.is_empty(), "the clock never goes back");
}

#[test]
fn ending_tracks_on_a_restart_keeps_the_bucket_open_and_forgets_the_ids() {
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], Vec::new());
    for step in steps((0.7, 0.5), (0.55, 0.5), 5) {
        run.pass(&[(1, step)], &[]);
    }
    run.counter.end_tracks();
    // The new stream's tracker reuses id 1 for someone else, already on the left: no crossing.
    for step in steps((0.3, 0.5), (0.2, 0.5), 5) {
        run.pass(&[(1, step)], &[]);
    }
    let closed = run.counter.close_all();
    assert_eq!(line_counts(&closed), (0, 0));
    assert_eq!(closed.lines[0].passes, 10, "one bucket through the restart");
}

#[test]
fn the_counting_stage_keeps_its_bucket_through_a_restart_and_flushes_on_close() {
    let closed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let into = closed.clone();
    let counter =
        Counter::new("entrance", vec![line([0.5, 0.0], [0.5, 1.0])], Vec::new(), &CountSettings::default())
            .unwrap();
    let stage = CountStage::start(counter, Box::new(move |c: Closed| into.lock().unwrap().push(c))).unwrap();
    let pass = |time: u64, x: f32| {
        let tracks = [(1u64, person(x, 0.5))];
        stage
            .pass(&Pass { time_ms: time, width: W, height: H, tracks: &tracks, tentative: &[], ended: &[] })
            .unwrap();
    };
    for (i, step) in steps((0.7, 0.5), (0.3, 0.5), 20).into_iter().enumerate() {
        pass(T0 + i as u64 * STEP, step.0);
    }
    stage.restart();
    // The next connection's clock starts a little behind: still counted, in order; its tracker
    // reuses id 1 for someone new.
    for (i, step) in steps((0.3, 0.5), (0.7, 0.5), 20).into_iter().enumerate() {
        pass(T0 + (15 + i as u64) * STEP, step.0);
    }
    stage.tick(T0 + 10 * MINUTE);
    assert!(closed.lock().unwrap().is_empty(), "nothing closes before the bucket ends");
    stage.close();
    let closed = closed.lock().unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(line_counts(&closed[0]), (1, 1), "one in before the restart, one out after");
    assert_eq!(closed[0].lines[0].passes, 40);
}

#[test]
fn the_counting_stage_tells_event_clips_about_people_crossings_and_occupied_zones() {
    use crate::clips::{ClipEvents, EventKind};
    let events = std::sync::Arc::new(ClipEvents::default());
    let counter = Counter::new(
        "entrance",
        vec![line([0.5, 0.0], [0.5, 1.0])],
        vec![square_zone(0.0, 0.0, 0.3, 1.0)],
        &CountSettings::default(),
    )
    .unwrap();
    let stage = CountStage::start_tapped(counter, Box::new(|_| {}), Some(events.clone()), None).unwrap();
    // Nobody, then someone walking from the zone on the left across the line.
    let path: Vec<_> = steps((0.2, 0.5), (0.7, 0.5), 20);
    stage.pass(&Pass { time_ms: T0, width: W, height: H, tracks: &[], tentative: &[], ended: &[] }).unwrap();
    for (i, (x, y)) in path.into_iter().enumerate() {
        let tracks = [(1u64, person(x, y))];
        let time_ms = T0 + (i as u64 + 1) * STEP;
        stage
            .pass(&Pass { time_ms, width: W, height: H, tracks: &tracks, tentative: &[], ended: &[] })
            .unwrap();
    }
    stage.close();
    let seen = events.take_all();
    let at = |kind: EventKind| seen.iter().filter(|e| e.kind == kind).map(|e| e.time_ms).collect::<Vec<_>>();
    assert_eq!(at(EventKind::People).len(), 20, "every pass with someone, none for the empty one");
    let crossings = at(EventKind::Line("door".into()));
    assert_eq!(crossings.len(), 1, "one crossing, one event: {seen:?}");
    let zone = at(EventKind::Zone("till".into()));
    assert!(!zone.is_empty() && zone.iter().all(|&t| t < crossings[0]), "inside the zone before the line");
}

// ---- stitching broken tracks ----

/// Track 1 walks left to right up to just before a vertical line, is lost for `gap` passes, and
/// track 2 is born at `resume` and walks on to the right.
fn broken_walk(settings: &CountSettings, gap: usize, resume: f32) -> (u64, u64) {
    let mut run = Run::with(vec![line([0.5, 0.0], [0.5, 1.0])], vec![], settings);
    for point in steps((0.40, 0.8), (0.49, 0.8), 10) {
        run.pass(&[(1, point)], &[]);
    }
    for _ in 0..gap {
        run.pass(&[], &[]);
    }
    for point in steps((resume, 0.8), (resume + 0.09, 0.8), 10) {
        run.pass(&[(2, point)], &[]);
    }
    run.pass(&[], &[1, 2]);
    line_counts(&run.finish())
}

#[test]
fn a_track_broken_at_the_line_counts_its_crossing_once_when_stitched() {
    let stitched = CountSettings::default();
    // Lost for 3 passes (0.8 s), found again a little ahead of where it was heading.
    assert_eq!(broken_walk(&stitched, 3, 0.56), (0, 1));
    // Without stitching the second track starts on the far side: the crossing is lost.
    let off = CountSettings { stitch_ms: 0, ..CountSettings::default() };
    assert_eq!(broken_walk(&off, 3, 0.56), (0, 0));
}

#[test]
fn a_track_born_far_from_the_prediction_or_too_late_is_someone_else() {
    let stitched = CountSettings::default();
    // Far ahead of anywhere the lost person could be.
    assert_eq!(broken_walk(&stitched, 3, 0.85), (0, 0));
    // After the window (2 s = 10 passes of 200 ms): unseen for 2.4 s.
    assert_eq!(broken_walk(&stitched, 11, 0.56), (0, 0));
    // The window alone decides that: with a 3 s one the same walk is continued.
    let longer = CountSettings { stitch_ms: 3000, ..CountSettings::default() };
    assert_eq!(broken_walk(&longer, 11, 0.56), (0, 1));
    // A box of another size is another person: twice as tall is beyond the height ratio.
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    for point in steps((0.40, 0.8), (0.49, 0.8), 10) {
        run.pass(&[(1, point)], &[]);
    }
    run.pass(&[], &[1]);
    for i in 0..10 {
        let (x, y) = ((0.56 + 0.01 * i as f32) * W as f32, 0.8 * H as f32);
        let tall = Rect::new(x - 60.0, y - 400.0, x + 60.0, y);
        let pass = Pass {
            time_ms: run.time_ms,
            width: W,
            height: H,
            tracks: &[(2, tall)],
            tentative: &[],
            ended: &[],
        };
        run.counter.observe(&pass).unwrap();
        run.time_ms += STEP;
    }
    assert_eq!(line_counts(&run.finish()), (0, 0));
}

#[test]
fn a_track_the_tracker_still_keeps_is_continued_only_near_its_prediction() {
    // Track 1 walks up to just before the line and is lost; track 2 is born 0.48 of a person's
    // height ahead of where track 1 was heading, and walks on across.
    let walk = |ended_at_loss: bool| {
        let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
        for point in steps((0.40, 0.8), (0.49, 0.8), 10) {
            run.pass(&[(1, point)], &[]);
        }
        run.pass(&[], if ended_at_loss { &[1] } else { &[] });
        run.pass(&[], &[]);
        run.pass(&[], &[]);
        for point in steps((0.58, 0.8), (0.67, 0.8), 10) {
            run.pass(&[(2, point)], &[]);
        }
        run.pass(&[], &[1, 2]);
        line_counts(&run.finish())
    };
    // The tracker still keeps track 1 (it could still find them): too far off to be them.
    assert_eq!(walk(false), (0, 0));
    // The tracker has given track 1 up: the gate grows with the gap, and track 2 continues them.
    assert_eq!(walk(true), (0, 1));
}

#[test]
fn a_person_seen_at_one_pass_only_is_continued_within_the_growing_gate() {
    // Passes 0.64 s apart (an overloaded camera): a walker found at one pass, and at the next
    // two thirds of a height further on as a new track, while the tracker still keeps the first.
    let walk = |first_passes: usize| {
        let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
        // Person boxes are 200 px tall; 0.07 of the 1920 px frame is 0.67 of a height.
        for i in 0..first_passes {
            run.pass(&[(1, (0.46 + 0.001 * i as f32, 0.8))], &[]);
        }
        run.time_ms += 640 - STEP;
        for point in steps((0.53, 0.8), (0.63, 0.8), 5) {
            run.pass(&[(2, point)], &[]);
        }
        run.pass(&[], &[1, 2]);
        line_counts(&run.finish())
    };
    // Seen once: no velocity, so the gate grows with the gap (0.98 of a height) and track 2
    // continues them across the line.
    assert_eq!(walk(1), (0, 1));
    // Seen twice, nearly still: the tracker's prediction holds them there, and the kept track's
    // narrow gate leaves track 2 to be someone else.
    assert_eq!(walk(2), (0, 0));
}

/// Person A (track 1) walks across a vertical line at height `a_y`, 0.01 of the width a pass;
/// track 2, 0.005 to A's right at the height of the box-count line (0.8), walks with them up to
/// just before the line and is lost for three passes while A crosses; track 3 is born where track
/// 2 was heading and walks on. Line counts.
fn second_box_lost_at_the_line(a_y: f32) -> (u64, u64) {
    line_counts(&second_box_lost_at(a_y, vec![line([0.5, 0.0], [0.5, 1.0])], vec![]))
}

/// [`second_box_lost_at_the_line`] with these lines and zones: what it closes.
fn second_box_lost_at(a_y: f32, lines: Vec<Line>, zones: Vec<Zone>) -> Closed {
    let mut run = Run::new(lines, zones);
    let a = steps((0.40, a_y), (0.60, a_y), 21);
    for (i, &(x, y)) in a.iter().enumerate() {
        let beside = (x + 0.005, 0.8);
        let mut tracks = vec![(1, (x, y))];
        match i {
            0..=9 => tracks.push((2, beside)),
            10..=12 => {}
            _ => tracks.push((3, beside)),
        }
        run.pass(&tracks, if i == 10 { &[2] } else { &[] });
    }
    run.pass(&[], &[1, 3]);
    run.finish()
}

#[test]
fn a_stitch_onto_someone_who_crossed_during_the_gap_does_not_count_their_crossing_again() {
    // Track 2 is a second box of A (IoU 0.72 with A's): track 3 continues it, born on A's box past
    // the line A crossed while track 2 was lost. One person, one crossing.
    assert_eq!(second_box_lost_at_the_line(0.8), (0, 1));
    // The same stitch with A crossing elsewhere on the line: nobody on the new box crossed, so the
    // stitched step's crossing is the lost person's own (two people, two crossings).
    assert_eq!(second_box_lost_at_the_line(0.3), (0, 2));
}

#[test]
fn a_stitch_onto_someone_who_entered_a_zone_during_the_gap_does_not_count_their_entry_again() {
    // The zone is the right half of the frame; the walk of `second_box_lost_at_the_line` enters it
    // where the line was. Entries and dwell times counted.
    let entries = |a_y: f32| {
        let closed = second_box_lost_at(a_y, vec![], vec![square_zone(0.5, 0.0, 1.0, 1.0)]);
        let entries: u64 = closed.zones.iter().map(|z| z.entries).sum();
        let dwells: u64 = closed.zones.iter().flat_map(|z| &z.dwell).map(|bin| bin.count).sum();
        (entries, dwells)
    };
    // Track 3, on A's box, steps into the zone A entered while track 2 was lost: one entry, one
    // visit with a dwell time (A's).
    assert_eq!(entries(0.8), (1, 1));
    // A entering elsewhere: the stitched step's entry is the lost person's own.
    assert_eq!(entries(0.3), (2, 2));
}

#[test]
fn a_new_track_beside_someone_still_seen_is_not_stitched_to_them() {
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    let walk = steps((0.40, 0.8), (0.60, 0.8), 21);
    for (i, &point) in walk.iter().enumerate() {
        let mut tracks = vec![(1, point)];
        // From the line on, a second track (another detection) walks beside track 1.
        if i >= 10 {
            tracks.push((2, (point.0 + 0.03, 0.8)));
        }
        run.pass(&tracks, &[]);
    }
    run.pass(&[], &[1, 2]);
    // Track 1 crossed once; track 2 was born on the far side and took nobody's place.
    assert_eq!(line_counts(&run.finish()), (0, 1));
}

/// Track 2 walks up to x 0.49 (a vertical line or a zone's edge at 0.5) beside the people
/// `standing` there the whole time, is lost for three passes (the tracker ends it), and track 3
/// is born at 0.56, where track 2 was heading, then walks on to the right by `on` of the width a
/// pass for 15 passes. What it closes.
fn found_again_past(standing: &[(u64, (f32, f32))], on: f32, lines: Vec<Line>, zones: Vec<Zone>) -> Closed {
    let mut run = Run::new(lines, zones);
    let with = |extra: (u64, (f32, f32))| [standing, &[extra]].concat();
    for point in steps((0.40, 0.8), (0.49, 0.8), 10) {
        run.pass(&with((2, point)), &[]);
    }
    run.pass(standing, &[2]);
    run.pass(standing, &[]);
    run.pass(standing, &[]);
    for i in 0..15 {
        run.pass(&with((3, (0.56 + on * i as f32, 0.8))), &[]);
    }
    run.pass(&[], &[1, 3]);
    run.finish()
}

/// Person A (track 1), standing at 0.565 just past the line or edge, whose box track 3 is born on
/// (IoU 0.72).
const A_PAST_THE_LINE: (u64, (f32, f32)) = (1, (0.565, 0.8));

#[test]
fn a_stitch_onto_someone_elses_box_counts_its_crossing_once_the_two_are_seen_apart() {
    let counts = |on: f32| {
        line_counts(&found_again_past(&[A_PAST_THE_LINE], on, vec![line([0.5, 0.0], [0.5, 1.0])], vec![]))
    };
    // Track 3 walks away from A (apart, IoU < 0.1, three passes on): the lost person found again
    // beside A, their crossing counted.
    assert_eq!(counts(0.01), (0, 1));
    // Track 3 stays on A's box for 3 s: as likely A's second box as the lost person, and the
    // stitched step's crossing is dropped once the fork's hold (2 s) is over.
    assert_eq!(counts(0.0), (0, 0));
}

#[test]
fn a_stitch_onto_someone_elses_box_enters_no_zone() {
    // The zone is the right half of the frame; track 3 is born inside and stands there.
    let entries = |standing: &[(u64, (f32, f32))]| {
        let closed = found_again_past(standing, 0.0, vec![], vec![square_zone(0.5, 0.0, 1.0, 1.0)]);
        closed.zones.iter().map(|z| z.entries).sum::<u64>()
    };
    // Born clear of everyone: the lost person walked in.
    assert_eq!(entries(&[]), 1);
    // Born on the box of A, who stood inside all along (in the stream's first second: no
    // entry of theirs): as likely A's second box; present, but no entry.
    assert_eq!(entries(&[A_PAST_THE_LINE]), 0);
}

#[test]
fn held_steps_onto_two_peoples_boxes_wait_each_on_its_own() {
    // Lines at x = 0.5 and 0.575. A stands at 0.565, C at 0.61. Track 2 walks up to the first
    // line and is lost; track 3 is born on A's box past it (held: wait for apart from A), stays
    // two passes and is lost; track 4 is born on C's box past the second line (held: wait for
    // apart from C) and stays there for 3 s.
    let named = |name: &str, x: f32| {
        Line::new(name, Point::new(x, 0.0), Point::new(x, 1.0), Anchor::BottomCenter).unwrap()
    };
    let mut run = Run::new(vec![named("first", 0.5), named("second", 0.575)], vec![]);
    let (a, c) = ((1, (0.565, 0.8)), (5, (0.61, 0.8)));
    for point in steps((0.40, 0.8), (0.49, 0.8), 10) {
        run.pass(&[a, c, (2, point)], &[]);
    }
    run.pass(&[a, c], &[2]);
    run.pass(&[a, c], &[]);
    run.pass(&[a, c], &[]);
    run.pass(&[a, c, (3, (0.56, 0.8))], &[]);
    run.pass(&[a, c, (3, (0.56, 0.8))], &[]);
    run.pass(&[a, c], &[3]);
    run.pass(&[a, c], &[]);
    run.pass(&[a, c], &[]);
    for _ in 0..15 {
        run.pass(&[a, c, (4, (0.605, 0.8))], &[]);
    }
    run.pass(&[], &[1, 4, 5]);
    // The first line's crossing counts once they are apart from A (on C's box); the second's,
    // never apart from C, is dropped: each held step waits on its own person.
    let closed = run.finish();
    let on = |name: &str| {
        (closed.lines.iter().filter(|b| b.line == name))
            .fold((0, 0), |(i, o), b| (i + b.in_count, o + b.out_count))
    };
    assert_eq!((on("first"), on("second")), ((0, 1), (0, 0)));
}

#[test]
fn a_zone_visit_survives_a_broken_track() {
    let mut run = Run::new(vec![], vec![square_zone(0.3, 0.5, 0.7, 1.0)]);
    for point in steps((0.1, 0.8), (0.45, 0.8), 15) {
        run.pass(&[(1, point)], &[]);
    }
    // Lost for 2 passes; the tracker ends track 1 and starts track 2 a little further on.
    run.pass(&[], &[1]);
    run.pass(&[], &[]);
    for point in steps((0.48, 0.8), (0.9, 0.8), 15) {
        run.pass(&[(2, point)], &[]);
    }
    run.pass(&[], &[2]);
    let closed = run.finish();
    let zone = &closed.zones[0];
    assert_eq!(zone.entries, 1, "one visit, not two");
    assert_eq!(dwell_counts(zone).iter().sum::<u64>(), 1, "one dwell time");
}

#[test]
fn an_ended_track_is_forgotten_once_the_stitching_window_has_passed() {
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    run.walk(7, &steps((0.8, 0.5), (0.2, 0.5), 7));
    assert_eq!(run.counter.people.len(), 1, "kept for a new track to continue");
    assert!(run.counter.ids.is_empty());
    for _ in 0..16 {
        run.pass(&[], &[]);
    }
    assert!(run.counter.people.is_empty(), "3 s later, forgotten");
}

#[test]
fn a_first_detection_counts_as_a_start_but_never_as_present() {
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![square_zone(0.0, 0.0, 0.49, 1.0)]);
    // Track 1's first detection (tentative) is left of the line, its second (confirmed) right.
    let first = [(1u64, person(0.45, 0.8))];
    let pass = Pass { time_ms: run.time_ms, width: W, height: H, tracks: &[], tentative: &first, ended: &[] };
    run.counter.observe(&pass).unwrap();
    assert_eq!(run.counter.occupancy_now().map(|(_, n)| n).sum::<u64>(), 0, "tentative: not present");
    run.time_ms += STEP;
    run.pass(&[(1, (0.56, 0.8))], &[]);
    run.pass(&[(1, (0.6, 0.8))], &[1]);
    assert_eq!(line_counts(&run.finish()), (0, 1), "the step from the first detection counts");
}

#[test]
fn an_upper_body_box_inside_a_whole_one_is_part_of_it_and_other_people_are_not() {
    let whole = Rect::new(100.0, 100.0, 160.0, 300.0);
    // Head and torso of the same person: as wide, same top, half as tall.
    let torso = Rect::new(102.0, 104.0, 158.0, 200.0);
    assert!(part_of_another(&torso, &[whole]));
    assert!(part_of_another(&torso, &[torso, whole]), "not a part of itself, of the whole");
    assert!(!part_of_another(&whole, &[whole, torso]), "the whole is no part");
    // Someone further back, behind them: narrower, top higher.
    assert!(!part_of_another(&Rect::new(110.0, 70.0, 150.0, 230.0), &[whole]));
    // The same width and top but nearly as tall: a second detection of the whole, not a part.
    assert!(!part_of_another(&Rect::new(100.0, 100.0, 160.0, 280.0), &[whole]));
    // Beside them, or much narrower (a child in front): not a part.
    assert!(!part_of_another(&Rect::new(150.0, 100.0, 210.0, 200.0), &[whole]));
    assert!(!part_of_another(&Rect::new(115.0, 105.0, 145.0, 200.0), &[whole]));
    // Starting lower (legs, a bag): not the upper part.
    assert!(!part_of_another(&Rect::new(100.0, 160.0, 160.0, 300.0), &[whole]));
}

/// Track 1 walks left to right across a vertical line at `speed` a pass; when it is at 0.56 of
/// the width, track 2 is first seen out of its box, 0.01 of the width behind it, and walks on at
/// `behind_speed` a pass. Returns the line's counts.
fn file_walk(settings: &CountSettings, behind_speed: f32) -> (u64, u64) {
    let mut run = Run::with(vec![line([0.5, 0.0], [0.5, 1.0])], vec![], settings);
    for i in 0..20 {
        let x = 0.40 + 0.02 * i as f32;
        let mut tracks = vec![(1, (x, 0.8))];
        if i >= 8 {
            tracks.push((2, (0.55 + behind_speed * (i - 8) as f32, 0.8)));
        }
        run.pass(&tracks, &[]);
    }
    run.pass(&[], &[1, 2]);
    line_counts(&run.finish())
}

#[test]
fn someone_hidden_behind_a_person_crossing_counts_once_seen_apart() {
    // Two people in a file are one box until the one behind falls back: their track is born past
    // the line, out of the first one's box, and takes the way the first one came.
    assert_eq!(file_walk(&CountSettings::default(), 0.01), (0, 2));
    // Ground truth (no stitching) knows each person from the start: nothing is inherited.
    let off = CountSettings { stitch_ms: 0, ..CountSettings::default() };
    assert_eq!(file_walk(&off, 0.01), (0, 1));
}

#[test]
fn a_person_found_twice_in_overlapping_boxes_counts_once() {
    // The second box never parts from the first (the same person, found twice): its crossing is
    // held and dropped.
    assert_eq!(file_walk(&CountSettings::default(), 0.02), (0, 1));
}

#[test]
fn out_from_behind_someone_walking_along_a_line_inherits_no_side_of_it() {
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    for i in 0..16 {
        // Track 1 walks down beside the line, committed to its right-hand side all along.
        let mut tracks = vec![(1, (0.525, 0.5 + 0.02 * i as f32))];
        // Track 2 comes out of its box inside the hysteresis band and walks away to the left.
        if i >= 8 {
            tracks.push((2, (0.515 - 0.012 * (i - 8) as f32, 0.5 + 0.02 * i as f32)));
        }
        run.pass(&tracks, &[]);
    }
    run.pass(&[], &[1, 2]);
    // Track 1 never came towards the line: track 2's first side is its own (the left), no count.
    assert_eq!(line_counts(&run.finish()), (0, 0));
}

// ---- twins: one person found twice ----

#[test]
fn two_boxes_of_one_person_walking_together_count_one_crossing_and_one_entry() {
    // Track 2 is track 1's person found again, 11.5 px to the right (IoU 0.68, the same height),
    // from the first pass on: two crops' boxes of one person.
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![square_zone(0.55, 0.0, 1.0, 1.0)]);
    for (x, y) in steps((0.40, 0.8), (0.65, 0.8), 16) {
        run.pass(&[(1, (x, y)), (2, (x + 0.006, y))], &[]);
    }
    run.pass(&[], &[1, 2]);
    let closed = run.finish();
    assert_eq!(line_counts(&closed), (0, 1));
    assert_eq!(closed.zones.iter().map(|z| z.entries).sum::<u64>(), 1);
}

#[test]
fn two_people_together_only_at_the_line_or_of_unlike_heights_count_two_crossings() {
    // A walks right; B, faster, overtakes A on the line: their boxes overlap by IoU 0.5 or more
    // at one pass.
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    for (a, b) in steps((0.44, 0.8), (0.56, 0.8), 13).into_iter().zip(steps((0.32, 0.8), (0.68, 0.8), 13)) {
        run.pass(&[(1, a), (2, b)], &[]);
    }
    run.pass(&[], &[1, 2]);
    assert_eq!(line_counts(&run.finish()), (0, 2));
    // B walks right behind A all the way, further from the camera: a box three quarters of A's
    // height, its feet 30 px higher, inside A's box (IoU 0.56): two people, not one found twice.
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    for (x, y) in steps((0.40, 0.8), (0.60, 0.8), 16) {
        let a = person(x, y);
        let (cx, feet) = ((a.x0 + a.x1) / 2.0 + 5.0, a.y1 - 30.0);
        let b = Rect::new(cx - 22.5, feet - 150.0, cx + 22.5, feet);
        run.pass_boxes(&[(1, a), (2, b)], &[]);
    }
    run.pass(&[], &[1, 2]);
    assert_eq!(line_counts(&run.finish()), (0, 2));
}

#[test]
fn one_persons_two_boxes_drifting_apart_at_the_line_count_one_crossing() {
    // Track 2 is track 1's person found again, 11.5 px to the right (IoU 0.68) for the first
    // passes, then 32 px (IoU 0.30) from before the line on: two crops' boxes of one person,
    // drifting by a fraction of a width. Once twins for three passes, they stay one person for
    // their crossings until seen apart.
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    for (x, y) in steps((0.40, 0.8), (0.65, 0.8), 16) {
        let shift = if x < 0.46 { 0.006 } else { 0.0168 };
        run.pass(&[(1, (x, y)), (2, (x + shift, y))], &[]);
    }
    run.pass(&[], &[1, 2]);
    assert_eq!(line_counts(&run.finish()), (0, 1));
}

#[test]
fn two_people_who_walked_together_and_parted_count_two_crossings() {
    // A and B walk together (IoU 0.68) for five passes, then B hurries on: their boxes no longer
    // overlap (seen apart) well before either reaches the line, and each crosses it.
    let mut run = Run::new(vec![line([0.5, 0.0], [0.5, 1.0])], vec![]);
    for (i, (x, y)) in steps((0.30, 0.8), (0.65, 0.8), 22).into_iter().enumerate() {
        let ahead = 0.006 + 0.02 * i.saturating_sub(4) as f32;
        run.pass(&[(1, (x, y)), (2, ((x + ahead).min(0.95), y))], &[]);
    }
    run.pass(&[], &[1, 2]);
    assert_eq!(line_counts(&run.finish()), (0, 2));
}
