//! `obscura run` with live cameras: a real RTSP server (gst-rtsp-server) on 127.0.0.1, killed,
//! restarted and stalled under it; the service watched through its HTTP API.

use std::time::{Duration, Instant};

use crate::util::live::{RtspServer, Service, frames, free_port};
use crate::util::*;

/// A config with one `[http]` listener and `cameras` (TOML `[[camera]]` tables), counting into
/// `counts.sqlite` in 1-minute buckets. The person detector's tiles are fixed: these tests are
/// about the service, and the sample's small people would make a debug build's adaptive tiling
/// detect at a quarter of the rate (tests/detect.rs covers that).
fn config(dir: &std::path::Path, http: u16, cameras: &str) -> std::path::PathBuf {
    let path = dir.join("obscura.toml");
    let text = format!(
        "[http]\nlisten = \"127.0.0.1:{http}\"\n\n[detector]\nperson_tiles = [2, 1]\n\n[counts]\nbucket = \"1m\"\n\
         sqlite = \"counts.sqlite\"\n\n{cameras}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A live camera table: `url`, a 2-second watchdog, counting people on a vertical line.
fn live_camera(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[[camera]]\nname = \"{name}\"\nsource = \"{url}\"\n[camera.redact]\ntarget = \"frame\"\n\
         [camera.rtsp]\nwatchdog = \"2s\"\nconnect_timeout = \"10s\"\n{extra}\n\
         [[camera.line]]\nname = \"middle\"\nfrom = [0.5, 0.0]\nto = [0.5, 1.0]\n\n"
    )
}

/// (passes, rows) of a camera's line buckets in the store.
fn stored_passes(db: &std::path::Path, camera: &str) -> (i64, usize) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT passes FROM line_buckets WHERE camera = ?1").unwrap();
    let passes: Vec<i64> = stmt.query_map([camera], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    (passes.iter().sum(), passes.len())
}

fn streaming(min_frames: u64) -> impl Fn(&serde_json::Value) -> bool {
    move |c| c["state"] == "streaming" && frames(c) >= min_frames
}

/// The server is killed (a camera losing power) and restarted: the camera goes to backoff and
/// streams again within 5 s of the server's return; counting goes on in the same bucket; SIGTERM
/// then ends the service with exit 0 and the open bucket written.
#[test]
fn a_camera_that_goes_away_is_reconnected_and_sigterm_ends_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = RtspServer::start(&sample(), &[]);
    let http = free_port();
    // A file camera beside the live one: it ends by itself, its video complete, while the live
    // camera goes on.
    let clip = sample_clip(dir.path(), 20);
    let file = format!(
        "[[camera]]\nname = \"recording\"\nsource = \"{}\"\n[camera.redact]\ntarget = \"frame\"\n\
         [camera.output]\nvideo = \"recording.mp4\"\n\n",
        str(&clip)
    );
    let config = config(dir.path(), http, &(live_camera("door", &server.url(), "") + &file));
    let mut service = Service::start(&config, http);
    let before = service.wait_for("door", Duration::from_secs(60), "the camera streams", streaming(30));
    assert_eq!(before["reconnects"], 0, "{before}");
    // The stream declares the film's 29.97 fps: counting's passes every 0.12 s would be every 4th
    // frame; they are never more than 3 frames apart.
    assert_eq!(before["privacy"]["detect_every"], 3, "{before}");
    assert!(before["privacy"]["frames_detection_put_off"].is_u64(), "{before}");
    assert!(before["privacy"]["frames_bridged"].is_u64(), "{before}");

    server.kill();
    service
        .wait_for("door", Duration::from_secs(15), "the camera is seen down", |c| c["state"] != "streaming");
    std::thread::sleep(Duration::from_millis(1500));
    server.restart();
    let back = Instant::now();
    let seen = frames(&service.camera("door").unwrap());
    let after = service.wait_for("door", Duration::from_secs(30), "frames flow again", |c| {
        c["state"] == "streaming" && frames(c) > seen + 5
    });
    let took = back.elapsed();
    eprintln!("streaming again {:.1} s after the server's return", took.as_secs_f64());
    assert!(
        took <= Duration::from_secs(5),
        "streaming again {:.1} s after the server's return",
        took.as_secs_f64()
    );
    assert!(
        took <= Duration::from_secs(6),
        "streaming again {:.1} s after the server's return",
        took.as_secs_f64()
    );
    assert!(after["reconnects"].as_u64().unwrap() >= 1, "{after}");
    let metrics = service.get("/metrics").unwrap();
    for series in [
        "obscura_camera_up{camera=\"door\"} 1",
        "obscura_camera_frames_dropped_total{camera=\"door\",reason=\"queue_full\"}",
        "obscura_camera_frames_fail_closed_total{camera=\"door\",reason=\"stale\"}",
        "obscura_detection_seconds_count{camera=\"door\"}",
    ] {
        assert!(metrics.contains(series), "{series} in\n{metrics}");
    }
    assert!(metrics.contains("obscura_camera_reconnects_total{camera=\"door\"} "), "{metrics}");

    std::thread::sleep(Duration::from_secs(1));
    let stop = Instant::now();
    service.signal("TERM");
    let status = service.wait(Duration::from_secs(15));
    let log = service.log();
    assert!(status.success(), "SIGTERM ends the service with exit 0: {status}\n{log}");
    assert!(stop.elapsed() < Duration::from_secs(10), "in a few seconds: {:?}", stop.elapsed());
    // One state line per change, not one per retry.
    assert!(log.contains("camera door: backoff"), "{log}");
    let (passes, rows) = stored_passes(&dir.path().join("counts.sqlite"), "door");
    // One bucket through the reconnect (two if the run straddled a minute), with the passes of
    // both connections.
    assert!(
        (1..=2).contains(&rows) && passes >= 10,
        "the open bucket was closed and written at SIGTERM: {rows} rows, {passes} passes\n{log}"
    );
    assert!(files_in(dir.path()).iter().all(|f| !f.ends_with(".part")), "{:?}", files_in(dir.path()));
    let frames_in_clip = timestamps(&clip).len();
    assert!(
        log.contains(&format!("camera recording: {frames_in_clip} frames")),
        "the file camera ended by itself: {log}"
    );
    assert_eq!(timestamps(&dir.path().join("recording.mp4")).len(), timestamps(&clip).len());
    assert!(dir.path().join("recording.mp4.privacy.json").exists());
}

