//! Prometheus metrics, served as text at `GET /metrics` by a small HTTP server on a loopback
//! address: aggregate counts only, never anything about one person.
//!
//! The count figures move only when a time bucket closes (see docs/privacy.md §4): a scraper
//! polling every second learns nothing finer than the bucket (at least a minute), exactly what
//! the JSONL, CSV, SQLite and MQTT outputs give. Under the `min_count` floor:
//! * the crossing and entry counters advance in steps of at least `min_count`: a closed bucket's
//!   count is held back until, with the buckets after it, it reaches the floor (the counters lag
//!   the truth by less than `min_count`);
//! * the occupancy gauge (the most people inside at once during the latest closed bucket) is left
//!   out while it is under the floor, as `"<k"` is in the files.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::count::Closed;

/// The figures `/metrics` shows, updated when count buckets close.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
    sections: Mutex<Sections>,
}

/// Text rendered by other parts at each scrape (e.g. the MQTT publisher's state).
#[derive(Default)]
struct Sections(Vec<Box<dyn Fn() -> String + Send + Sync>>);

impl std::fmt::Debug for Sections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} section(s)", self.0.len())
    }
}

/// A counter released in steps of at least the floor.
#[derive(Debug, Default, Clone, Copy)]
struct Floored {
    /// What `/metrics` shows.
    shown: u64,
    /// Counted in closed buckets, not shown yet (under the floor).
    held: u64,
}

impl Floored {
    fn add(&mut self, value: u64, min_count: u64) {
        self.held += value;
        if self.held >= min_count.max(1) {
            self.shown += self.held;
            self.held = 0;
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// (camera, line) → crossings in, out, in closed buckets since the process started.
    crossings: BTreeMap<(String, String), [Floored; 2]>,
    /// (camera, zone) → entries in closed buckets since the process started.
    entries: BTreeMap<(String, String), Floored>,
    /// (camera, zone) → the most people inside at once in the latest closed bucket; `None` when
    /// under the floor or the bucket had no pass.
    occupancy: BTreeMap<(String, String), Option<u64>>,
    /// camera → end of its latest closed bucket, ms since the epoch.
    bucket_end: BTreeMap<String, u64>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Takes the buckets a camera just closed, with the privacy floor `min_count` (0: none).
    pub fn record_closed(&self, closed: &Closed, min_count: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for bucket in &closed.lines {
            let key = (bucket.camera.clone(), bucket.line.clone());
            let [inn, out] = state.crossings.entry(key).or_default();
            inn.add(bucket.in_count, min_count);
            out.add(bucket.out_count, min_count);
            let end = state.bucket_end.entry(bucket.camera.clone()).or_default();
            *end = (*end).max(bucket.end_ms);
        }
        for bucket in &closed.zones {
            let key = (bucket.camera.clone(), bucket.zone.clone());
            state.entries.entry(key.clone()).or_default().add(bucket.entries, min_count);
            let max = bucket.occupancy_max.filter(|&max| max >= min_count);
            state.occupancy.insert(key, max);
            let end = state.bucket_end.entry(bucket.camera.clone()).or_default();
            *end = (*end).max(bucket.end_ms);
        }
    }

    /// Adds text rendered at every scrape, after the counts: complete metric families (HELP,
    /// TYPE, samples) with names of their own.
    pub fn add_section(&self, render: impl Fn() -> String + Send + Sync + 'static) {
        self.sections.lock().unwrap_or_else(PoisonError::into_inner).0.push(Box::new(render));
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::from(
            "# HELP obscura_line_crossings_total People crossing a counting line, by direction, in closed \
             count buckets (advances when a bucket closes, in steps of at least min_count).\n\
             # TYPE obscura_line_crossings_total counter\n",
        );
        for ((camera, line), [inn, out]) in &state.crossings {
            for (direction, value) in [("in", inn.shown), ("out", out.shown)] {
                text += &format!(
                    "obscura_line_crossings_total{{camera=\"{}\",line=\"{}\",direction=\"{direction}\"}} {value}\n",
                    escape(camera),
                    escape(line)
                );
            }
        }
        text += "# HELP obscura_zone_entries_total People entering a zone, in closed count buckets (advances \
                 when a bucket closes, in steps of at least min_count).\n\
                 # TYPE obscura_zone_entries_total counter\n";
        for ((camera, zone), entries) in &state.entries {
            text += &format!(
                "obscura_zone_entries_total{{camera=\"{}\",zone=\"{}\"}} {}\n",
                escape(camera),
                escape(zone),
                entries.shown
            );
        }
        text += "# HELP obscura_zone_occupancy_max The most people inside a zone at once during the latest \
                 closed count bucket (absent under min_count).\n\
                 # TYPE obscura_zone_occupancy_max gauge\n";
        for ((camera, zone), value) in &state.occupancy {
            if let Some(value) = value {
                text += &format!(
                    "obscura_zone_occupancy_max{{camera=\"{}\",zone=\"{}\"}} {value}\n",
                    escape(camera),
                    escape(zone)
                );
            }
        }
        text += "# HELP obscura_counts_bucket_end_seconds End of the latest closed count bucket of a camera \
                 (the time the count figures are up to), seconds since the epoch.\n\
                 # TYPE obscura_counts_bucket_end_seconds gauge\n";
        for (camera, end_ms) in &state.bucket_end {
            text += &format!(
                "obscura_counts_bucket_end_seconds{{camera=\"{}\"}} {}\n",
                escape(camera),
                end_ms / 1000
            );
        }
        drop(state);
        for section in &self.sections.lock().unwrap_or_else(PoisonError::into_inner).0 {
            text += &section();
        }
        text
    }

    /// Serves `GET /metrics` on `addr` from a background thread, for as long as the process runs.
    /// Only loopback addresses are accepted: counts leave the box through a scraper the owner runs.
    pub fn serve(self: &Arc<Self>, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{addr}: the metrics server listens on a loopback address only (127.0.0.1 or ::1)"),
            ));
        }
        let listener = TcpListener::bind(addr)?;
        let bound = listener.local_addr()?;
        let metrics = Arc::clone(self);
        std::thread::Builder::new().name("metrics".into()).spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = respond(&metrics, stream);
            }
        })?;
        Ok(bound)
    }
}

