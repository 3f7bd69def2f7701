//! `GET /api/counts`: the count store's closed buckets, filtered, rolled up to longer buckets and
//! floored at `min_count`, as JSON or CSV. Read from SQLite (a read-only connection per request),
//! so it shows exactly what the store holds: closed buckets only, never a figure finer than the
//! files give.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::{Connection, OpenFlags, params_from_iter};
use serde::{Deserialize, Serialize};

use crate::clock::rfc3339;
use crate::count::Published;

/// The most rows one answer holds: a year of 15 min buckets for a line is 35 040.
pub const MAX_ROWS: usize = 100_000;
/// The longest roll-up bucket.
pub const MAX_BUCKET_MS: u64 = 31 * DAY_MS;
const DAY_MS: u64 = 86_400_000;

/// The query string of `GET /api/counts`. Unknown keys are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountsParams {
    /// Only this camera.
    pub camera: Option<String>,
    /// Only this line (and no zones unless `zone` is given too).
    pub line: Option<String>,
    /// Only this zone (and no lines unless `line` is given too).
    pub zone: Option<String>,
    /// Buckets starting at or after this time: RFC 3339 (`2026-11-22T10:00:00Z`, an offset, or a
    /// date `2026-11-22` for its midnight UTC) or ms since the Unix epoch.
    pub from: Option<String>,
    /// Buckets starting before this time, as `from`.
    pub to: Option<String>,
    /// Roll the stored buckets up to this length (`15m`, `1h`, `1d`): a multiple of the stored
    /// bucket, aligned to the epoch (UTC days). Default: the stored bucket.
    pub bucket: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// Why a query was refused (400 with this text) or failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Bad(String),
    #[error("the count store cannot be read: {0}")]
    Store(String),
}

/// The count store as the API reads it.
#[derive(Debug, Clone)]
pub struct CountsApi {
    path: PathBuf,
    /// The stored bucket length, ms.
    bucket_ms: u64,
    min_count: u64,
}

/// One rolled-up line bucket, floored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineRow {
    pub camera: String,
    pub line: String,
    pub start: String,
    pub end: String,
    /// Detection passes in the stored buckets rolled up (0: no data, not "nobody").
    pub passes: u64,
    #[serde(rename = "in")]
    pub in_count: Published,
    #[serde(rename = "out")]
    pub out_count: Published,
}

/// One rolled-up zone bucket, floored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneRow {
    pub camera: String,
    pub zone: String,
    pub start: String,
    pub end: String,
    pub passes: u64,
    pub entries: Published,
    pub occupancy_max: Option<Published>,
    /// Mean over the passes of the rolled-up buckets.
    pub occupancy_mean: Option<Published<f64>>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counts {
    /// The roll-up bucket length, seconds.
    pub bucket_s: u64,
    /// Figures below this are shown as `"<k"` (0: no floor).
    pub min_count: u64,
    pub lines: Vec<LineRow>,
    pub zones: Vec<ZoneRow>,
}

impl CountsApi {
    /// The API over the store at `path`, whose buckets are `bucket_ms` long, floored at
    /// `min_count`.
    pub fn new(path: PathBuf, bucket_ms: u64, min_count: u64) -> Self {
        Self { path, bucket_ms, min_count }
    }

