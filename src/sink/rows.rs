//! A closed bucket as it is published, one JSON object: the JSONL rows and the MQTT payloads are
//! the same bytes.

use serde_json::json;

use crate::clock::rfc3339;
use crate::count::{LineBucket, ZoneBucket};

/// A closed line bucket as published (JSONL rows and MQTT payloads), under the floor `min_count`:
/// `{"camera":…,"line":…,"start":…,"end":…,"passes":…,"in":…,"out":…}`.
pub(crate) fn line_json(bucket: &LineBucket, min_count: u64) -> serde_json::Value {
    let p = bucket.published(min_count);
    json!({
        "camera": p.camera, "line": p.line, "start": rfc3339(p.start_ms), "end": rfc3339(p.end_ms),
        "passes": p.passes, "in": p.in_count, "out": p.out_count,
    })
}

/// A closed zone bucket as published, under the floor `min_count`.
pub(crate) fn zone_json(bucket: &ZoneBucket, min_count: u64) -> serde_json::Value {
    let p = bucket.published(min_count);
    let dwell: Vec<_> = p
        .dwell
        .iter()
        .map(|d| json!({"from_s": d.from_ms / 1000, "to_s": d.to_ms.map(|t| t / 1000), "count": d.count}))
        .collect();
    json!({
        "camera": p.camera, "zone": p.zone, "start": rfc3339(p.start_ms), "end": rfc3339(p.end_ms),
        "passes": p.passes, "entries": p.entries, "occupancy_min": p.occupancy_min,
        "occupancy_max": p.occupancy_max, "occupancy_mean": p.occupancy_mean, "dwell": dwell,
    })
}