fn respond(metrics: &Metrics, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request_line = String::new();
    let mut reader = BufReader::new(stream.try_clone()?);
    reader.read_line(&mut request_line)?;
    // Drain the headers.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics.render()),
        ("GET", _) => ("404 Not Found", "text/plain; charset=utf-8", "not found: try /metrics\n".to_owned()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n".to_owned()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// Label values escaped as Prometheus wants (backslash, quote, newline).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::{LineBucket, ZoneBucket};
    use std::io::Read;

    #[test]
    fn sections_follow_the_counts() {
        let metrics = Metrics::new();
        metrics.add_section(|| "# TYPE obscura_up gauge\nobscura_up 1\n".to_owned());
        let text = metrics.render();
        assert!(
            text.ends_with("obscura_counts_bucket_end_seconds gauge\n# TYPE obscura_up gauge\nobscura_up 1\n"),
            "{text}"
        );
    }

    fn line(start_ms: u64, inn: u64, out: u64) -> LineBucket {
        LineBucket {
            camera: "entrance".into(),
            line: "door".into(),
            start_ms,
            end_ms: start_ms + 60_000,
            passes: 100,
            in_count: inn,
            out_count: out,
        }
    }

    fn zone(start_ms: u64, entries: u64, max: Option<u64>) -> ZoneBucket {
        ZoneBucket {
            camera: "entrance".into(),
            zone: "till".into(),
            start_ms,
            end_ms: start_ms + 60_000,
            passes: 100,
            entries,
            occupancy_min: max.map(|_| 0),
            occupancy_max: max,
            occupancy_mean: max.map(|m| m as f64 / 2.0),
            dwell: Vec::new(),
        }
    }

    fn sample(text: &str, series: &str) -> Option<u64> {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn counters_move_only_by_closed_buckets_and_in_steps_of_the_floor() {
        let metrics = Metrics::new();
        let door_in = "obscura_line_crossings_total{camera=\"entrance\",line=\"door\",direction=\"in\"}";
        let door_out = "obscura_line_crossings_total{camera=\"entrance\",line=\"door\",direction=\"out\"}";
        let entries = "obscura_zone_entries_total{camera=\"entrance\",zone=\"till\"}";
        let occupancy = "obscura_zone_occupancy_max{camera=\"entrance\",zone=\"till\"}";
        assert_eq!(sample(&metrics.render(), door_in), None, "nothing before a bucket closes");
        // min_count 3: one person in the first bucket is held back.
        metrics.record_closed(&Closed { lines: vec![line(0, 1, 4)], zones: vec![zone(0, 1, Some(2))] }, 3);
        let text = metrics.render();
        assert_eq!((sample(&text, door_in), sample(&text, door_out)), (Some(0), Some(4)));
        assert_eq!((sample(&text, entries), sample(&text, occupancy)), (Some(0), None));
        assert_eq!(sample(&text, "obscura_counts_bucket_end_seconds{camera=\"entrance\"}"), Some(60));
        // Two more: the held one is released with them, in one step of 3.
        metrics.record_closed(&Closed { lines: vec![line(60_000, 2, 0)], zones: vec![zone(60_000, 5, Some(3))] }, 3);
        let text = metrics.render();
        assert_eq!((sample(&text, door_in), sample(&text, door_out)), (Some(3), Some(4)));
        assert_eq!((sample(&text, entries), sample(&text, occupancy)), (Some(6), Some(3)));
        // Without a floor every closed bucket shows at once.
        let open = Metrics::new();
        open.record_closed(&Closed { lines: vec![line(0, 1, 0)], zones: vec![] }, 0);
        assert_eq!(sample(&open.render(), door_in), Some(1));
    }

    #[test]
    fn serves_the_figures_over_http_on_loopback_only() {
        let metrics = Metrics::new();
        metrics.record_closed(&Closed { lines: vec![line(0, 12, 9)], zones: vec![zone(0, 4, Some(3))] }, 0);
        let addr = metrics.serve("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(stream, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.contains(
            "obscura_line_crossings_total{camera=\"entrance\",line=\"door\",direction=\"in\"} 12\n"
        ));
        assert!(response.contains(
            "obscura_line_crossings_total{camera=\"entrance\",line=\"door\",direction=\"out\"} 9\n"
        ));
        assert!(response.contains("obscura_zone_occupancy_max{camera=\"entrance\",zone=\"till\"} 3\n"));
        assert!(metrics.serve("0.0.0.0:0".parse().unwrap()).is_err(), "loopback only");
    }
}