    /// Answers one query.
    pub fn query(&self, params: &CountsParams) -> Result<Counts, QueryError> {
        let bad = |reason: String| QueryError::Bad(reason);
        let from = params.from.as_deref().map(|t| parse_time("from", t)).transpose().map_err(bad)?;
        let to = params.to.as_deref().map(|t| parse_time("to", t)).transpose().map_err(bad)?;
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(bad(format!("to ({}) must be after from ({})", rfc3339(to), rfc3339(from))));
        }
        let rollup = match params.bucket.as_deref() {
            Some(text) => self.rollup(text).map_err(bad)?,
            None => self.bucket_ms,
        };
        let format = params.format.as_deref().unwrap_or("json");
        if !matches!(format, "json" | "csv") {
            return Err(bad(format!("format {format:?} is not json or csv")));
        }
        for (key, value) in [("camera", &params.camera), ("line", &params.line), ("zone", &params.zone)] {
            if let Some(value) = value
                && (value.is_empty() || value.len() > 64)
            {
                return Err(bad(format!("{key} must be a name of 1 to 64 characters")));
            }
        }
        let (want_lines, want_zones) = match (&params.line, &params.zone) {
            (None, None) => (true, true),
            (line, zone) => (line.is_some(), zone.is_some()),
        };
        let conn = self.connect()?;
        let filter = Filter { camera: params.camera.as_deref(), from, to };
        let lines =
            if want_lines { self.lines(&conn, &filter, params.line.as_deref(), rollup)? } else { Vec::new() };
        let zones =
            if want_zones { self.zones(&conn, &filter, params.zone.as_deref(), rollup)? } else { Vec::new() };
        Ok(Counts { bucket_s: rollup / 1000, min_count: self.min_count, lines, zones })
    }

    /// The store, read-only, waiting up to 2 s for a writer.
    fn connect(&self) -> Result<Connection, QueryError> {
        let store = |e: rusqlite::Error| QueryError::Store(e.to_string());
        let conn =
            Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(store)?;
        conn.busy_timeout(std::time::Duration::from_secs(2)).map_err(store)?;
        Ok(conn)
    }

    /// The floor of every figure.
    pub fn min_count(&self) -> u64 {
        self.min_count
    }

    /// `camera`'s stored (closed) buckets starting at or after `since_ms`, summed: each line's
    /// `(name, in, out)` and each zone's `(name, entries)`. Not floored: the caller floors the
    /// sums it shows.
    #[allow(clippy::type_complexity)]
    pub fn totals_since(
        &self,
        camera: &str,
        since_ms: u64,
    ) -> Result<(Vec<(String, u64, u64)>, Vec<(String, u64)>), QueryError> {
        let store = |e: rusqlite::Error| QueryError::Store(e.to_string());
        let conn = self.connect()?;
        let since = since_ms.min(i64::MAX as u64) as i64;
        let mut stmt = conn
            .prepare(
                "SELECT line, SUM(in_count), SUM(out_count) FROM line_buckets
                 WHERE camera = ?1 AND start_ms >= ?2 GROUP BY line ORDER BY line",
            )
            .map_err(store)?;
        let lines = stmt
            .query_map(rusqlite::params![camera, since], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?.max(0) as u64,
                    r.get::<_, i64>(2)?.max(0) as u64,
                ))
            })
            .map_err(store)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(store)?;
        let mut stmt = conn
            .prepare(
                "SELECT zone, SUM(entries) FROM zone_buckets
                 WHERE camera = ?1 AND start_ms >= ?2 GROUP BY zone ORDER BY zone",
            )
            .map_err(store)?;
        let zones = stmt
            .query_map(rusqlite::params![camera, since], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })
            .map_err(store)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(store)?;
        Ok((lines, zones))
    }

    /// A roll-up length from `text`: a multiple of the stored bucket that divides a day or is
    /// whole days.
    fn rollup(&self, text: &str) -> Result<u64, String> {
        let ms = parse_duration_ms(text)
            .ok_or_else(|| format!("bucket {text:?} is not a length such as 15m, 1h or 1d"))?;
        if ms < self.bucket_ms || ms % self.bucket_ms != 0 {
            return Err(format!(
                "bucket {text:?} must be a multiple of the stored bucket ({} min)",
                self.bucket_ms / 60_000
            ));
        }
        if ms > MAX_BUCKET_MS || !(DAY_MS.is_multiple_of(ms) || ms.is_multiple_of(DAY_MS)) {
            return Err(format!("bucket {text:?} must divide a day or be whole days, at most 31d"));
        }
        Ok(ms)
    }

    fn lines(
        &self,
        conn: &Connection,
        filter: &Filter,
        name: Option<&str>,
        rollup: u64,
    ) -> Result<Vec<LineRow>, QueryError> {
        let columns = "camera, line, start_ms, passes, in_count, out_count";
        let rows = select(conn, columns, "line_buckets", "line", filter, name, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                [r.get::<_, i64>(3)?, r.get::<_, i64>(4)?, r.get::<_, i64>(5)?],
            ))
        })?;
        let mut sums: BTreeMap<(String, String, u64), [u64; 3]> = BTreeMap::new();
        for (camera, line, start, figures) in rows {
            let start = start.max(0) as u64;
            let sum = sums.entry((camera, line, start - start % rollup)).or_default();
            for (total, value) in sum.iter_mut().zip(figures) {
                *total += value.max(0) as u64;
            }
        }
        let k = self.min_count;
        Ok(sums
            .into_iter()
            .map(|((camera, line, start), [passes, inn, out])| LineRow {
                camera,
                line,
                start: rfc3339(start),
                end: rfc3339(start + rollup),
                passes,
                in_count: Published::count(inn, k),
                out_count: Published::count(out, k),
            })
            .collect())
    }

    fn zones(
        &self,
        conn: &Connection,
        filter: &Filter,
        name: Option<&str>,
        rollup: u64,
    ) -> Result<Vec<ZoneRow>, QueryError> {
        let columns = "camera, zone, start_ms, passes, entries, occupancy_max, occupancy_mean";
        let rows = select(conn, columns, "zone_buckets", "zone", filter, name, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<f64>>(6)?,
            ))
        })?;
        #[derive(Default)]
        struct Sum {
            passes: u64,
            entries: u64,
            max: Option<u64>,
            /// Σ mean × passes, for the pass-weighted mean.
            weighted: f64,
            measured: u64,
        }
        let mut sums: BTreeMap<(String, String, u64), Sum> = BTreeMap::new();
        for (camera, zone, start, passes, entries, max, mean) in rows {
            let start = start.max(0) as u64;
            let passes = passes.max(0) as u64;
            let sum = sums.entry((camera, zone, start - start % rollup)).or_default();
            sum.passes += passes;
            sum.entries += entries.max(0) as u64;
            if let Some(max) = max {
                sum.max = Some(sum.max.unwrap_or(0).max(max.max(0) as u64));
            }
            if let Some(mean) = mean.filter(|m| m.is_finite()) {
                sum.weighted += mean * passes as f64;
                sum.measured += passes;
            }
        }
        let k = self.min_count;
        Ok(sums
            .into_iter()
            .map(|((camera, zone, start), s)| ZoneRow {
                camera,
                zone,
                start: rfc3339(start),
                end: rfc3339(start + rollup),
                passes: s.passes,
                entries: Published::count(s.entries, k),
                occupancy_max: s.max.map(|m| Published::count(m, k)),
                occupancy_mean: (s.measured > 0).then(|| {
                    let mean = s.weighted / s.measured as f64;
                    if mean < k as f64 { Published::Below(k) } else { Published::Count(mean) }
                }),
            })
            .collect())
    }
}