/// A camera that keeps its session open but stops sending (no EOS, no error) is caught by the
/// watchdog and reconnected; frames flow once it sends again.
#[test]
fn a_stalled_stream_is_detected_and_reconnected() {
    let dir = tempfile::tempdir().unwrap();
    let server = RtspServer::start(&sample(), &[]);
    let http = free_port();
    let config = config(dir.path(), http, &live_camera("yard", &server.url(), ""));
    let mut service = Service::start(&config, http);
    service.wait_for("yard", Duration::from_secs(60), "the camera streams", streaming(30));
    server.signal("USR1");
    service.wait_for("yard", Duration::from_secs(15), "the stall is caught", |c| {
        c["state"] != "streaming" && c["reconnects"].as_u64() >= Some(1)
    });
    server.signal("USR2");
    let seen = frames(&service.camera("yard").unwrap());
    service.wait_for("yard", Duration::from_secs(30), "frames flow again", |c| {
        c["state"] == "streaming" && frames(c) > seen + 5
    });
    assert!(service.log().contains("stalled"), "the log says why: {}", service.log());
}

/// Two cameras, one dead from the start: the other streams undisturbed; SIGHUP adds a third
/// camera from the rewritten config; a bad config on SIGHUP is refused and the running one kept.
#[test]
fn a_dead_camera_leaves_the_others_alone_and_sighup_adds_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = RtspServer::start(&sample(), &[]);
    let http = free_port();
    let dead = format!("rtsp://127.0.0.1:{}/cam", free_port());
    let two = live_camera("alive", &server.url(), "") + &live_camera("dead", &dead, "");
    let config = config(dir.path(), http, &two);
    let mut service = Service::start(&config, http);
    service.wait_for("alive", Duration::from_secs(60), "the live camera streams", streaming(60));
    let dead_entry = service.wait_for("dead", Duration::from_secs(20), "the dead camera retries", |c| {
        c["reconnects"].as_u64() >= Some(2)
    });
    assert_ne!(dead_entry["state"], "streaming");
    let alive = service.camera("alive").unwrap();
    assert_eq!(alive["reconnects"], 0, "the other camera is unaffected: {alive}");
    assert!(alive["fps"].as_f64().unwrap() > 10.0, "{alive}");

    // A broken config is refused with its errors; everything keeps running.
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, good.clone() + "[[camera]]\nname = \"alive\"\n").unwrap();
    service.signal("HUP");
    let started = Instant::now();
    while !service.log().contains("reload refused") {
        assert!(started.elapsed() < Duration::from_secs(10), "{}", service.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(service.log().contains("duplicate camera name"), "{}", service.log());
    // Adding a camera.
    std::fs::write(&config, good + &live_camera("added", &server.url(), "")).unwrap();
    service.signal("HUP");
    service.wait_for("added", Duration::from_secs(60), "the added camera streams", streaming(30));
    assert_eq!(service.camera("alive").unwrap()["reconnects"], 0, "reloading left the others alone");
    service.signal("TERM");
    assert!(service.wait(Duration::from_secs(15)).success(), "{}", service.log());
}

/// Credentials from a file (not in the URL), H.265: the camera streams, and neither the password
/// nor a URL's credentials are ever printed; a wrong password is an error that does not show it.
#[test]
fn h265_with_credentials_from_a_file_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let server = RtspServer::start(&sample(), &["--h265", "--user", "viewer", "--password", "pa55-w0rd"]);
    std::fs::write(dir.path().join("cam.secret"), "pa55-w0rd\n").unwrap();
    std::fs::write(dir.path().join("wrong.secret"), "n0t-the-pa55\n").unwrap();
    let http = free_port();
    let cameras = live_camera("hevc", &server.url(), "user = \"viewer\"\npassword_file = \"cam.secret\"")
        + &live_camera("wrong", &server.url(), "user = \"viewer\"\npassword_file = \"wrong.secret\"");
    let config = config(dir.path(), http, &cameras);
    let mut service = Service::start(&config, http);
    service.wait_for("hevc", Duration::from_secs(60), "the H.265 camera streams", streaming(30));
    service.wait_for("wrong", Duration::from_secs(30), "the wrong password is refused", |c| {
        c["reconnects"].as_u64() >= Some(1)
    });
    service.signal("TERM");
    assert!(service.wait(Duration::from_secs(15)).success(), "{}", service.log());
    let log = service.log();
    assert!(!log.contains("pa55-w0rd") && !log.contains("n0t-the-pa55"), "passwords never printed:\n{log}");
}

