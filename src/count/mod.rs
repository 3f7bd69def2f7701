//! Anonymous people counting: line crossings, zone occupancy, entries and dwell times, aggregated
//! per camera into wall-clock-aligned time buckets. Pure logic: tracks in, closed buckets out; the
//! sinks write them.
//!
//! One [`Counter`] per camera takes every detection pass of the tracker as a [`Pass`]: the
//! confirmed person tracks and their boxes (pixels), the frame size, the stream timestamp and the
//! tracks the tracker removed. It keeps, per live track and per line or zone, only what the next
//! pass needs (the latest anchor position, a committed side, an open visit's start) and forgets a
//! track when it ends. The rules:
//!
//! - Units: lines and zones are normalised (0..1 of the frame's width and height); the
//!   hysteresis distance is a share of the frame diagonal, so it means the same at every
//!   resolution and along every direction, and at least a share of the person's own height
//!   ([`PERSON_HYSTERESIS`]), so it also means the same for people near and far.
//! - Stitching: trackers break a person's track in two when detection misses them for a while,
//!   and the second part starts on the far side of a line as often as not. A new track born
//!   near where a recently unseen one was heading (its predicted centre, within a gate that
//!   grows with the gap; a similar height) continues it ([`CountSettings::stitch_ms`]), so a
//!   break neither loses a crossing nor counts one twice. While the tracker still keeps the lost
//!   track (it may yet find the person itself) the gate is narrow and does not grow
//!   ([`STITCH_GATE_KEPT`]), unless the person was seen at one pass only (no velocity to predict
//!   them by). Motion only: no appearance.
//! - A stitch's crossing someone else made: a stitched step crosses a line the lost person was
//!   not seen crossing, inferred from where they were lost and where the new track is. When a
//!   person seen at this pass, on the new track's box ([`STITCH_TAKEN_OVERLAP`]), made that same
//!   crossing during the gap, the new track is most likely that person found twice (the detector
//!   gives one person two overlapping boxes) or a track that took over from them: the crossing
//!   is theirs, already counted, and the stitch does not count it again. A zone entry likewise:
//!   the stitched person is in the zone (occupancy) but their visit has no entry and no dwell.
//! - A stitch onto someone's box: a new track born on the box of a person seen at the same pass
//!   ([`FORK_OVERLAP`]) is as often that person's second box, or a track split off them, as the
//!   lost person found again beside them (on the stress set, of the crossings such stitched
//!   steps counted, a third were the annotated person's own; docs/models.md). Its step's
//!   crossings are held as a fork's are (below): counted once the two are seen apart, dropped
//!   if they are not within [`FORK_HOLD_MS`]. Its zone entries are not counted (present, no
//!   entry, no dwell), as for a crossing someone else made.
//! - Walking hidden behind someone: two people in a file, or side by side, are one box to the
//!   detector until they part, and the one who comes out from behind is a new track, often born
//!   past the line the pair just crossed together: by itself it never crossed. A new track born
//!   out of a person's box ([`FORK_OVERLAP`]) walked where that person did: for each line the
//!   other person moved towards by at least the hysteresis over the last [`FORK_BACK_MS`], it
//!   starts from where they were then, so its step out counts the crossing they made together.
//!   What that first step crosses is held until the two boxes are seen apart ([`FORK_APART`],
//!   within [`FORK_HOLD_MS`]): one person found twice in overlapping boxes never parts from
//!   themselves.
//! - Born on the line: a track nobody continues (neither stitched nor born out of someone's box)
//!   whose first position is inside a line's hysteresis band has no side to cross from, yet a
//!   person does not appear on a line: they were hidden or missed on their way to it. When such a
//!   track walks off the line, across it (square to it at least as much as along it, at 0.35 of
//!   a height a second or more, its box the same size), and walked back a second
//!   ([`line::BORN_BACK_MS`]) along that way it would have been committed on the other side,
//!   still inside the picture, its first committed side counts as a crossing. Not in the first
//!   second of a stream (they may have stood there before it began), and not for ground truth
//!   (`stitch_ms = 0`: an annotated person first seen there appeared there).
//! - One person, two boxes: the detector sometimes finds a person twice, whole and as their upper
//!   body, and the tracker follows both. A box that is the upper part of another box of the same
//!   pass ([`part_of_another`]) is not counted at that pass (it is still masked).
//! - Twins: two crops of a tiled frame find one person in two shifted boxes that suppression
//!   keeps apart (IoU under its 0.65), and the tracker follows both. Two people whose boxes have
//!   overlapped ([`TWIN_OVERLAP`]) at a like height ([`TWIN_HEIGHT_RATIO`]) at the last
//!   [`TWIN_PASSES`] passes in a row are one person found twice far more often than two people
//!   (on the stress set, 19 pairs in 20; at one pass alone, 4 in 5: people passing overlap for a
//!   pass or two; docs/models.md): a crossing or entry one of them makes that the other counted
//!   within the stitch window is theirs, already counted (an entry's visit is present, with no
//!   entry and no dwell). For crossings they stay one person until seen apart ([`TWIN_APART`]):
//!   one person's two boxes drift from each other by a fraction of a width and back. Not for
//!   ground truth (`stitch_ms = 0`).
//! - Lines ([`Line`]): crossings of the segment, counted when the track commits (at least the
//!   hysteresis away from the line) to the other side, once per change of side.
//! - Zones ([`Zone`]): even-odd polygons; entries and exits commit at the hysteresis margin;
//!   occupancy counts the tracks of the pass that are in a visit; a visit's dwell time lasts
//!   from its counted entry to the last pass the track was seen before it left or ended.
//! - Time: stream timestamps in ms since the Unix epoch, not decreasing. Buckets are aligned to
//!   the epoch (15 min buckets are 10:00–10:15, …). A bucket closes at the first pass at or past
//!   its end; [`Counter::close_all`] flushes the last one at the end of a stream.
//! - Gaps: the empty buckets between a closed bucket and a pass after a gap are emitted with zero
//!   counts and `passes: 0` (footfall series stay continuous; `passes` tells a gap from a quiet
//!   time), at most [`CountSettings::max_empty_buckets`] of them.
//! - Occupancy mean: per pass, not weighted by time. Passes are evenly spaced within a stream,
//!   and a per-pass mean invents no occupancy over a stall of the stream.

mod bucket;
mod line;
mod stage;
#[cfg(test)]
mod tests;
mod truth;
mod zone;

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;