/// `SELECT columns FROM table` under `filter` (and `name` in `name_column`), in order of camera,
/// name and start, each row read by `read`; more than [`MAX_ROWS`] rows is a bad query.
fn select<T>(
    conn: &Connection,
    columns: &str,
    table: &str,
    name_column: &str,
    filter: &Filter,
    name: Option<&str>,
    read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, QueryError> {
    let store = |e: rusqlite::Error| QueryError::Store(e.to_string());
    let (clause, values) = filter.sql(name_column, name);
    let sql = format!(
        "SELECT {columns} FROM {table} {clause} ORDER BY camera, {name_column}, start_ms LIMIT {}",
        MAX_ROWS + 1
    );
    let mut stmt = conn.prepare(&sql).map_err(store)?;
    let rows = stmt.query_map(params_from_iter(values.iter()), read).map_err(store)?;
    let rows: Vec<T> = rows.collect::<Result<_, _>>().map_err(store)?;
    if rows.len() > MAX_ROWS {
        return Err(QueryError::Bad(format!(
            "more than {MAX_ROWS} stored buckets match: narrow from/to or roll up with bucket"
        )));
    }
    Ok(rows)
}

/// The filters every table shares.
struct Filter<'a> {
    camera: Option<&'a str>,
    from: Option<u64>,
    to: Option<u64>,
}