/// `GET /api/counts` on a running service reads the SQLite store: buckets rolled up to hours,
/// floored at `min_count`, as JSON or CSV (by `Accept` or `format`), and a bad query is a 400 with
/// its reason, never a 500.
#[test]
fn counts_api_serves_the_store_rolled_up_floored_and_as_csv() {
    use obscura::count::{Closed, LineBucket};
    let dir = tempfile::tempdir().unwrap();
    // Two hours of 1-minute buckets from an earlier run: in = minute number, out = 1.
    const T0: u64 = 1_795_341_600_000; // 2026-11-22T10:00:00Z
    let mut closed = Closed::default();
    for i in 0..120u64 {
        closed.lines.push(LineBucket {
            camera: "door".into(),
            line: "middle".into(),
            start_ms: T0 + i * 60_000,
            end_ms: T0 + (i + 1) * 60_000,
            passes: 10,
            in_count: i,
            out_count: 1,
        });
    }
    obscura::sink::CountDb::open(&dir.path().join("counts.sqlite")).unwrap().write(&closed).unwrap();
    let server = RtspServer::start(&sample(), &[]);
    let http = free_port();
    let path = dir.path().join("obscura.toml");
    let text = format!(
        "[http]\nlisten = \"127.0.0.1:{http}\"\n\n[detector]\nperson_tiles = [2, 1]\n\n[counts]\nbucket = \"1m\"\n\
         min_count = 2\nsqlite = \"counts.sqlite\"\n\n{}",
        live_camera("door", &server.url(), "")
    );
    std::fs::write(&path, text).unwrap();
    let mut service = Service::start(&path, http);
    service.wait_for("door", Duration::from_secs(30), "the camera streams", streaming(1));
    let range = "camera=door&line=middle&from=2026-11-22T10:00:00Z&to=2026-11-22T12:00:00Z";

    let (status, body) = service.request(&format!("/api/counts?{range}&bucket=1h"), &[]).unwrap();
    assert_eq!(status, 200, "{body}");
    let counts: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(counts["bucket_s"], 3600, "{counts}");
    assert!(counts["zones"].as_array().unwrap().is_empty(), "{counts}");
    let hours = counts["lines"].as_array().unwrap();
    assert_eq!(hours.len(), 2, "{counts}");
    assert_eq!(hours[0]["start"], "2026-11-22T10:00:00Z");
    assert_eq!(hours[0]["passes"], 600);
    assert_eq!((hours[0]["in"].as_u64(), hours[0]["out"].as_u64()), (Some(1770), Some(60)), "Σ 0..59");
    assert_eq!(hours[1]["in"], 5370, "Σ 60..119");

    // Unrolled minutes are floored: 0 and 1 crossings show as "<2".
    let (_, body) = service.request(&format!("/api/counts?{range}"), &[]).unwrap();
    let minutes: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(minutes["lines"].as_array().unwrap().len(), 120);
    assert_eq!(minutes["lines"][0]["in"], "<2");
    assert_eq!(minutes["lines"][1]["out"], "<2");
    assert_eq!(minutes["lines"][2]["in"], 2);

    // CSV by Accept, or by format.
    for (query, headers) in [("bucket=1h", vec!["Accept: text/csv"]), ("bucket=1h&format=csv", vec![])] {
        let (status, csv) = service.request(&format!("/api/counts?{range}&{query}"), &headers).unwrap();
        assert_eq!(status, 200, "{csv}");
        assert!(csv.starts_with("kind,camera,name,start,end,passes,in,out,"), "{csv}");
        assert!(
            csv.contains("line,door,middle,2026-11-22T10:00:00Z,2026-11-22T11:00:00Z,600,1770,60,"),
            "{csv}"
        );
    }

    // Bad queries: 400 with the reason.
    for (query, reason) in [
        ("bucket=7m", "must divide a day"),
        ("bucket=0m", "is not a length"),
        ("from=yesterday", "is not a time"),
        ("color=red", "unknown field"),
        ("format=xml", "not json or csv"),
        ("from=2026-11-22T12:00:00Z&to=2026-11-22T10:00:00Z", "must be after"),
    ] {
        let (status, body) = service.request(&format!("/api/counts?{query}"), &[]).unwrap();
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(reason), "{query}: {body}");
    }

    // The OpenAPI document describes what the server does: every documented path answers with a
    // documented status, every documented /api/counts parameter is accepted.
    let (status, body) = service.request("/api/openapi.json", &[]).unwrap();
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        // GET routes only (PUT /api/cameras/{name}/geometry is the dashboard's, tested there).
        let Some(documented) = item["get"]["responses"].as_object() else { continue };
        let url = path.replace("{name}", "door");
        let (status, _) = service.request(&url, &[]).unwrap();
        assert!(documented.contains_key(&status.to_string()), "{path}: {status} is not documented");
    }
    let valid = [
        ("camera", "door"),
        ("line", "middle"),
        ("zone", "till"),
        ("from", "2026-11-22"),
        ("to", "1795345200000"),
        ("bucket", "1d"),
        ("format", "csv"),
    ];
    let params = paths["/api/counts"]["get"]["parameters"].as_array().unwrap();
    assert_eq!(params.len(), valid.len());
    for param in params {
        let name = param["name"].as_str().unwrap();
        let value = valid.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("{name} untested")).1;
        let (status, body) = service.request(&format!("/api/counts?{name}={value}"), &[]).unwrap();
        assert_eq!(status, 200, "{name}={value}: {body}");
    }
    service.signal("TERM");
    assert!(service.wait(Duration::from_secs(15)).success(), "{}", service.log());
}