pub use bucket::{Closed, DwellBin, LineBucket, Published, ZoneBucket};
pub use line::{Direction, Line};
pub use stage::{ClosedSink, CountStage};
pub use truth::{LineTotals, Totals, ZoneTotals, track_totals};
pub use zone::Zone;

use crate::detect::nms::iou;
use crate::geometry::{Point, Rect};
use bucket::{Buckets, Tally};
use line::{LineTrack, PixelLine};
use zone::{ZoneChange, ZoneTrack};

/// Why the counter refused its settings, a line, a zone or a pass.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CountError {
    #[error("count setting {field} = {value}: {rule}")]
    InvalidSetting { field: &'static str, value: String, rule: &'static str },
    #[error("line {name:?}: {rule}")]
    InvalidLine { name: String, rule: &'static str },
    #[error("zone {name:?}: {rule}")]
    InvalidZone { name: String, rule: &'static str },
    #[error("camera {camera:?} has two lines or zones named {name:?}; names must be unique per camera")]
    DuplicateName { camera: String, name: String },
    #[error("frame size {width}x{height}: a pass needs a frame at least 1 pixel wide and high")]
    EmptyFrame { width: u32, height: u32 },
    #[error(
        "pass at {time_ms} ms is before the previous pass at {previous_ms} ms; stream timestamps \
         given to the counter must not decrease (close_all and start a new counter when the \
         stream's clock restarts)"
    )]
    TimeWentBack { time_ms: u64, previous_ms: u64 },
}

/// How a camera's counts are made and bucketed.
#[derive(Debug, Clone, PartialEq)]
pub struct CountSettings {
    /// Length of a time bucket, ms; buckets are aligned to the Unix epoch. Default 900 000
    /// (15 min): small enough to see rush hours, few enough rows for a year in SQLite.
    pub bucket_ms: u64,
    /// Hysteresis distance as a share of the frame diagonal: how far from a line or zone edge an
    /// anchor must be to commit to a side. Default 0.02 (44 px at 1080p): above the jitter of a
    /// person box's feet, below a step between two passes. Larger misses people who walk along the
    /// line's ends; smaller counts jitter.
    pub hysteresis: f32,
    /// Upper edges of the dwell-time bins, ms, increasing; the last bin is open-ended. Default
    /// 10 s, 30 s, 1 min, 2 min, 5 min, 10 min, 30 min (8 bins).
    pub dwell_edges_ms: Vec<u64>,
    /// Most empty buckets emitted for a gap between passes; a longer gap leaves a hole after them.
    /// Default 96 (a day of 15 min buckets): an outage shows as zeros with `passes: 0`, and a
    /// camera back after a month does not flood the sinks.
    pub max_empty_buckets: u32,
    /// How long, ms, a track not seen any more may be continued by a new track (stitched): a
    /// track born near where the lost one was heading, by motion alone, is the same person to the
    /// counter. Default 2000. Where a walker will be after a longer gap is a guess (a prediction
    /// is extrapolated at most a second and the gate keeps growing), and traced against the
    /// stress set's annotations (docs/models.md) stitches after more than 2 s of gap joined the
    /// same person 4 times in 44, and none of those that made a crossing did, while those within
    /// 2 s recovered the crossings of people hidden in a group. 0 turns stitching off (each
    /// tracker id is its own person, as for ground truth).
    pub stitch_ms: u64,
}

impl Default for CountSettings {
    fn default() -> Self {
        Self {
            bucket_ms: 15 * 60_000,
            hysteresis: 0.02,
            dwell_edges_ms: [10, 30, 60, 120, 300, 600, 1800].map(|s| s * 1000).to_vec(),
            max_empty_buckets: 96,
            stitch_ms: 2000,
        }
    }
}

impl CountSettings {
    /// Checks every setting against its rule.
    pub fn validate(&self) -> Result<(), CountError> {
        let invalid = |field, value: &dyn std::fmt::Debug, rule| {
            Err(CountError::InvalidSetting { field, value: format!("{value:?}"), rule })
        };
        if self.bucket_ms == 0 {
            return invalid("bucket_ms", &self.bucket_ms, "must be at least 1 ms");
        }
        if !(0.0..0.5).contains(&self.hysteresis) {
            return invalid("hysteresis", &self.hysteresis, "a share of the frame diagonal in 0..0.5");
        }
        if self.dwell_edges_ms.first() == Some(&0) || !self.dwell_edges_ms.is_sorted_by(|a, b| a < b) {
            return invalid("dwell_edges_ms", &self.dwell_edges_ms, "must be positive and increasing");
        }
        Ok(())
    }
}

/// One detection pass, as the counter sees it.
#[derive(Debug, Clone, Copy)]
pub struct Pass<'a, K> {
    /// The stream timestamp of the pass's frame, ms since the Unix epoch; not before the previous
    /// pass's.
    pub time_ms: u64,
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
    /// The confirmed tracks detected at this pass, with their boxes in pixels. Give every pass,
    /// also those with no tracks: passes drive occupancy and close buckets.
    pub tracks: &'a [(K, Rect)],
    /// The tracks detected at this pass that are not confirmed yet (a first detection): the
    /// counter notes where they start, so that their step to the first confirmed position can
    /// count a crossing, but never counts them as present (occupancy).
    pub tentative: &'a [(K, Rect)],
    /// The tracks the tracker removed since the previous pass: the counter forgets them, closing
    /// their zone visits.
    pub ended: &'a [K],
}

/// Counts one camera's lines and zones into time buckets. `K` identifies a track:
/// [`crate::track::TrackId`] in the pipeline, ground-truth ids in evaluation.
#[derive(Debug)]
pub struct Counter<K> {
    lines: Vec<Line>,
    zones: Vec<Zone>,
    hysteresis: f32,
    stitch_ms: u64,
    buckets: Buckets,
    /// The people counted, by an internal number: a chain of stitched tracks.
    people: HashMap<u64, Person<K>>,
    /// The person each live track id continues.
    ids: HashMap<K, u64>,
    next_person: u64,
    /// Passes seen, numbering them.
    pass_no: u64,
    last_time_ms: Option<u64>,
    /// The first pass since the counter started or its tracks were last ended: people seen
    /// within [`line::BORN_BACK_MS`] of it may have been there before it.
    since_ms: Option<u64>,
    /// Per zone, tracks inside at the latest pass.
    occupancy: Vec<u64>,
    /// The lines in the pixels of the current pass (kept to reuse the allocation).
    pixel_lines: Vec<PixelLine>,
    /// Per line, crossings in and out in the buckets closed so far (for running totals).
    closed_lines: Vec<[u64; 2]>,
    /// Pairs of people (lower number first) seen as twins ([`TWIN_OVERLAP`]) at the latest pass,
    /// with how many passes in a row they have been.
    twins: HashMap<(u64, u64), u32>,
    /// Pairs that were twins for [`TWIN_PASSES`] passes in a row and have not been seen apart
    /// since ([`TWIN_APART`]): one person found twice, for their crossings.
    held_twins: HashSet<(u64, u64)>,
}

