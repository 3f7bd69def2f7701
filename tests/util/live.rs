//! A real RTSP server on a free 127.0.0.1 port (`scripts/rtsp-test-server`, gst-rtsp-server from
//! Debian's packages, installed by `scripts/setup`), and a real `obscura run` watched through its
//! HTTP API.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released: good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The RTSP test server, serving a file at `rtsp://127.0.0.1:PORT/cam`.
pub struct RtspServer {
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl RtspServer {
    /// Serves `file` (H.264 MP4); `extra` adds server flags (`--h265`, `--user U --password P`).
    pub fn start(file: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let mut args =
            vec!["--port".to_owned(), port.to_string(), "--file".to_owned(), file.display().to_string()];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut server = Self { port, args, child: None };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/cam", self.port)
    }

    /// (Re)starts the server on the same port; returns once it listens.
    pub fn restart(&mut self) {
        let script = super::root().join("scripts/rtsp-test-server");
        let started = Instant::now();
        loop {
            let mut child = Command::new("/usr/bin/python3")
                .arg(&script)
                .args(&self.args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("the RTSP test server starts (scripts/setup installs gst-rtsp-server)");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            if line.starts_with("ready") {
                self.child = Some(child);
                return;
            }
            // The port may still be held by the killed server's socket for a moment.
            let _ = child.wait();
            assert!(started.elapsed() < Duration::from_secs(20), "the RTSP test server listens");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the server outright (a camera losing power).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (e.g. "USR1": stall, "USR2": resume).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success());
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running `obscura run`, its stderr going to a file.
pub struct Service {
    pub child: Child,
    pub http: u16,
    pub log: PathBuf,
}

impl Service {
    /// Starts `obscura run --config CONFIG`; `http` is the port of its `[http] listen`.
    pub fn start(config: &Path, http: u16) -> Self {
        let log = config.with_extension("log");
        let child = Command::new(env!("CARGO_BIN_EXE_obscura"))
            .args(["run", "-v", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { child, http, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path` on the service's HTTP server: the body, if it answered.
    pub fn get(&self, path: &str) -> Option<String> {
        Some(self.request(path, &[])?.1)
    }

    /// `GET path` with extra `headers` (`"Name: value"`): the status code and the body as text.
    pub fn request(&self, path: &str, headers: &[&str]) -> Option<(u16, String)> {
        let (status, body) = self.request_bytes(path, headers)?;
        Some((status, String::from_utf8(body).ok()?))
    }

    /// `GET path` with extra `headers`: the status code and the body's bytes.
    pub fn request_bytes(&self, path: &str, headers: &[&str]) -> Option<(u16, Vec<u8>)> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.http)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n").ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).ok()?;
        let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, response[split + 4..].to_vec()))
    }

    /// The `/api/cameras` entry of `camera`.
    pub fn camera(&self, camera: &str) -> Option<serde_json::Value> {
        let body: serde_json::Value = serde_json::from_str(&self.get("/api/cameras")?).ok()?;
        body["cameras"].as_array()?.iter().find(|c| c["name"] == camera).cloned()
    }

    /// Waits up to `limit` for `check` on `camera`'s entry to hold; returns the entry.
    pub fn wait_for(
        &mut self,
        camera: &str,
        limit: Duration,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let started = Instant::now();
        loop {
            if let Some(entry) = self.camera(camera)
                && check(&entry)
            {
                return entry;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("obscura ended ({status}) before {what}: {}", self.log());
            }
            assert!(
                started.elapsed() < limit,
                "{what}: not within {} s; camera {camera}: {:?}\n{}",
                limit.as_secs(),
                self.camera(camera),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `signal` ("TERM", "HUP", …).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success());
    }

    /// Waits for the process to end, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < limit, "obscura ended within {} s: {}", limit.as_secs(), self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The frames decoded so far by a camera, from its `/api/cameras` entry.
pub fn frames(entry: &serde_json::Value) -> u64 {
    entry["frames"].as_u64().unwrap_or(0)
}