/// `GET /api/cameras/{name}/snapshot.jpg` is the latest *redacted* frame: with the whole frame
/// filled red, every pixel of the JPEG is red; `h` sets its height; an unknown camera is a 404,
/// a bad `h` a 400.
#[test]
fn the_snapshot_is_the_latest_redacted_frame() {
    let dir = tempfile::tempdir().unwrap();
    let server = RtspServer::start(&sample(), &[]);
    let http = free_port();
    let camera = "[[camera]]\nname = \"door\"\nsource = \"URL\"\n[camera.redact]\ntarget = \"frame\"\n\
                  method = \"fill\"\nfill_color = \"#ff0000\"\n[camera.rtsp]\nwatchdog = \"2s\"\n\n"
        .replace("URL", &server.url());
    let path = dir.path().join("obscura.toml");
    std::fs::write(&path, format!("[http]\nlisten = \"127.0.0.1:{http}\"\n\n{camera}")).unwrap();
    let mut service = Service::start(&path, http);
    service.wait_for("door", Duration::from_secs(30), "the camera streams", streaming(10));
    let (status, jpeg) = service.request_bytes("/api/cameras/door/snapshot.jpg?h=120", &[]).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&jpeg));
    let image = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap().to_rgb8();
    assert_eq!(image.height(), 120);
    assert_eq!(image.width(), 213, "the sample's 16:9 kept");
    for p in image.pixels() {
        assert!(p[0] > 200 && p[1] < 60 && p[2] < 60, "every pixel filled red, got {p:?}");
    }
    for (query, code) in [
        ("/api/cameras/nobody/snapshot.jpg", 404),
        ("/api/cameras/door/snapshot.jpg?h=5", 400),
        ("/api/cameras/door/snapshot.jpg?h=tall", 400),
        ("/api/cameras/door/snapshot.jpg?w=100", 400),
    ] {
        assert_eq!(service.request_bytes(query, &[]).unwrap().0, code, "{query}");
    }
    service.signal("TERM");
    assert!(service.wait(Duration::from_secs(15)).success(), "{}", service.log());
}

