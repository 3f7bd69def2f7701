//! Event clips of a live camera (`[camera.clips]`): a real RTSP server on 127.0.0.1 serving real
//! footage in which people appear and leave, a real `obscura run`, the clips fetched through the
//! HTTP API and checked frame by frame.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use obscura::detect::{Detector, DetectorSettings, models_dir};
use obscura::geometry::Rect;
use obscura::redact::Target;
use obscura::source::{Decoded as Pulled, VideoDecoder};

use crate::util::live::{RtspServer, Service, free_port};
use crate::util::*;

/// Seconds of empty street before and after the people.
const EMPTY_BEFORE: u32 = 4;
const EMPTY_AFTER: u32 = 6;

/// A 640×480 25 fps clip: `EMPTY_BEFORE` s of an empty grey scene, TUD-Campus (71 frames of
/// people walking), `EMPTY_AFTER` s of the grey scene again; keyframes every second.
fn people_come_and_go(dir: &Path, eval: &Path) -> PathBuf {
    let out = dir.join("come-and-go.mp4");
    let grey = |secs: u32| format!("color=c=0x505050:s=640x480:r=25:d={secs}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &grey(EMPTY_BEFORE),
        "-i",
        str(&eval.join("TUD-Campus.mp4")),
        "-f",
        "lavfi",
        "-i",
        &grey(EMPTY_AFTER),
        "-filter_complex",
        "[1:v]fps=25,setsar=1,format=yuv420p[p];[0:v][p][2:v]concat=n=3:v=1:a=0,format=yuv420p[v]",
        "-map",
        "[v]",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-g",
        "25",
        "-an",
        str(&out),
    ]);
    out
}