impl Filter<'_> {
    /// A `WHERE` clause over `column` (the line or zone name) and its bound values.
    fn sql(&self, column: &str, name: Option<&str>) -> (String, Vec<rusqlite::types::Value>) {
        use rusqlite::types::Value;
        let mut terms = Vec::new();
        let mut values = Vec::new();
        if let Some(camera) = self.camera {
            terms.push("camera = ?".to_owned());
            values.push(Value::Text(camera.to_owned()));
        }
        if let Some(name) = name {
            terms.push(format!("{column} = ?"));
            values.push(Value::Text(name.to_owned()));
        }
        if let Some(from) = self.from {
            terms.push("start_ms >= ?".to_owned());
            values.push(Value::Integer(i64::try_from(from).unwrap_or(i64::MAX)));
        }
        if let Some(to) = self.to {
            terms.push("start_ms < ?".to_owned());
            values.push(Value::Integer(i64::try_from(to).unwrap_or(i64::MAX)));
        }
        let clause = if terms.is_empty() { String::new() } else { format!("WHERE {}", terms.join(" AND ")) };
        (clause, values)
    }
}

/// `from`/`to`: ms since the epoch, an RFC 3339 date-time with an offset, or a date (midnight UTC).
pub fn parse_time(key: &str, text: &str) -> Result<u64, String> {
    let bad =
        || format!("{key} {text:?} is not a time: use 2026-11-22T10:00:00Z, 2026-11-22 or ms since 1970");
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().ok().filter(|&ms| ms < 1 << 53).ok_or_else(bad);
    }
    let dt: toml::value::Datetime = text.parse().map_err(|_| bad())?;
    match (dt.date, dt.time, dt.offset) {
        (Some(date), None, None) => {
            let days = crate::clock::days_from_civil(
                i64::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            );
            u64::try_from(days * 86_400_000).map_err(|_| bad())
        }
        _ => crate::clock::from_toml(&dt).ok_or_else(bad),
    }
}

/// `"15m"`, `"1h"`, `"1d"` as milliseconds (roll-ups: no seconds, no zero).
fn parse_duration_ms(text: &str) -> Option<u64> {
    crate::clock::parse_duration_ms(text, &["m", "min", "h", "d"]).filter(|&ms| ms > 0)
}