impl<K: Copy + Eq + Hash> Counter<K> {
    /// A counter for `camera`'s `lines` and `zones`, whose names must be unique together.
    pub fn new(
        camera: impl Into<String>,
        lines: Vec<Line>,
        zones: Vec<Zone>,
        settings: &CountSettings,
    ) -> Result<Self, CountError> {
        settings.validate()?;
        let camera = camera.into();
        let line_names: Vec<String> = lines.iter().map(|l| l.name().to_owned()).collect();
        let zone_names: Vec<String> = zones.iter().map(|z| z.name().to_owned()).collect();
        let mut names: Vec<&String> = line_names.iter().chain(&zone_names).collect();
        names.sort();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(CountError::DuplicateName { camera, name: pair[0].clone() });
        }
        Ok(Self {
            occupancy: vec![0; zones.len()],
            pixel_lines: Vec::with_capacity(lines.len()),
            closed_lines: vec![[0; 2]; lines.len()],
            twins: HashMap::new(),
            held_twins: HashSet::new(),
            lines,
            zones,
            hysteresis: settings.hysteresis,
            stitch_ms: settings.stitch_ms,
            buckets: Buckets::new(camera, line_names, zone_names, settings),
            people: HashMap::new(),
            ids: HashMap::new(),
            next_person: 0,
            pass_no: 0,
            last_time_ms: None,
            since_ms: None,
        })
    }

    /// Counts one pass; returns the buckets it closed (none, mostly).
    pub fn observe(&mut self, pass: &Pass<'_, K>) -> Result<Closed, CountError> {
        let frame = Frame::new(pass.width, pass.height)?;
        if let Some(previous_ms) = self.last_time_ms
            && pass.time_ms < previous_ms
        {
            return Err(CountError::TimeWentBack { time_ms: pass.time_ms, previous_ms });
        }
        self.last_time_ms = Some(pass.time_ms);
        let since_ms = *self.since_ms.get_or_insert(pass.time_ms);
        let mut closed = Closed::default();
        let tally = self.buckets.advance_to(pass.time_ms, &mut closed);
        let geometry =
            PassGeometry::new(&self.lines, &self.zones, frame, self.hysteresis, &mut self.pixel_lines);
        self.occupancy.fill(0);
        self.pass_no += 1;
        let (now, pass_no) = (pass.time_ms, self.pass_no);
        let mut fresh = Vec::new();
        let confirmed: HashSet<K> = pass.tracks.iter().map(|&(id, _)| id).collect();
        for &(id, rect) in pass.tracks.iter().chain(pass.tentative) {
            let Some((number, person)) =
                self.ids.get(&id).and_then(|&n| Some(n).zip(self.people.get_mut(&n)))
            else {
                fresh.push((id, rect));
                continue;
            };
            let steps = person.counts.advance(&geometry, &rect, now, tally);
            let theirs = if steps.is_empty() {
                Vec::new()
            } else {
                twin_steps(&self.people, &self.twins, &self.held_twins, number)
            };
            let person = self.people.get_mut(&number).expect("a person seen at this pass");
            for step in steps {
                match step {
                    _ if !theirs.contains(&step) => person.count(step, now, tally),
                    // Their twin's visit: present, but no entry nor dwell.
                    Step::Entered(zone) => person.counts.zones[zone].forget_entry(),
                    Step::Crossed(..) => {}
                }
            }
            person.seen(&rect, now, pass_no);
        }
        for (id, rect, stitched) in stitch(&self.people, &fresh, now, pass_no, self.stitch_ms) {
            let number = match stitched {
                Some(number) => {
                    let taken = counted_on(&self.people, number, &rect, pass_no);
                    let beside = born_beside(&self.people, number, &rect, pass_no);
                    let person = self.people.get_mut(&number).expect("a stitch candidate is a person");
                    if let Some(old) = person.key.replace(id) {
                        // The old track, if the tracker still keeps it, is someone new from now.
                        self.ids.remove(&old);
                    }
                    let mut held = Vec::new();
                    for step in person.counts.advance(&geometry, &rect, now, tally) {
                        let theirs = taken.contains(&step);
                        match step {
                            _ if !theirs && beside.is_none() => person.count(step, now, tally),
                            // Their visit, or not known to be this person's: present, but no
                            // entry nor dwell.
                            Step::Entered(zone) => person.counts.zones[zone].forget_entry(),
                            Step::Crossed(line, direction) if !theirs => held.push((line, direction)),
                            Step::Crossed(..) => {}
                        }
                    }
                    if let Some(from) = beside.filter(|_| !held.is_empty()) {
                        // Held as a fork's first step is (beside whatever else is held).
                        person.forks.push(Fork { from, until_ms: now + FORK_HOLD_MS, crossings: held });
                    }
                    person.seen(&rect, now, pass_no);
                    number
                }
                None => {
                    let number = self.next_person;
                    self.next_person += 1;
                    let seed =
                        (self.stitch_ms > 0).then(|| fork_seed(&self.people, &rect, now, pass_no)).flatten();
                    // Walked back, the way it came lies in what this counter saw.
                    let born = self.stitch_ms > 0 && now >= since_ms + line::BORN_BACK_MS;
                    let (counts, fork) = match seed {
                        Some(seed) => {
                            let (counts, crossings) = TrackCounts::start_behind(&geometry, &seed, &rect, now);
                            let fork = (!crossings.is_empty()).then(|| Fork {
                                from: seed.from,
                                until_ms: now + FORK_HOLD_MS,
                                crossings,
                            });
                            (counts, fork)
                        }
                        None => (TrackCounts::start_as(&geometry, &rect, now, born), None),
                    };
                    let mut person = Person::new(id, counts, &rect, now, pass_no);
                    person.forks.extend(fork);
                    self.people.insert(number, person);
                    number
                }
            };
            self.ids.insert(id, number);
        }
        settle_forks(&mut self.people, now, pass_no, tally);
        if self.stitch_ms > 0 {
            self.twins = twins_at(&self.people, &self.twins, pass_no);
            self.held_twins = held_twins_at(&self.people, &self.twins, &self.held_twins, pass_no);
        }
        for id in pass.ended {
            if let Some(person) = self.ids.remove(id).and_then(|p| self.people.get_mut(&p)) {
                person.key = None;
            }
        }
        for person in self.people.values_mut() {
            person.confirmed |=
                person.pass_no == pass_no && person.key.is_some_and(|k| confirmed.contains(&k));
        }
        // Present: seen at this pass and confirmed, now or before (a stitched person's new track
        // is tentative at first), by a track the tracker has not ended at this pass.
        let present = |p: &&Person<K>| p.confirmed && p.pass_no == pass_no && p.key.is_some();
        for person in self.people.values().filter(present) {
            for (inside, zone) in self.occupancy.iter_mut().zip(&person.counts.zones) {
                *inside += u64::from(zone.is_inside());
            }
        }
        let stitch_ms = self.stitch_ms;
        for person in self.people.values_mut() {
            person.steps.retain(|&(_, at)| at + stitch_ms >= now);
        }
        self.people.retain(|_, person| {
            let expired = person.key.is_none() && (stitch_ms == 0 || now > person.last().0 + stitch_ms);
            if expired {
                person.counts.end(tally);
            }
            !expired
        });
        tally.pass(&self.occupancy);
        self.add_closed(&closed);
        Ok(closed)
    }

    fn add_closed(&mut self, closed: &Closed) {
        for bucket in &closed.lines {
            if let Some(i) = self.lines.iter().position(|l| l.name() == bucket.line) {
                self.closed_lines[i][0] += bucket.in_count;
                self.closed_lines[i][1] += bucket.out_count;
            }
        }
    }

    /// Each line's name and its crossings in and out since the counter started, the open bucket
    /// included (running totals, e.g. for Prometheus counters).
    pub fn line_totals_now(&self) -> impl Iterator<Item = (&str, u64, u64)> {
        let open = self.buckets.open_lines();
        self.lines.iter().enumerate().map(move |(i, line)| {
            let [mut inn, mut out] = self.closed_lines[i];
            if let Some(open) = open {
                inn += open[i][0];
                out += open[i][1];
            }
            (line.name(), inn, out)
        })
    }

    /// The open bucket as it stands: its start, each line's crossings in and out, each zone's
    /// entries and the people in it now. `None` before the first pass.
    pub fn open_bucket(&self) -> Option<crate::stats::LiveCounts> {
        let (start_ms, entries) = self.buckets.open_zone_entries()?;
        let open = self.buckets.open_lines()?;
        Some(crate::stats::LiveCounts {
            bucket_start_ms: start_ms,
            lines: self.lines.iter().zip(open).map(|(l, [i, o])| (l.name().to_owned(), *i, *o)).collect(),
            zones: (self.zones.iter().zip(entries).zip(&self.occupancy))
                .map(|((z, e), &now)| (z.name().to_owned(), e, now))
                .collect(),
        })
    }

    /// Ends the stream: every track ends (closing its visits, dwell until it was last seen) and
    /// the open bucket closes (with its nominal `end_ms`, though its passes stop earlier). The
    /// counter is then empty; a later pass opens a new bucket, a second row for the same bucket if
    /// it falls in the one just flushed.
    pub fn close_all(&mut self) -> Closed {
        self.end_tracks();
        let mut closed = Closed::default();
        self.buckets.close(&mut closed);
        self.add_closed(&closed);
        closed
    }

    /// Moves the clock to `time_ms` without a pass (a live camera that is down or between
    /// passes): buckets that ended by then close, with `passes` showing how little was seen; the
    /// empty buckets of a gap are emitted with `passes: 0`. A time before the latest pass's is
    /// ignored. Returns the buckets it closed.
    pub fn advance_clock(&mut self, time_ms: u64) -> Closed {
        let mut closed = Closed::default();
        if self.last_time_ms.is_some_and(|last| time_ms < last) {
            return closed;
        }
        // Only when a bucket is open or the clock passed a boundary: no empty bucket is opened
        // before the first pass.
        if self.last_time_ms.is_none() {
            return closed;
        }
        self.last_time_ms = Some(time_ms);
        self.buckets.advance_to(time_ms, &mut closed);
        self.add_closed(&closed);
        closed
    }

    /// Ends every track (a stream restarted: the next tracks are new people to the counter),
    /// closing their zone visits into the open bucket, which stays open.
    pub fn end_tracks(&mut self) {
        if let Some(tally) = self.buckets.open() {
            for person in self.people.values() {
                person.counts.end(tally);
            }
        }
        self.people.clear();
        self.ids.clear();
        self.since_ms = None;
        self.occupancy.fill(0);
    }

    /// Each zone's name and the tracks inside it at the latest pass.
    pub fn occupancy_now(&self) -> impl Iterator<Item = (&str, u64)> {
        self.zones.iter().map(Zone::name).zip(self.occupancy.iter().copied())
    }
}