/// `[http]`, `[counts]` and one live camera redacting heads filled magenta, recording clips with
/// 2 s of pre- and post-roll into `clips_dir`, counting on a vertical line; `extra` goes into
/// `[camera.clips]`.
fn config(dir: &Path, http: u16, url: &str, clips_dir: &str, extra: &str) -> PathBuf {
    let path = dir.join("obscura.toml");
    let text = format!(
        "[http]\nlisten = \"127.0.0.1:{http}\"\n\n[detector]\nperson_tiles = [1, 1]\n\n\
         [counts]\nbucket = \"1m\"\nsqlite = \"counts.sqlite\"\n\n\
         [[camera]]\nname = \"door\"\nsource = \"{url}\"\n\
         [camera.redact]\ntarget = \"heads\"\nmethod = \"fill\"\nfill_color = \"#ff00ff\"\n\
         [camera.rtsp]\nwatchdog = \"3s\"\n\
         [camera.clips]\ndir = \"{clips_dir}\"\non = [\"people\"]\npre = \"2s\"\npost = \"2s\"\n{extra}\n\
         [[camera.line]]\nname = \"middle\"\nfrom = [0.5, 0.0]\nto = [0.5, 1.0]\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The clips `/api/clips` lists.
fn listed(service: &Service) -> Vec<serde_json::Value> {
    service
        .get("/api/clips?camera=door")
        .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
        .and_then(|v| v["clips"].as_array().cloned())
        .unwrap_or_default()
}

/// Waits up to `limit` for a clip that `new` accepts (by file name) in `/api/clips`; returns
/// the list.
fn wait_for_clip(
    service: &mut Service,
    new: impl Fn(&str) -> bool,
    limit: Duration,
) -> Vec<serde_json::Value> {
    let started = Instant::now();
    loop {
        let clips = listed(service);
        if clips.iter().any(|c| new(c["file"].as_str().unwrap_or_default())) {
            return clips;
        }
        service.wait_for("door", Duration::from_secs(5), "the service runs", |_| true);
        assert!(
            started.elapsed() < limit,
            "a new clip within {} s: {clips:?}; camera: {:?}\n{}",
            limit.as_secs(),
            service.camera("door"),
            service.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn is_magenta(p: &[u8]) -> bool {
    p[0] > 170 && p[1] < 100 && p[2] > 170
}

/// Whether a frame has a mask on it: a patch of magenta fill (over a thousandth of the frame, so
/// that a few encoder-tinted pixels are not one).
fn has_mask(f: &Decoded) -> bool {
    let pixels = f.data.len() / 3;
    f.data.chunks(3).filter(|p| is_magenta(p)).count() * 1000 > pixels
}

/// Whether a frame is the empty grey scene: nearly every pixel that is not filled is grey (masks
/// held a moment after people leave, or put ahead of them, may be there).
fn is_empty_scene(f: &Decoded) -> bool {
    let open = f.data.chunks(3).filter(|p| !is_magenta(p));
    let (grey, all) =
        open.fold((0, 0), |(g, a), p| (g + usize::from(p.iter().all(|&c| (70..=90).contains(&c))), a + 1));
    grey * 100 >= all * 99
}

/// A clip appears when people appear, with 2 s (±1 s) of the empty scene before them and after
/// them, fetched whole and by byte range through the API, with its privacy report beside it and
/// no audio or metadata. Every frame is redacted: the detectors, run again on the clip, find
/// every head inside the magenta fill (and no face outside it). Retention by size deletes the
/// oldest clips (planted before the start) to make room.
#[test]
fn a_clip_of_redacted_frames_is_written_when_people_appear() {
    let Some(eval) = shared_eval("tud-campus") else { return };
    let dir = tempfile::tempdir().unwrap();
    let video = people_come_and_go(dir.path(), &eval);
    // Three old clips of 400 kB: with 1 MB allowed, the oldest go at the start and after the new clip.
    let clips_dir = dir.path().join("clips");
    std::fs::create_dir_all(&clips_dir).unwrap();
    let old: Vec<String> = (0..3u64)
        .map(|i| {
            let start = 1_700_000_000_000 + i * 60_000;
            let name = obscura::clips::clip_name("door", start, start + 10_000, "people");
            std::fs::write(clips_dir.join(&name), vec![0u8; 400_000]).unwrap();
            name
        })
        .collect();
    let server = RtspServer::start(&video, &[]);
    let http = free_port();
    let config = config(dir.path(), http, &server.url(), "clips", "max_size = \"1MB\"\n");
    let mut service = Service::start(&config, http);
    let is_new = |file: &str| !old.iter().any(|o| o == file);
    let clips = wait_for_clip(&mut service, is_new, Duration::from_secs(60));
    let new: Vec<_> = clips.iter().filter(|c| is_new(c["file"].as_str().unwrap())).collect();
    assert_eq!(new.len(), 1, "one new clip: {clips:?}");
    let clip = new[0];
    assert_eq!(clip["reason"], "people");
    // Retention (1 MB, oldest first): the oldest planted clip went at the start (3 × 400 kB >
    // 1 MB); the new clip then pushed out as many of the next as it takes to fit. How many depends
    // on the new clip's size, that is on how many frames a loaded machine kept live.
    let size = clip["size"].as_u64().unwrap();
    let kept = [false, 800_000 + size <= 1_000_000, 400_000 + size <= 1_000_000];
    let started = Instant::now();
    while clips_dir.join(&old[1]).exists() != kept[1] && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let present: Vec<bool> = old.iter().map(|o| clips_dir.join(o).exists()).collect();
    assert_eq!(present, kept, "new clip of {size} bytes: {:?}", files_in(&clips_dir));
    let total: u64 = present.iter().filter(|&&p| p).count() as u64 * 400_000 + size;
    assert!(total <= 1_000_000, "{total} bytes kept");

    let url = clip["url"].as_str().unwrap();
    let (status, bytes) = service.request_bytes(url, &[]).unwrap();
    assert_eq!(status, 200);
    assert_eq!(bytes.len() as u64, clip["size"].as_u64().unwrap());
    let (status, part) = service.request_bytes(url, &["Range: bytes=100-199"]).unwrap();
    assert_eq!((status, part.as_slice()), (206, &bytes[100..200]));
    let file = dir.path().join("fetched.mp4");
    std::fs::write(&file, &bytes).unwrap();
    let name = clip["file"].as_str().unwrap();
    assert!(clips_dir.join(format!("{name}.privacy.json")).exists(), "its privacy report beside it");
    let streams = probe(&file);
    assert!(!streams.contains("audio") && !streams.contains("creation_time"), "{streams}");
    service.signal("TERM");
    assert!(service.wait(Duration::from_secs(30)).success(), "{}", service.log());

    // Pre- and post-roll: the empty scene before and after the people.
    let frames = decode_all(&file, "RGB");
    let secs = |f: &Decoded| f.pts.unwrap().nseconds() as f64 / 1e9;
    assert!(secs(&frames[0]) < 0.1, "the clip starts at 0:00");
    let first = frames.iter().position(|f| !is_empty_scene(f)).expect("people in the clip");
    let last = frames.iter().rposition(|f| !is_empty_scene(f)).unwrap();
    // A loaded machine drops a live camera's frames whole, in runs: the people appeared somewhere
    // in the gap before the first frame that shows them, and left somewhere in the gap after the
    // last. The pre- and post-roll are known to within those gaps.
    let at = |i: usize| secs(&frames[i.min(frames.len() - 1)]);
    let end = at(frames.len() - 1);
    // The clip closes `post` after the last frame with regions, and a track's mask is held
    // through up to a second of missed detections after its person has gone (fail-closed): the
    // post-roll counts from the last frame with a mask, which is never before the people's last.
    let masked = frames.iter().rposition(has_mask).expect("masks in the clip");
    assert!(masked >= last, "frame {last} shows people outside any mask after the last mask ({masked})");
    let pre = (at(first.saturating_sub(1)) - at(0), at(first) - at(0));
    let post = (end - at(masked + 1), end - at(masked));
    assert!(pre.0 < 3.0 && pre.1 >= 1.0, "pre-roll {:.2}–{:.2} s, want 2 ± 1", pre.0, pre.1);
    assert!(post.0 < 3.0 && post.1 >= 1.0, "post-roll {:.2}–{:.2} s, want 2 ± 1", post.0, post.1);
    let people = secs(&frames[last]) - secs(&frames[first]);
    assert!(people > 2.0, "the people's 2.8 s are in the clip: {people:.2} s");

    // Every face the detector finds again on the clip is inside the fill.
    let mut detector = Detector::load(&models_dir(), Target::Faces, &DetectorSettings::default()).unwrap();
    let mut source = VideoDecoder::open(&file).unwrap();
    let mut index = 0;
    loop {
        let frame = match source.pull(Duration::from_secs(10)).unwrap() {
            Pulled::Frame(frame) => frame,
            Pulled::Pending => continue,
            Pulled::End => break,
        };
        for face in &detector.detect(&frame).unwrap().faces {
            let share = magenta_share(&frames[index], &face.rect);
            // A confident face: the detector's own threshold lets through false ones on legs and
            // hands at 0.2 (seen here at 0.21 on a knee).
            if face.score < 0.5 {
                continue;
            }
            assert!(share > 0.5, "frame {index}: a face outside the fill ({share:.2}) at {:?}", face.rect);
        }
        index += 1;
    }
    assert_eq!(index, frames.len());

    // Every ground-truth head is filled: each clip frame is matched to its source frame (frames
    // may have been dropped live), whose truth boxes give the heads.
    let source = decode_all(&eval.join("TUD-Campus.mp4"), "RGB");
    let truth = ground_truth(&eval.join("gt.txt"));
    let (mut heads, mut covered) = (0, 0);
    for frame in &frames[first..=last] {
        let matched = (0..source.len()).min_by_key(|&j| difference(frame, &source[j])).unwrap();
        for person in truth.get(&(matched + 1)).into_iter().flatten() {
            // The head region as `eval mot` takes it: the top 15%, the central half across.
            let w = person.x1 - person.x0;
            let head = Rect::new(
                person.x0 + w / 4.0,
                person.y0,
                person.x1 - w / 4.0,
                person.y0 + 0.15 * (person.y1 - person.y0),
            );
            heads += 1;
            covered += usize::from(magenta_share(frame, &head) >= 0.8);
        }
    }
    assert!(heads > 100, "the people are in the clip ({heads} heads)");
    // Redacted, not a recall measurement (tests/detect.rs measures that offline): a live camera
    // on a loaded machine drops frames and masks a moment late at the edges.
    assert!(covered * 100 >= heads * 95, "{covered} of {heads} ground-truth heads filled, want 95%");
}

fn magenta_share(rgb: &Decoded, r: &Rect) -> f64 {
    let (x0, y0) = (r.x0.max(0.0) as usize, r.y0.max(0.0) as usize);
    let (x1, y1) = ((r.x1.ceil() as usize).min(rgb.width), (r.y1.ceil() as usize).min(rgb.height));
    let (mut hit, mut all) = (0, 0);
    for y in y0..y1 {
        for x in x0..x1 {
            let at = (y * rgb.width + x) * 3;
            hit += usize::from(is_magenta(&rgb.data[at..at + 3]));
            all += 1;
        }
    }
    hit as f64 / all.max(1) as f64
}

/// How much two frames differ where the first is not filled (every 3rd pixel).
fn difference(clip: &Decoded, source: &Decoded) -> u64 {
    clip.data
        .chunks(3)
        .zip(source.data.chunks(3))
        .step_by(3)
        .filter(|(c, _)| !is_magenta(c))
        .map(|(c, s)| c.iter().zip(s).map(|(a, b)| u64::from(a.abs_diff(*b))).sum::<u64>())
        .sum()
}

/// MOTChallenge `gt.txt`: the boxes of each 1-based frame.
fn ground_truth(path: &Path) -> std::collections::HashMap<usize, Vec<Rect>> {
    let mut boxes: std::collections::HashMap<usize, Vec<Rect>> = Default::default();
    for line in std::fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<f32> = line.split(',').map(|v| v.trim().parse().unwrap()).collect();
        boxes.entry(f[0] as usize).or_default().push(Rect::new(f[2], f[3], f[2] + f[4], f[3] + f[5]));
    }
    boxes
}

/// An unusable clips folder (a file stands where it should be) stops clips with an error metric
/// and one log line while frames and counts go on; when the folder can be made, clips resume.
#[test]
fn an_unusable_clips_folder_stops_clips_not_counts_and_clips_resume() {
    let Some(eval) = shared_eval("tud-campus") else { return };
    let dir = tempfile::tempdir().unwrap();
    let video = people_come_and_go(dir.path(), &eval);
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, b"not a folder").unwrap();
    let server = RtspServer::start(&video, &[]);
    let http = free_port();
    let config = config(dir.path(), http, &server.url(), "blocked/clips", "");
    let mut service = Service::start(&config, http);
    let entry = service.wait_for("door", Duration::from_secs(30), "clips fail", |c| {
        c["clips_failing"] == true && c["frames"].as_u64().unwrap_or(0) > 150
    });
    assert!(entry["clip_errors"].as_u64().unwrap() >= 1, "{entry}");
    let metrics = service.get("/metrics").unwrap();
    assert!(metrics.contains("obscura_clips_failing{camera=\"door\"} 1"), "{metrics}");
    assert_eq!(service.request("/api/clips", &[]).unwrap().0, 404, "no library yet");
    let log = service.log();
    assert_eq!(log.matches("event clips stopped").count(), 1, "one line: {log}");
    // Frames flow on and people are counted meanwhile.
    let frames_then = entry["frames"].as_u64().unwrap();
    service.wait_for("door", Duration::from_secs(20), "frames flow", |c| {
        c["frames"].as_u64().unwrap_or(0) > frames_then + 100
    });

    std::fs::remove_file(&blocked).unwrap();
    let clips = wait_for_clip(&mut service, |_| true, Duration::from_secs(60));
    assert!(dir.path().join("blocked/clips").join(clips[0]["file"].as_str().unwrap()).exists());
    let entry = service.camera("door").unwrap();
    assert_eq!(entry["clips_failing"], false, "{entry}");
    assert!(service.log().contains("event clips resumed"), "{}", service.log());
    service.signal("TERM");
    assert!(service.wait(Duration::from_secs(30)).success(), "{}", service.log());
    let conn = rusqlite::Connection::open(dir.path().join("counts.sqlite")).unwrap();
    let passes: i64 = conn
        .query_row("SELECT COALESCE(SUM(passes), 0) FROM line_buckets WHERE camera = 'door'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(passes > 100, "counting went on while clips failed: {passes} passes");
}