/// The answer as CSV: one header, then a row per line bucket and per zone bucket (`kind` tells
/// them apart; the columns of the other kind are empty).
pub fn to_csv(counts: &Counts) -> String {
    let mut out =
        String::from("kind,camera,name,start,end,passes,in,out,entries,occupancy_max,occupancy_mean\n");
    let text = |p: &Published| match p {
        Published::Count(n) => n.to_string(),
        Published::Below(k) => format!("<{k}"),
    };
    for l in &counts.lines {
        out += &format!(
            "line,{},{},{},{},{},{},{},,,\n",
            csv_field(&l.camera),
            csv_field(&l.line),
            l.start,
            l.end,
            l.passes,
            text(&l.in_count),
            text(&l.out_count)
        );
    }
    for z in &counts.zones {
        let mean = match &z.occupancy_mean {
            Some(Published::Count(m)) => format!("{m:.3}"),
            Some(Published::Below(k)) => format!("<{k}"),
            None => String::new(),
        };
        out += &format!(
            "zone,{},{},{},{},{},,,{},{},{}\n",
            csv_field(&z.camera),
            csv_field(&z.zone),
            z.start,
            z.end,
            z.passes,
            text(&z.entries),
            z.occupancy_max.as_ref().map(text).unwrap_or_default(),
            mean
        );
    }
    out
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::{Closed, LineBucket, ZoneBucket};
    use crate::sink::CountDb;

    const T0: u64 = 1_795_341_600_000; // 2026-11-22T10:00:00Z

    fn store(dir: &std::path::Path) -> PathBuf {
        let path = dir.join("counts.sqlite");
        let mut db = CountDb::open(&path).unwrap();
        let mut closed = Closed::default();
        for i in 0..8u64 {
            closed.lines.push(LineBucket {
                camera: "door-cam".into(),
                line: "door".into(),
                start_ms: T0 + i * 900_000,
                end_ms: T0 + (i + 1) * 900_000,
                passes: 100,
                in_count: i,
                out_count: 1,
            });
            closed.zones.push(ZoneBucket {
                camera: "door-cam".into(),
                zone: "till".into(),
                start_ms: T0 + i * 900_000,
                end_ms: T0 + (i + 1) * 900_000,
                passes: 100,
                entries: 2,
                occupancy_min: Some(0),
                occupancy_max: Some(i),
                occupancy_mean: Some(1.0 + i as f64),
                dwell: Vec::new(),
            });
        }
        db.write(&closed).unwrap();
        path
    }

    fn params(pairs: &[(&str, &str)]) -> CountsParams {
        let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        serde_json::from_value(serde_json::Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned())))
                .collect(),
        ))
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn buckets_roll_up_to_hours_and_are_floored() {
        let dir = tempfile::tempdir().unwrap();
        let api = CountsApi::new(store(dir.path()), 900_000, 3);
        let counts = api.query(&params(&[("bucket", "1h"), ("line", "door")])).unwrap();
        assert!(counts.zones.is_empty(), "line only");
        assert_eq!(counts.bucket_s, 3600);
        // Hour 1: in 0+1+2+3 = 6, out 4; hour 2: in 4+5+6+7 = 22, out 4.
        let ins: Vec<_> = counts.lines.iter().map(|l| l.in_count).collect();
        assert_eq!(ins, [Published::Count(6), Published::Count(22)]);
        assert_eq!(counts.lines[0].start, "2026-11-22T10:00:00Z");
        assert_eq!(counts.lines[0].end, "2026-11-22T11:00:00Z");
        assert_eq!(counts.lines[0].passes, 400);
        // Unrolled: the first buckets' in-counts 0, 1, 2 are under the floor.
        let raw = api.query(&params(&[("line", "door"), ("to", "2026-11-22T10:45:00Z")])).unwrap();
        let ins: Vec<_> = raw.lines.iter().map(|l| l.in_count).collect();
        assert_eq!(ins, [Published::Below(3), Published::Below(3), Published::Below(3)]);
        let zones = api.query(&params(&[("zone", "till"), ("bucket", "1d")])).unwrap();
        assert_eq!(zones.zones.len(), 1);
        assert_eq!(zones.zones[0].entries, Published::Count(16));
        assert_eq!(zones.zones[0].occupancy_max, Some(Published::Count(7)));
        assert_eq!(zones.zones[0].occupancy_mean, Some(Published::Count(4.5)));
        let csv = to_csv(&counts);
        assert!(csv.starts_with("kind,camera,name,start,end,passes,in,out,"), "{csv}");
        assert!(
            csv.contains("line,door-cam,door,2026-11-22T10:00:00Z,2026-11-22T11:00:00Z,400,6,4,,,\n"),
            "{csv}"
        );
    }

    #[test]
    fn bad_parameters_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let api = CountsApi::new(store(dir.path()), 900_000, 0);
        for (pairs, reason) in [
            (vec![("bucket", "7m")], "multiple of the stored bucket"),
            (vec![("bucket", "75m")], "must divide a day"),
            (vec![("bucket", "soon")], "is not a length"),
            (vec![("from", "yesterday")], "is not a time"),
            (vec![("from", "2026-11-22T11:00:00Z"), ("to", "2026-11-22T10:00:00Z")], "must be after"),
            (vec![("format", "xml")], "not json or csv"),
            (vec![("camera", "")], "1 to 64"),
        ] {
            match api.query(&params(&pairs)) {
                Err(QueryError::Bad(text)) => assert!(text.contains(reason), "{pairs:?}: {text}"),
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
        // Times in every accepted form.
        for from in ["2026-11-22", "2026-11-22T11:00:00+01:00", "1795341600000"] {
            let counts = api.query(&params(&[("from", from), ("line", "door")])).unwrap();
            assert_eq!(counts.lines.len(), 8, "{from}");
        }
    }
}