/// The lines and zones as one pass measures them.
struct PassGeometry<'a> {
    lines: &'a [Line],
    pixel_lines: &'a [PixelLine],
    zones: &'a [Zone],
    frame: Frame,
    hysteresis_px: f32,
}

impl<'a> PassGeometry<'a> {
    fn new(
        lines: &'a [Line],
        zones: &'a [Zone],
        frame: Frame,
        hysteresis: f32,
        pixel_lines: &'a mut Vec<PixelLine>,
    ) -> Self {
        let hysteresis_px = hysteresis * frame.diagonal();
        pixel_lines.clear();
        pixel_lines.extend(lines.iter().map(|line| PixelLine::new(line, frame, hysteresis_px)));
        Self { lines, pixel_lines, zones, frame, hysteresis_px }
    }
}

/// A person to the counter: one track, or a chain of tracks stitched together.
#[derive(Debug)]
struct Person<K> {
    counts: TrackCounts,
    /// The live tracker id continuing this person; `None` once the tracker ended it.
    key: Option<K>,
    /// The pass the person was last seen at (when and where: the newest entry of `trail`).
    pass_no: u64,
    /// Of the centre, px/ms (smoothed); zero until seen twice.
    velocity: Point,
    /// When and where (box, pixels) the person was seen over the last [`FORK_BACK_MS`] and at the
    /// pass before, oldest first; never empty, the newest entry being where they were last seen.
    trail: VecDeque<(u64, Rect)>,
    /// Crossings held until this person is seen apart from the person whose box they were born
    /// out of (their first step's), or stitched onto (a stitched step's).
    forks: Vec<Fork>,
    /// Whether a confirmed track of this person was seen (a first detection alone is not someone
    /// present).
    confirmed: bool,
    /// The crossings and entries this person was counted for within the stitch window, and when
    /// ([`STITCH_TAKEN_OVERLAP`]).
    steps: Vec<(Step, u64)>,
}

