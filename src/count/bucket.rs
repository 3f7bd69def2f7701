//! Time buckets: counts per camera, per line or zone, per wall-clock-aligned interval, and how they
//! are published under a privacy floor.

use serde::{Serialize, Serializer};

use super::{CountSettings, Direction};

/// A count as published: the number, or `"<k"` when it is below the privacy floor `k`.
///
/// Serialises as the number itself or as the string `"<k"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Published<T = u64> {
    /// At or above the floor: published as is.
    Count(T),
    /// Below the floor `k` (including 0, so an empty bucket and a bucket with one person look the
    /// same): published as `"<k"`.
    Below(u64),
}

impl Published<u64> {
    /// `value` under the floor `min_count` (0: no floor).
    pub fn count(value: u64, min_count: u64) -> Self {
        if value < min_count { Self::Below(min_count) } else { Self::Count(value) }
    }
}

impl Published<f64> {
    /// A mean under the floor `min_count` (0: no floor).
    pub fn mean(value: f64, min_count: u64) -> Self {
        if value < min_count as f64 { Self::Below(min_count) } else { Self::Count(value) }
    }
}

impl<T: Serialize> Serialize for Published<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(value) => value.serialize(serializer),
            Self::Below(k) => serializer.collect_str(&format_args!("<{k}")),
        }
    }
}

/// One line's crossings in one time bucket `[start_ms, end_ms)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineBucket<C = u64> {
    pub camera: String,
    pub line: String,
    /// Bucket start, ms since the Unix epoch, a multiple of the bucket length.
    pub start_ms: u64,
    /// Bucket end (exclusive), `start_ms` + the bucket length.
    pub end_ms: u64,
    /// Detection passes in the bucket; 0 for a bucket in a gap of the stream (no data, not "nobody").
    pub passes: u64,
    /// Crossings onto the `in` side.
    pub in_count: C,
    /// Crossings onto the `out` side.
    pub out_count: C,
}

impl LineBucket {
    /// This bucket as published with the privacy floor `min_count` (0: no floor).
    pub fn published(&self, min_count: u64) -> LineBucket<Published> {
        let count = |value| Published::count(value, min_count);
        LineBucket {
            camera: self.camera.clone(),
            line: self.line.clone(),
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            passes: self.passes,
            in_count: count(self.in_count),
            out_count: count(self.out_count),
        }
    }
}

/// One bin of a dwell-time histogram: visits that ended in the bucket and lasted
/// `[from_ms, to_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct DwellBin<C = u64> {
    pub from_ms: u64,
    /// `None` for the last bin, open-ended.
    pub to_ms: Option<u64>,
    pub count: C,
}

/// One zone's counts in one time bucket `[start_ms, end_ms)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneBucket<C = u64, M = f64> {
    pub camera: String,
    pub zone: String,
    /// Bucket start, ms since the Unix epoch, a multiple of the bucket length.
    pub start_ms: u64,
    /// Bucket end (exclusive), `start_ms` + the bucket length.
    pub end_ms: u64,
    /// Detection passes in the bucket; 0 for a bucket in a gap of the stream (no data, not "nobody").
    pub passes: u64,
    /// Tracks that entered the zone.
    pub entries: C,
    /// Fewest tracks inside at one pass; `None` when `passes` is 0.
    pub occupancy_min: Option<C>,
    /// Most tracks inside at one pass; `None` when `passes` is 0.
    pub occupancy_max: Option<C>,
    /// Tracks inside, averaged over the passes; `None` when `passes` is 0.
    pub occupancy_mean: Option<M>,
    /// Dwell times of the visits that ended in the bucket, one bin per interval of the
    /// configured edges.
    pub dwell: Vec<DwellBin<C>>,
}

