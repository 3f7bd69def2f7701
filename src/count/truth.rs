//! Whole-video totals for `obscura eval`: the pipeline's closed buckets summed, and ground truth
//! (annotated tracks) run through the same [`Counter`] as the pipeline's tracks, so the two are
//! comparable.

use std::hash::Hash;

use serde::Serialize;

use super::{Closed, CountError, CountSettings, Counter, Line, Pass, Zone};
use crate::geometry::Rect;

/// One line's crossings over a whole video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineTotals {
    pub line: String,
    pub in_count: u64,
    pub out_count: u64,
}

/// One zone's figures over a whole video.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneTotals {
    pub zone: String,
    /// Passes (frames, for ground truth) the occupancy was taken at.
    pub passes: u64,
    /// Tracks that entered the zone.
    pub entries: u64,
    /// Tracks inside, averaged over the passes (0 without passes).
    pub occupancy_mean: f64,
    /// Most tracks inside at one pass.
    pub occupancy_max: u64,
    /// Visits that ended (one per entry, once it ends).
    pub visits: u64,
    /// Their mean dwell time, ms, from the middle of each visit's dwell bin (the open last bin:
    /// its lower edge); `None` without visits. Exact to half a bin: give fine
    /// [`CountSettings::dwell_edges_ms`] to measure it.
    pub dwell_mean_ms: Option<f64>,
}

/// Lines' and zones' totals over a whole video.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Totals {
    pub lines: Vec<LineTotals>,
    pub zones: Vec<ZoneTotals>,
}

impl Totals {
    /// The closed buckets `closed` summed per line and per zone, in the order of `lines` and
    /// `zones` (names).
    pub fn of_closed(lines: &[String], zones: &[String], closed: &[Closed]) -> Self {
        let lines = lines
            .iter()
            .map(|name| {
                let mine = closed.iter().flat_map(|c| &c.lines).filter(|b| &b.line == name);
                let (in_count, out_count) = mine.fold((0, 0), |(i, o), b| (i + b.in_count, o + b.out_count));
                LineTotals { line: name.clone(), in_count, out_count }
            })
            .collect();
        let zones = zones
            .iter()
            .map(|name| {
                let mut totals = ZoneTotals {
                    zone: name.clone(),
                    passes: 0,
                    entries: 0,
                    occupancy_mean: 0.0,
                    occupancy_max: 0,
                    visits: 0,
                    dwell_mean_ms: None,
                };
                let (mut inside_sum, mut dwell_sum) = (0.0, 0.0);
                for bucket in closed.iter().flat_map(|c| &c.zones).filter(|b| &b.zone == name) {
                    totals.passes += bucket.passes;
                    totals.entries += bucket.entries;
                    inside_sum += bucket.occupancy_mean.unwrap_or(0.0) * bucket.passes as f64;
                    totals.occupancy_max = totals.occupancy_max.max(bucket.occupancy_max.unwrap_or(0));
                    for bin in &bucket.dwell {
                        let middle =
                            bin.to_ms.map_or(bin.from_ms as f64, |to| (bin.from_ms + to) as f64 / 2.0);
                        totals.visits += bin.count;
                        dwell_sum += middle * bin.count as f64;
                    }
                }
                if totals.passes > 0 {
                    totals.occupancy_mean = inside_sum / totals.passes as f64;
                }
                totals.dwell_mean_ms = (totals.visits > 0).then(|| dwell_sum / totals.visits as f64);
                totals
            })
            .collect();
        Self { lines, zones }
    }
}

/// The totals of `lines` and `zones` from annotated tracks (MOTChallenge ground truth: per frame,
/// in order, its stream time, ms, not decreasing, and each annotated person's id and box in
/// pixels of a `width`×`height` frame), with the rules and hysteresis of `settings` that the
/// pipeline's [`Counter`] uses. An id is one person for the whole video: an id missing from some
/// frames (occlusion) keeps its state. Zones' dwell times are measured in the frames' times, and
/// their occupancy is taken at every frame given.
///
/// Give every frame for the true count, or only the frames the pipeline detects on to see what
/// the detection interval alone costs.
pub fn track_totals<K, F, B>(
    lines: &[Line],
    zones: &[Zone],
    settings: &CountSettings,
    width: u32,
    height: u32,
    frames: F,
) -> Result<Totals, CountError>
where
    K: Copy + Eq + Hash,
    F: IntoIterator<Item = (u64, B)>,
    B: IntoIterator<Item = (K, Rect)>,
{
    let mut counter = Counter::new("ground truth", lines.to_vec(), zones.to_vec(), settings)?;
    let mut tracks = Vec::new();
    let mut closed = Vec::new();
    for (time_ms, frame) in frames {
        tracks.clear();
        tracks.extend(frame);
        let pass = Pass { time_ms, width, height, tracks: &tracks, tentative: &[], ended: &[] };
        closed.push(counter.observe(&pass)?);
    }
    closed.push(counter.close_all());
    let line_names: Vec<String> = lines.iter().map(|line| line.name().to_owned()).collect();
    let zone_names: Vec<String> = zones.iter().map(|zone| zone.name().to_owned()).collect();
    Ok(Totals::of_closed(&line_names, &zone_names, &closed))
}