/// What a person's step did that counts: crossed a line (index, direction), entered a zone
/// (index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Crossed(usize, Direction),
    Entered(usize),
}

/// Crossings that wait until their person is seen apart from another: a first step out of
/// another's box ([`fork_seed`]), or a stitched step onto it ([`born_beside`]).
#[derive(Debug)]
struct Fork {
    /// The person they came out from behind, or whose box their stitched step was born on.
    from: u64,
    /// When the held crossings are dropped if the two were not seen apart.
    until_ms: u64,
    /// Line index and direction of each crossing held.
    crossings: Vec<(usize, Direction)>,
}

/// How far a stitched track may be born from the lost one's predicted centre, in the lost one's
/// heights: this much at once…
const STITCH_GATE: f32 = 0.5;
/// …plus this much per second of gap (a walker covers about a body height a second, and the
/// prediction's error grows with the gap).
const STITCH_GATE_PER_S: f32 = 0.75;
/// The most a stitched track's box height may differ from the lost one's (as a ratio).
const STITCH_HEIGHT_RATIO: f32 = 1.5;
/// A lost track's motion is extrapolated at most this long, ms.
const STITCH_PREDICT_MS: f32 = 1000.0;
/// The gate, in the lost one's heights, while the tracker still keeps the lost track (it is
/// predicting it and may match it again): fixed, not growing with the gap. A new track born
/// further off than this from where a kept track was heading is, in a group, mostly someone
/// else: on the stress set (docs/models.md), of the stitches the wide gate made onto kept tracks
/// (where the annotations tell who is who), 17 of 21 within a quarter of a height of the
/// prediction joined the same annotated person, and 14 of 89 beyond it did. Once the tracker
/// ends the track, the wide gate applies; so it does to a person seen at one pass only, whose
/// prediction (no velocity yet) is no better than an ended track's: on a stream whose passes are
/// far apart (an overloaded camera, a few frames a second) a walker found at one pass is found
/// at the next more than this far from where they were (docs/models.md).
pub const STITCH_GATE_KEPT: f32 = 0.3;

impl<K> Person<K> {
    fn new(key: K, counts: TrackCounts, rect: &Rect, time_ms: u64, pass_no: u64) -> Self {
        Self {
            counts,
            key: Some(key),
            pass_no,
            velocity: Point::new(0.0, 0.0),
            trail: VecDeque::from([(time_ms, *rect)]),
            forks: Vec::new(),
            confirmed: false,
            steps: Vec::new(),
        }
    }

    /// Counts a crossing or an entry of this person's.
    fn count(&mut self, step: Step, time_ms: u64, tally: &mut Tally) {
        match step {
            Step::Crossed(line, direction) => tally.crossing(line, direction),
            Step::Entered(zone) => tally.entry(zone),
        }
        self.steps.push((step, time_ms));
    }

    /// When and where the person was last seen.
    fn last(&self) -> (u64, Rect) {
        *self.trail.back().expect("a person's trail is never empty")
    }

    fn seen(&mut self, rect: &Rect, time_ms: u64, pass_no: u64) {
        let (last_ms, last) = self.last();
        let (c, centre) = (rect.centre(), last.centre());
        if time_ms > last_ms {
            let dt = (time_ms - last_ms) as f32;
            let v = Point::new((c.x - centre.x) / dt, (c.y - centre.y) / dt);
            let first = self.velocity.x == 0.0 && self.velocity.y == 0.0;
            self.velocity = if first {
                v
            } else {
                Point::new(0.5 * (self.velocity.x + v.x), 0.5 * (self.velocity.y + v.y))
            };
        }
        self.pass_no = pass_no;
        if time_ms == last_ms {
            // Passes with one timestamp (ground truth's): the latest place replaces the one before.
            self.trail.pop_back();
        }
        self.trail.push_back((time_ms, *rect));
        while self.trail.len() > 2 && self.trail[1].0 + FORK_BACK_MS <= time_ms {
            self.trail.pop_front();
        }
    }

    /// How well a track born at `rect` at `time_ms` continues this person: its distance from the
    /// predicted centre over the gate (≤ 1 to stitch), or `None` if it cannot.
    fn stitch_cost(&self, rect: &Rect, time_ms: u64, pass_no: u64, stitch_ms: u64) -> Option<f32> {
        let (last_ms, last) = self.last();
        let (centre, height) = (last.centre(), last.height());
        if self.pass_no == pass_no || time_ms < last_ms || time_ms - last_ms > stitch_ms {
            return None;
        }
        let ratio = rect.height() / height.max(1e-3);
        if !(1.0 / STITCH_HEIGHT_RATIO..=STITCH_HEIGHT_RATIO).contains(&ratio) {
            return None;
        }
        let dt = (time_ms - last_ms) as f32;
        let ahead = dt.min(STITCH_PREDICT_MS);
        let predicted = Point::new(centre.x + self.velocity.x * ahead, centre.y + self.velocity.y * ahead);
        let c = rect.centre();
        // Seen at one pass only, a person has no velocity: their prediction is where they were,
        // whether or not the tracker still keeps their track, and it errs more the longer the gap.
        let seen_once = self.trail.len() < 2;
        let gate = match self.key {
            Some(_) if !seen_once => height * STITCH_GATE_KEPT,
            _ => height * (STITCH_GATE + STITCH_GATE_PER_S * dt / 1000.0),
        };
        let cost = (c.x - predicted.x).hypot(c.y - predicted.y) / gate;
        (cost <= 1.0).then_some(cost)
    }
}

/// The least distance, as a share of the person's own box height, that a person's anchor must be
/// from a line or zone edge to commit to a side, beside the frame-wide
/// [`CountSettings::hysteresis`] (the larger of the two applies). A box's edges jitter in
/// proportion to its size (legs hidden for a pass, a stride, a box cut short): for people near
/// the camera that jitter is more than the frame-wide distance, and people walking along a line
/// drawn near their feet counted crossings they never made. A fifth of a person's height is
/// about 35 cm, half a step: someone who really crosses goes further. Small people (under a
/// tenth of the frame diagonal tall) are not affected.
pub const PERSON_HYSTERESIS: f32 = 0.2;

