//! Prometheus metrics, served as text at `GET /metrics` by a small HTTP server on a loopback
//! address: aggregate counts only (line crossings by direction, zone occupancy), never anything
//! about one person.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The figures `/metrics` shows, updated on every detection pass.
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

#[derive(Debug, Default)]
struct State {
    /// (camera, line) → crossings in, out since the process started.
    crossings: BTreeMap<(String, String), [u64; 2]>,
    /// (camera, zone) → people inside at the latest pass.
    occupancy: BTreeMap<(String, String), u64>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Sets a line's running totals.
    pub fn set_crossings(&self, camera: &str, line: &str, inn: u64, out: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.crossings.insert((camera.to_owned(), line.to_owned()), [inn, out]);
    }

    /// Sets a zone's current occupancy.
    pub fn set_occupancy(&self, camera: &str, zone: &str, people: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.occupancy.insert((camera.to_owned(), zone.to_owned()), people);
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
            "# HELP obscura_line_crossings_total People crossing a counting line, by direction.\n\
             # TYPE obscura_line_crossings_total counter\n",
        );
        for ((camera, line), [inn, out]) in &state.crossings {
            for (direction, value) in [("in", inn), ("out", out)] {
                text += &format!(
                    "obscura_line_crossings_total{{camera=\"{}\",line=\"{}\",direction=\"{direction}\"}} {value}\n",
                    escape(camera),
                    escape(line)
                );
            }
        }
        text += "# HELP obscura_zone_occupancy People inside a zone at the latest detection pass.\n\
                 # TYPE obscura_zone_occupancy gauge\n";
        for ((camera, zone), value) in &state.occupancy {
            text += &format!(
                "obscura_zone_occupancy{{camera=\"{}\",zone=\"{}\"}} {value}\n",
                escape(camera),
                escape(zone)
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
    use std::io::Read;

    #[test]
    fn sections_follow_the_counts() {
        let metrics = Metrics::new();
        metrics.add_section(|| "# TYPE obscura_up gauge\nobscura_up 1\n".to_owned());
        let text = metrics.render();
        assert!(
            text.ends_with("obscura_zone_occupancy gauge\n# TYPE obscura_up gauge\nobscura_up 1\n"),
            "{text}"
        );
    }

    #[test]
    fn serves_counters_and_gauges_over_http() {
        let metrics = Metrics::new();
        metrics.set_crossings("entrance", "door", 12, 9);
        metrics.set_occupancy("entrance", "till", 3);
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
        assert!(response.contains("obscura_zone_occupancy{camera=\"entrance\",zone=\"till\"} 3\n"));
        assert!(metrics.serve("0.0.0.0:0".parse().unwrap()).is_err(), "loopback only");
    }
}