impl ZoneBucket {
    /// This bucket as published with the privacy floor `min_count` (0: no floor): every person
    /// count and occupancy figure below it becomes `"<k"`.
    pub fn published(&self, min_count: u64) -> ZoneBucket<Published, Published<f64>> {
        let count = |value| Published::count(value, min_count);
        ZoneBucket {
            camera: self.camera.clone(),
            zone: self.zone.clone(),
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            passes: self.passes,
            entries: count(self.entries),
            occupancy_min: self.occupancy_min.map(count),
            occupancy_max: self.occupancy_max.map(count),
            occupancy_mean: self.occupancy_mean.map(|mean| Published::mean(mean, min_count)),
            dwell: self
                .dwell
                .iter()
                .map(|bin| DwellBin { from_ms: bin.from_ms, to_ms: bin.to_ms, count: count(bin.count) })
                .collect(),
        }
    }
}

/// The buckets a pass (or [`super::Counter::close_all`]) closed, in time order per line and zone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Closed {
    pub lines: Vec<LineBucket>,
    pub zones: Vec<ZoneBucket>,
}

impl Closed {
    /// Whether no bucket closed.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.zones.is_empty()
    }
}

/// The counts of the open bucket. Its vectors are reused from bucket to bucket.
#[derive(Debug, Clone)]
pub(super) struct Tally {
    start_ms: u64,
    passes: u64,
    /// Per line: crossings in, out.
    lines: Vec<[u64; 2]>,
    zones: Vec<ZoneTally>,
    /// Upper edges of the dwell bins, ms.
    dwell_edges_ms: Vec<u64>,
}

#[derive(Debug, Clone)]
struct ZoneTally {
    entries: u64,
    occupancy_min: u64,
    occupancy_max: u64,
    occupancy_sum: u64,
    /// One count per dwell bin.
    dwell: Vec<u64>,
}

impl Tally {
    fn new(start_ms: u64, lines: usize, zones: usize, dwell_edges_ms: &[u64]) -> Self {
        let zone = ZoneTally {
            entries: 0,
            occupancy_min: u64::MAX,
            occupancy_max: 0,
            occupancy_sum: 0,
            dwell: vec![0; dwell_edges_ms.len() + 1],
        };
        Self {
            start_ms,
            passes: 0,
            lines: vec![[0; 2]; lines],
            zones: vec![zone; zones],
            dwell_edges_ms: dwell_edges_ms.to_vec(),
        }
    }

    /// Zeroes the counts for the bucket starting at `start_ms`.
    fn reset(&mut self, start_ms: u64) {
        self.start_ms = start_ms;
        self.passes = 0;
        self.lines.fill([0; 2]);
        for zone in &mut self.zones {
            zone.entries = 0;
            zone.occupancy_min = u64::MAX;
            zone.occupancy_max = 0;
            zone.occupancy_sum = 0;
            zone.dwell.fill(0);
        }
    }

    pub(super) fn crossing(&mut self, line: usize, direction: Direction) {
        let [in_count, out_count] = &mut self.lines[line];
        match direction {
            Direction::In => *in_count += 1,
            Direction::Out => *out_count += 1,
        }
    }

    pub(super) fn entry(&mut self, zone: usize) {
        self.zones[zone].entries += 1;
    }

    /// A visit of `zone` that lasted `dwell_ms` ended.
    pub(super) fn dwell(&mut self, zone: usize, dwell_ms: u64) {
        let bin = self.dwell_edges_ms.partition_point(|&edge| edge <= dwell_ms);
        self.zones[zone].dwell[bin] += 1;
    }

    /// A pass ended, with `occupancy[z]` tracks inside zone `z`.
    pub(super) fn pass(&mut self, occupancy: &[u64]) {
        self.passes += 1;
        for (zone, &inside) in self.zones.iter_mut().zip(occupancy) {
            zone.occupancy_min = zone.occupancy_min.min(inside);
            zone.occupancy_max = zone.occupancy_max.max(inside);
            zone.occupancy_sum += inside;
        }
    }
}

/// The buckets of one camera: the open one and how to close it.
#[derive(Debug)]
pub(super) struct Buckets {
    camera: String,
    line_names: Vec<String>,
    zone_names: Vec<String>,
    bucket_ms: u64,
    dwell_edges_ms: Vec<u64>,
    max_empty_buckets: u32,
    open: Option<Tally>,
}