/// Limits of [`part_of_another`]: the part is at most this share of the whole's height…
pub const PART_HEIGHT: f32 = 0.75;
/// …its width within this share of the whole's…
pub const PART_WIDTH: f32 = 0.2;
/// …its top within this share of the whole's height of the whole's top…
pub const PART_TOP: f32 = 0.1;
/// …and at least this share of it inside the whole.
pub const PART_INSIDE: f32 = 0.8;

/// Whether `part` is the upper part of one of `boxes` (boxes of the same pass): as wide (within
/// [`PART_WIDTH`]), starting at the same height (within [`PART_TOP`] of the taller box's height),
/// at most [`PART_HEIGHT`] as tall and mostly ([`PART_INSIDE`]) inside it. That is one person
/// found twice, whole and as head and torso (SSDLite does this, more often for people in a
/// group, whose legs another person hides), and the tracker follows both boxes: both tracks
/// crossed the line, and a crossing was counted twice. Another person standing behind is not
/// such a part: further from the camera, they are narrower and their top is elsewhere. Measured
/// on the stress set (docs/models.md): two rows' counts came within ±1 (error 52 → 50 on 181
/// crossings), none changed for the worse.
pub fn part_of_another(part: &Rect, boxes: &[Rect]) -> bool {
    boxes.iter().any(|whole| {
        part.height() <= PART_HEIGHT * whole.height()
            && (part.width() / whole.width().max(1e-3) - 1.0).abs() <= PART_WIDTH
            && (part.y0 - whole.y0).abs() <= PART_TOP * whole.height()
            && part.share_inside(whole) >= PART_INSIDE
    })
}

/// Two people whose boxes overlap at least this much (IoU)…
pub const TWIN_OVERLAP: f32 = 0.5;
/// …the taller at most this many times the shorter's height…
pub const TWIN_HEIGHT_RATIO: f32 = 1.15;
/// …at this many passes in a row are one person found twice ([`twins_at`]).
pub const TWIN_PASSES: u32 = 3;

/// The pairs of people seen at pass `pass_no` whose boxes are twins ([`TWIN_OVERLAP`],
/// [`TWIN_HEIGHT_RATIO`]), lower number first, each with how many passes in a row it has been
/// (one more than in `before`, the previous pass's pairs).
fn twins_at<K>(
    people: &HashMap<u64, Person<K>>,
    before: &HashMap<(u64, u64), u32>,
    pass_no: u64,
) -> HashMap<(u64, u64), u32> {
    let mut seen: Vec<(u64, Rect)> =
        people.iter().filter(|(_, p)| p.pass_no == pass_no).map(|(&n, p)| (n, p.last().1)).collect();
    seen.sort_by_key(|&(n, _)| n);
    let mut twins = HashMap::new();
    for (i, &(a, ra)) in seen.iter().enumerate() {
        for &(b, rb) in &seen[i + 1..] {
            if alike(&ra, &rb, TWIN_OVERLAP) {
                twins.insert((a, b), before.get(&(a, b)).map_or(1, |run| run + 1));
            }
        }
    }
    twins
}

/// Whether two boxes overlap by at least `overlap` (IoU), the taller at most
/// [`TWIN_HEIGHT_RATIO`] times the shorter's height: twins at [`TWIN_OVERLAP`], not yet apart
/// at [`TWIN_APART`].
fn alike(a: &Rect, b: &Rect, overlap: f32) -> bool {
    let (short, tall) = (a.height().min(b.height()), a.height().max(b.height()));
    iou(a, b) >= overlap && tall <= TWIN_HEIGHT_RATIO * short
}

/// Held twins ([`Counter::held_twins`]) are seen apart once their boxes overlap less than this
/// (IoU) at like heights, or one of them is much taller, at a pass that sees both: as a fork's
/// two people are ([`FORK_APART`]). One person's two boxes drift from each other by a fraction
/// of a width and back (traced on TUD-Stadtmitte walking towards the camera: IoU 0.27–0.61 over
/// eleven passes, the two counting one crossing twice once under 0.5); two people who walked
/// together part.
pub const TWIN_APART: f32 = FORK_APART;

/// The pairs held as twins after pass `pass_no`: those twins for [`TWIN_PASSES`] passes in a row
/// now (`twins`), and those `before` not yet seen apart ([`TWIN_APART`]; a pass that sees only
/// one of them, or neither, while the tracker still keeps one, does not part them).
fn held_twins_at<K>(
    people: &HashMap<u64, Person<K>>,
    twins: &HashMap<(u64, u64), u32>,
    before: &HashSet<(u64, u64)>,
    pass_no: u64,
) -> HashSet<(u64, u64)> {
    let together = |&(a, b): &(u64, u64)| {
        let (Some(pa), Some(pb)) = (people.get(&a), people.get(&b)) else { return false };
        if pa.pass_no != pass_no || pb.pass_no != pass_no {
            return pa.key.is_some() || pb.key.is_some();
        }
        alike(&pa.last().1, &pb.last().1, TWIN_APART)
    };
    (twins.iter())
        .filter(|&(_, &run)| run >= TWIN_PASSES)
        .map(|(&pair, _)| pair)
        .chain(before.iter().copied().filter(together))
        .collect()
}

/// The steps counted within the stitch window by `number`'s twins: the crossings of those held
/// as twins ([`held_twins_at`]), and the entries of those that have been twins for
/// [`TWIN_PASSES`] passes in a row up to the previous pass. (Entries only while the two still
/// overlap that much: held for entries too, the stress set's zone entries error went 201 → 207,
/// true entries lost, with the lines' error the same as holding them for crossings only.)
fn twin_steps<K>(
    people: &HashMap<u64, Person<K>>,
    twins: &HashMap<(u64, u64), u32>,
    held: &HashSet<(u64, u64)>,
    number: u64,
) -> Vec<Step> {
    (held.iter())
        .filter(|&&(a, b)| a == number || b == number)
        .filter_map(|&(a, b)| {
            let strict = twins.get(&(a, b)).is_some_and(|&run| run >= TWIN_PASSES);
            people.get(&if a == number { b } else { a }).map(|p| (p, strict))
        })
        .flat_map(|(p, strict)| {
            (p.steps.iter())
                .map(|&(step, _)| step)
                .filter(move |step| strict || matches!(step, Step::Crossed(..)))
        })
        .collect()
}