/// A fuzzing pass over the API (`scripts/api-fuzz`: schemathesis from PyPI against
/// `/api/openapi.json`) on a running service with a count store and a live camera, behind a
/// token on a non-loopback bind: no answer is a server error, every status and content type is
/// the documented one. Without the token everything but `/healthz` is a 401 and says nothing.
#[test]
fn the_api_survives_a_fuzzing_pass_and_enforces_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = RtspServer::start(&sample(), &[]);
    let http = free_port();
    std::fs::write(dir.path().join("token"), "s3cret-token\n").unwrap();
    let path = dir.path().join("obscura.toml");
    let text = format!(
        "[http]\nlisten = \"0.0.0.0:{http}\"\ntoken_file = \"token\"\n\n[detector]\nperson_tiles = [2, 1]\n\n\
         [counts]\nbucket = \"15m\"\nmin_count = 3\nsqlite = \"counts.sqlite\"\n\n{}",
        live_camera("door", &server.url(), "")
    );
    std::fs::write(&path, text).unwrap();
    let mut service = Service::start(&path, http);
    let deadline = Instant::now() + Duration::from_secs(30);
    while service.request("/healthz", &[]).is_none_or(|(s, _)| s != 200) {
        assert!(Instant::now() < deadline, "the service did not start: {}", service.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    for path in
        ["/metrics", "/api/cameras", "/api/counts", "/api/openapi.json", "/api/cameras/door/snapshot.jpg"]
    {
        let (status, body) = service.request(path, &[]).unwrap();
        assert_eq!((status, body.as_str()), (401, ""), "{path} without the token");
        let (status, _) = service.request(path, &["Authorization: Bearer wrong"]).unwrap();
        assert_eq!(status, 401, "{path} with a wrong token");
    }
    let fuzz = std::process::Command::new(root().join("scripts/api-fuzz"))
        .args([&format!("http://127.0.0.1:{http}"), "s3cret-token"])
        .output()
        .expect("scripts/api-fuzz runs");
    let report = String::from_utf8_lossy(&fuzz.stdout).into_owned() + &String::from_utf8_lossy(&fuzz.stderr);
    assert!(fuzz.status.success(), "{report}\n{}", service.log());
    assert!(report.contains("/api/counts"), "{report}");
    // What was tried, in the test log.
    if let Some(summary) = report.split("Performed checks:").nth(1) {
        eprintln!("api-fuzz:{}", summary.lines().take(5).collect::<Vec<_>>().join("\n"));
    }
    service.signal("TERM");
    assert!(service.wait(Duration::from_secs(15)).success(), "{}", service.log());
}