impl Buckets {
    pub(super) fn new(
        camera: String,
        line_names: Vec<String>,
        zone_names: Vec<String>,
        settings: &CountSettings,
    ) -> Self {
        Self {
            camera,
            line_names,
            zone_names,
            bucket_ms: settings.bucket_ms,
            dwell_edges_ms: settings.dwell_edges_ms.clone(),
            max_empty_buckets: settings.max_empty_buckets,
            open: None,
        }
    }

    /// The open bucket for a pass at `time_ms` (not before the previous pass), after closing the
    /// open one into `closed` if `time_ms` is past its end, followed by at most
    /// `max_empty_buckets` empty buckets for the gap.
    pub(super) fn advance_to(&mut self, time_ms: u64, closed: &mut Closed) -> &mut Tally {
        let start_ms = time_ms - time_ms % self.bucket_ms;
        let tally = match self.open.take() {
            Some(tally) if tally.start_ms == start_ms => tally,
            Some(mut tally) => {
                self.emit(&tally, closed);
                let mut empty_start = tally.start_ms.saturating_add(self.bucket_ms);
                for _ in 0..self.max_empty_buckets {
                    if empty_start >= start_ms {
                        break;
                    }
                    tally.reset(empty_start);
                    self.emit(&tally, closed);
                    empty_start = empty_start.saturating_add(self.bucket_ms);
                }
                tally.reset(start_ms);
                tally
            }
            None => Tally::new(start_ms, self.line_names.len(), self.zone_names.len(), &self.dwell_edges_ms),
        };
        self.open.insert(tally)
    }

    /// The open bucket, if a pass opened one.
    pub(super) fn open(&mut self) -> Option<&mut Tally> {
        self.open.as_mut()
    }

    /// The open bucket's per-line crossings (in, out), if a bucket is open.
    pub(super) fn open_lines(&self) -> Option<&[[u64; 2]]> {
        self.open.as_ref().map(|t| t.lines.as_slice())
    }

    /// The open bucket's start, and its zone entries so far.
    pub(super) fn open_zone_entries(&self) -> Option<(u64, Vec<u64>)> {
        self.open.as_ref().map(|t| (t.start_ms, t.zones.iter().map(|z| z.entries).collect()))
    }

    /// Closes the open bucket into `closed`, if there is one.
    pub(super) fn close(&mut self, closed: &mut Closed) {
        if let Some(tally) = self.open.take() {
            self.emit(&tally, closed);
        }
    }

    fn emit(&self, tally: &Tally, closed: &mut Closed) {
        let (start_ms, passes) = (tally.start_ms, tally.passes);
        let end_ms = start_ms.saturating_add(self.bucket_ms);
        let camera = &self.camera;
        closed.lines.extend(self.line_names.iter().zip(&tally.lines).map(
            |(line, &[in_count, out_count])| LineBucket {
                camera: camera.clone(),
                line: line.clone(),
                start_ms,
                end_ms,
                passes,
                in_count,
                out_count,
            },
        ));
        closed.zones.extend(self.zone_names.iter().zip(&tally.zones).map(|(zone, counts)| {
            let seen = passes > 0;
            ZoneBucket {
                camera: camera.clone(),
                zone: zone.clone(),
                start_ms,
                end_ms,
                passes,
                entries: counts.entries,
                occupancy_min: seen.then_some(counts.occupancy_min),
                occupancy_max: seen.then_some(counts.occupancy_max),
                occupancy_mean: seen.then(|| counts.occupancy_sum as f64 / passes as f64),
                dwell: self.dwell_bins(&counts.dwell),
            }
        }));
    }

    fn dwell_bins(&self, counts: &[u64]) -> Vec<DwellBin> {
        let edges = &self.dwell_edges_ms;
        counts
            .iter()
            .enumerate()
            .map(|(bin, &count)| DwellBin {
                from_ms: if bin == 0 { 0 } else { edges[bin - 1] },
                to_ms: edges.get(bin).copied(),
                count,
            })
            .collect()
    }
}