/// A new track whose box overlaps a person's of the same pass at least this much (IoU) was born
/// out of their box: someone who walked hidden behind them and is now seen. Below it a new box
/// is beside someone rather than coming out from behind them.
pub const FORK_OVERLAP: f32 = 0.3;
/// How far back, ms, such a track takes the other person's way as its own: about the time two
/// people walking in a file stay one box to the detector while they cross a line.
pub const FORK_BACK_MS: u64 = 1000;
/// The crossings of its first step count once the two boxes overlap less than this (IoU): seen
/// apart, two people…
pub const FORK_APART: f32 = 0.1;
/// …within this long, ms; otherwise they are dropped (one person found twice stays together).
pub const FORK_HOLD_MS: u64 = 2000;

/// Whose way a new track born out of someone's box ([`FORK_OVERLAP`]) takes, and from where.
#[derive(Debug, Clone, Copy)]
struct Seed {
    /// The person whose box it was born out of.
    from: u64,
    /// Their box [`FORK_BACK_MS`] ago (the oldest on their trail)…
    then: Rect,
    /// …and now.
    now: Rect,
}

/// The person seen at this pass whose box `rect` (a new track's, at `now`) overlaps most, by
/// [`FORK_OVERLAP`] or more, with a similar height and a trail reaching back at most twice
/// [`FORK_BACK_MS`] (someone seen recently, not across a long gap) ([`most_overlapping`]).
fn fork_seed<K>(people: &HashMap<u64, Person<K>>, rect: &Rect, now: u64, pass_no: u64) -> Option<Seed> {
    let fits = |_: u64, person: &Person<K>| {
        let ((then_ms, _), (_, current)) = (person.trail[0], person.last());
        let ratio = rect.height() / current.height().max(1e-3);
        let recent = then_ms < now && now - then_ms <= 2 * FORK_BACK_MS;
        person.key.is_some() && (1.0 / STITCH_HEIGHT_RATIO..=STITCH_HEIGHT_RATIO).contains(&ratio) && recent
    };
    let (from, person) = most_overlapping(people, rect, pass_no, fits)?;
    Some(Seed { from, then: person.trail[0].1, now: person.last().1 })
}

/// Of the people seen at this pass that `fits` keeps (by number and person), the one whose box
/// `rect` overlaps most, by [`FORK_OVERLAP`] or more; of equal overlaps, the person counted first
/// (the map's order is not the same from run to run).
fn most_overlapping<'p, K>(
    people: &'p HashMap<u64, Person<K>>,
    rect: &Rect,
    pass_no: u64,
    fits: impl Fn(u64, &Person<K>) -> bool,
) -> Option<(u64, &'p Person<K>)> {
    (people.iter())
        .filter(|&(&n, p)| p.pass_no == pass_no && fits(n, p))
        .map(|(&n, p)| (iou(rect, &p.last().1), n, p))
        .filter(|&(overlap, ..)| overlap >= FORK_OVERLAP)
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
        .map(|(_, n, p)| (n, p))
}

/// Counts the held crossings of people now seen apart from whoever they came out from behind or
/// were stitched on; drops those held too long.
fn settle_forks<K>(people: &mut HashMap<u64, Person<K>>, now: u64, pass_no: u64, tally: &mut Tally) {
    let settled: Vec<(u64, usize, bool)> = (people.iter())
        .flat_map(|(&number, person)| {
            person.forks.iter().enumerate().map(move |(k, fork)| (number, person, k, fork))
        })
        .filter_map(|(number, person, k, fork)| {
            if now > fork.until_ms {
                return Some((number, k, false));
            }
            let other = people.get(&fork.from).filter(|o| o.pass_no == pass_no)?;
            let (mine, theirs) = (person.last().1, other.last().1);
            (person.pass_no == pass_no && iou(&mine, &theirs) < FORK_APART).then_some((number, k, true))
        })
        .collect();
    // Last first, so that removing one leaves the indices of those before it.
    for &(number, k, apart) in settled.iter().rev() {
        let Some(person) = people.get_mut(&number) else { continue };
        let fork = person.forks.remove(k);
        for (line, direction) in fork.crossings.into_iter().filter(|_| apart) {
            person.count(Step::Crossed(line, direction), now, tally);
        }
    }
}

/// A stitched step does not count a crossing or a zone entry that a person seen at the same pass,
/// whose box overlaps the new track's by at least this much (IoU), made while the stitched person
/// was lost (see the module's rules). One person's two boxes (from two tiles, or whole and in
/// part) overlap by IoU 0.4–0.65, below the suppression that keeps a crowd's people apart; two
/// people walking in a file mostly less: on the stress set's passes, box pairs overlapping by
/// 0.5–0.65 were one annotated person 3 301 times and two people 409 times (docs/models.md).
pub const STITCH_TAKEN_OVERLAP: f32 = 0.5;

/// The person seen at this pass whose box `rect` (a stitched track's, continuing `number`)
/// overlaps most, by [`FORK_OVERLAP`] or more ([`most_overlapping`]).
fn born_beside<K>(people: &HashMap<u64, Person<K>>, number: u64, rect: &Rect, pass_no: u64) -> Option<u64> {
    most_overlapping(people, rect, pass_no, |n, _| n != number).map(|(n, _)| n)
}

/// The crossings and entries made by people other than `number` seen at this pass on `rect`
/// ([`STITCH_TAKEN_OVERLAP`]) since `number` was last seen.
fn counted_on<K>(people: &HashMap<u64, Person<K>>, number: u64, rect: &Rect, pass_no: u64) -> Vec<Step> {
    let lost_ms = people.get(&number).map_or(0, |p| p.last().0);
    (people.iter())
        .filter(|&(&n, p)| {
            n != number && p.pass_no == pass_no && iou(&p.last().1, rect) >= STITCH_TAKEN_OVERLAP
        })
        .flat_map(|(_, p)| p.steps.iter().filter(|s| s.1 > lost_ms).map(|s| s.0))
        .collect()
}

/// The person's own hysteresis distance, pixels ([`PERSON_HYSTERESIS`]).
fn person_px(rect: &Rect) -> f32 {
    PERSON_HYSTERESIS * rect.height().max(0.0)
}

