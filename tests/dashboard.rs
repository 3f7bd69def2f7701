//! The web dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core
//! (`tests/browser/dashboard.mjs`, installed by `scripts/setup`) against a real `obscura run`
//! with a live camera on the RTSP test server and a recorded one whose counts are in the store.
//! Screenshots of every page are kept under the target folder
//! (`tmp/dashboard-screenshots/`) as the test's artefacts.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::live::{RtspServer, Service, free_port};
use crate::util::*;

/// Overview, counts chart against the store, the editor drawing a line that then counts, a clip
/// that plays, health, keyboard, labels and a narrow screen.
#[test]
fn the_dashboard_works_in_a_real_browser() {
    let browser = root().join("tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").exists() && Path::new("/usr/bin/chromium").exists(),
        "playwright-core and chromium are installed by scripts/setup"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = RtspServer::start(&sample(), &[]);
    let recording = sample_clip(dir.path(), 300);
    let http = free_port();
    // The recording starts 10 minutes ago (today, UTC), so its counts fall in today's chart.
    let now = obscura::stats::now_ms();
    let day_start = now - now % 86_400_000;
    let start = (now - 600_000).max(day_start);
    let start_time = obscura::clock::rfc3339(start);
    let day = &start_time[..10];
    let config = dir.path().join("obscura.toml");
    let text = format!(
        "# A shop's config: these comments must survive the dashboard's editor.\n\
         [http]\nlisten = \"127.0.0.1:{http}\" # loopback\n\n\
         [detector]\nperson_tiles = [2, 1]\n\n\
         [counts]\nbucket = \"1m\"\nsqlite = \"counts.sqlite\"\n\n\
         [[camera]]\nname = \"recorded\"\nsource = \"{}\"\nstart_time = {start_time}\n\
         [camera.redact]\ntarget = \"heads\"\n\
         [[camera.line]]\nname = \"middle\"\nfrom = [0.5, 0.0]\nto = [0.5, 1.0]\n\n\
         # The door camera.\n\
         [[camera]]\nname = \"door\"\nsource = \"{}\"\n\
         [camera.redact]\ntarget = \"heads\"\nmethod = \"pixelate\"\n\
         [camera.rtsp]\nwatchdog = \"3s\"\n\
         [camera.clips]\npre = \"1s\"\npost = \"1s\"\nmax_length = \"10s\"\n\
         # The line through the middle of the street.\n\
         [[camera.line]]\nname = \"middle\"\nfrom = [0.5, 0.0]\nto = [0.5, 1.0]\n",
        str(&recording),
        server.url()
    );
    std::fs::write(&config, text).unwrap();
    let mut service = Service::start(&config, http);
    service.wait_for("recorded", Duration::from_secs(120), "the recording is counted", |c| {
        c["state"] == "stopped"
    });
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let run = Command::new("node")
        .arg(browser.join("dashboard.mjs"))
        .arg(format!("--url=http://127.0.0.1:{http}"))
        .arg(format!("--config={}", config.display()))
        .arg(format!("--out={}", shots.display()))
        .args(["--live=door", "--recorded=recorded", &format!("--day={day}")])
        .env("TZ", "UTC")
        .output()
        .expect("node runs (scripts/setup installs it)");
    let said = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{said}\n--- service log ---\n{}", service.log());
    eprintln!("{said}");
    for page in ["overview", "counts", "editor", "clips", "health", "overview-narrow"] {
        let shot = shots.join(format!("{page}.png"));
        assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000), "{} saved", shot.display());
    }
    assert!(
        service.log().contains("camera door: changed"),
        "the edit reloaded the camera: {}",
        service.log()
    );
    service.signal("TERM");
    assert!(service.wait(Duration::from_secs(30)).success(), "{}", service.log());
}