/// Which person (if any) each new track continues: the pairs of least cost first, each person
/// and track at most once.
fn stitch<K: Copy>(
    people: &HashMap<u64, Person<K>>,
    fresh: &[(K, Rect)],
    time_ms: u64,
    pass_no: u64,
    stitch_ms: u64,
) -> Vec<(K, Rect, Option<u64>)> {
    let mut out: Vec<(K, Rect, Option<u64>)> = fresh.iter().map(|&(k, r)| (k, r, None)).collect();
    if stitch_ms == 0 || fresh.is_empty() {
        return out;
    }
    let mut pairs: Vec<(f32, usize, u64)> = Vec::new();
    for (i, (_, rect)) in fresh.iter().enumerate() {
        for (&number, person) in people {
            if let Some(cost) = person.stitch_cost(rect, time_ms, pass_no, stitch_ms) {
                pairs.push((cost, i, number));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut taken = std::collections::HashSet::new();
    for (_, i, number) in pairs {
        if out[i].2.is_none() && taken.insert(number) {
            out[i].2 = Some(number);
        }
    }
    out
}

/// What the counter remembers about one person: one state per line and per zone.
#[derive(Debug)]
struct TrackCounts {
    lines: Vec<LineTrack>,
    zones: Vec<ZoneTrack>,
}

impl TrackCounts {
    fn start(geometry: &PassGeometry<'_>, rect: &Rect, time_ms: u64) -> Self {
        Self::start_as(geometry, rect, time_ms, false)
    }

    /// [`Self::start`]; `born`: nobody continues this track (see [`LineTrack::start_born`]).
    fn start_as(geometry: &PassGeometry<'_>, rect: &Rect, time_ms: u64, born: bool) -> Self {
        let frame = geometry.frame;
        let person = person_px(rect);
        let margin = geometry.hysteresis_px.max(person);
        let lines = (geometry.lines.iter().zip(geometry.pixel_lines))
            .map(|(line, pixels)| {
                let p = line.anchor().point(rect);
                if born {
                    LineTrack::start_born(pixels, frame, p, person, time_ms)
                } else {
                    LineTrack::start(pixels, frame, p, person)
                }
            })
            .collect();
        let zones = geometry
            .zones
            .iter()
            .map(|zone| {
                let p = zone.anchor().point(rect);
                let presence = zone.presence(frame, margin, p);
                if born {
                    ZoneTrack::start_born(presence, frame, p, person, time_ms)
                } else {
                    ZoneTrack::start(presence, time_ms)
                }
            })
            .collect();
        Self { lines, zones }
    }

    /// The start of a track born at `rect` out of the box of `seed`'s person: each line that
    /// person moved towards by at least its hysteresis since `seed.then` starts from there, as if
    /// this track had walked with them, then takes the step to `rect`; the other lines and the
    /// zones start at `rect`. Returns the crossings that step made (not counted yet).
    fn start_behind(
        geometry: &PassGeometry<'_>,
        seed: &Seed,
        rect: &Rect,
        time_ms: u64,
    ) -> (Self, Vec<(usize, Direction)>) {
        let mut counts = Self::start(geometry, rect, time_ms);
        let frame = geometry.frame;
        let (person, theirs) = (person_px(rect), person_px(&seed.then));
        let mut crossings = Vec::new();
        let lines = geometry.lines.iter().zip(geometry.pixel_lines);
        for (index, (state, (line, pixels))) in counts.lines.iter_mut().zip(lines).enumerate() {
            let (then, now) = (line.anchor().point(&seed.then), line.anchor().point(&seed.now));
            let behind = LineTrack::start(pixels, frame, then, theirs);
            if behind.committed().is_none() || pixels.approach(then, now) < pixels.commit_px().max(theirs) {
                continue;
            }
            *state = behind;
            if let Some(direction) = state.advance(pixels, frame, line.anchor().point(rect), person, time_ms)
            {
                crossings.push((index, direction));
            }
        }
        (counts, crossings)
    }

    /// Moves the person to `rect`: tallies the dwell times of visits that end, returns the lines
    /// crossed and the zones entered for the caller to count.
    fn advance(
        &mut self,
        geometry: &PassGeometry<'_>,
        rect: &Rect,
        time_ms: u64,
        tally: &mut Tally,
    ) -> Vec<Step> {
        let frame = geometry.frame;
        let person = person_px(rect);
        let margin = geometry.hysteresis_px.max(person);
        let lines = geometry.lines.iter().zip(geometry.pixel_lines);
        let mut steps = Vec::new();
        for (index, (state, (line, pixels))) in self.lines.iter_mut().zip(lines).enumerate() {
            if let Some(direction) = state.advance(pixels, frame, line.anchor().point(rect), person, time_ms)
            {
                steps.push(Step::Crossed(index, direction));
            }
        }
        for (index, (state, zone)) in self.zones.iter_mut().zip(geometry.zones).enumerate() {
            let p = zone.anchor().point(rect);
            if let Some(birth) = state.take_birth(time_ms)
                && zone::walked_in(zone, frame, margin, birth, (p, time_ms, person))
            {
                state.entered_at(birth.time_ms);
                steps.push(Step::Entered(index));
            }
            let presence = zone.presence(frame, margin, p);
            // First seen on the edge by nobody's track, inside now: an entry only if it walked in.
            if presence == Some(true)
                && let Some(birth) = state.boundary_birth()
                && !zone::walked_in(zone, frame, margin, birth, (p, time_ms, person))
            {
                state.inside_unentered(time_ms);
                continue;
            }
            match state.advance(presence, time_ms) {
                ZoneChange::None | ZoneChange::Left(None) => {}
                ZoneChange::Entered => steps.push(Step::Entered(index)),
                ZoneChange::Left(Some(dwell_ms)) => tally.dwell(index, dwell_ms),
            }
        }
        steps
    }

    fn end(&self, tally: &mut Tally) {
        for (index, zone) in self.zones.iter().enumerate() {
            if let Some(dwell_ms) = zone.end() {
                tally.dwell(index, dwell_ms);
            }
        }
    }
}

/// A frame size, for converting between normalised and pixel coordinates.
#[derive(Debug, Clone, Copy)]
struct Frame {
    width: f32,
    height: f32,
}

impl Frame {
    fn new(width: u32, height: u32) -> Result<Self, CountError> {
        if width == 0 || height == 0 {
            return Err(CountError::EmptyFrame { width, height });
        }
        Ok(Self { width: width as f32, height: height as f32 })
    }

    fn pixels(self, p: Point) -> Point {
        Point::new(p.x * self.width, p.y * self.height)
    }

    fn normalised(self, p: Point) -> Point {
        Point::new(p.x / self.width, p.y / self.height)
    }

    fn diagonal(self) -> f32 {
        self.width.hypot(self.height)
    }
}

/// Whether `p` is a normalised point: both coordinates in 0..=1 (which also excludes NaN).
fn check_normalised(p: Point) -> bool {
    (0.0..=1.0).contains(&p.x) && (0.0..=1.0).contains(&p.y)
}
