//! A record of detection passes for evaluation replays (`obscura eval mot --detection-cache`).
//!
//! Tracking and counting are tuned against the stress set (docs/models.md), whose runs spend
//! nearly all their time in the CNNs, though a change to the tracker or the counter does not
//! change what the detectors find. [`CachedDetector`] wraps a detector and keeps, per pass, what
//! it found (boxes and scores only: no pixels) in a folder, under a key made of the frame's pixels
//! and those of every pass before it in the stream, and of a seed naming the detector's settings.
//! A second run over the same video with the same detector settings reads the passes back instead
//! of running the models, and gets the same boxes: the same frames reach the same passes as long
//! as the cadence is the same (the key of a pass changes with any earlier pass's frame).
//!
//! A stream is replayed whole or not at all. The detectors keep state from pass to pass (the
//! person detector's scale, the inputs an unchanged tile is compared with), which only running
//! them advances: a stream whose first pass was not recorded runs every pass (and records it),
//! and one whose first pass was recorded reads every pass back; should a later pass be missing
//! (a recording cut short, a video changed in the middle), the replay is
//! [`CachedDetector::diverged`]: its detections from there on are not what a run would find, are
//! not recorded, and the caller must not report them. The seed should name the video too (two videos that begin
//! alike would otherwise share their first passes).
//!
//! What the key cannot see is the detector's code and models: after changing either, start from
//! an empty folder. A run whose passes all come from the folder reports no tiling nor face scale
//! (the wrapped detector never ran).

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use super::{DetectError, Detection, Found, FrameDetector, face_scale, scale};
use crate::frame::Frame;
use crate::geometry::Rect;
use crate::redact::Target;

/// A detector whose passes are read from a folder when they were recorded there before, and run
/// and recorded otherwise.
pub struct CachedDetector<'a> {
    inner: &'a mut dyn FrameDetector,
    dir: PathBuf,
    /// The key of the latest pass (the seed's hash before the first).
    chain: u64,
    /// A frame's pixels could not be read: this stream's passes are no longer keyed.
    keyless: bool,
    /// Decided at the first pass: whether this stream is read back (`Some(true)`) or run and
    /// recorded (`Some(false)`).
    replaying: Option<bool>,
    /// The first pass a replay found no record for.
    diverged: Option<u64>,
    hits: u64,
    misses: u64,
}

impl std::fmt::Debug for CachedDetector<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDetector")
            .field("dir", &self.dir)
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish_non_exhaustive()
    }
}

impl<'a> CachedDetector<'a> {
    /// Wraps `inner`, recording into and replaying from `dir` (created if missing). `seed` names
    /// everything about the detector that changes what it finds (its settings, the target).
    pub fn new(inner: &'a mut dyn FrameDetector, dir: &Path, seed: &str) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut hasher = DefaultHasher::new();
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        seed.hash(&mut hasher);
        Ok(Self {
            inner,
            dir: dir.to_owned(),
            chain: hasher.finish(),
            keyless: false,
            replaying: None,
            diverged: None,
            hits: 0,
            misses: 0,
        })
    }

    /// Passes read back from the folder so far.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Passes the wrapped detector ran so far (and recorded).
    pub fn misses(&self) -> u64 {
        self.misses
    }

    /// The number (from 0) of the first pass a replay had no record for: from there on the
    /// detections are not what running the detectors from the start would have found.
    pub fn diverged(&self) -> Option<u64> {
        self.diverged
    }

    fn path(&self) -> PathBuf {
        self.dir.join(format!("{:016x}.pass", self.chain))
    }
}

impl FrameDetector for CachedDetector<'_> {
    fn target(&self) -> Target {
        self.inner.target()
    }

    fn detect(&mut self, frame: &Frame) -> Result<Found, DetectError> {
        let mut hasher = DefaultHasher::new();
        self.chain.hash(&mut hasher);
        if self.keyless || !frame.hash_pixels(&mut hasher) {
            // No key for this pass, nor for any after it (theirs would leave it out).
            self.keyless = true;
            self.misses += 1;
            return self.inner.detect(frame);
        }
        self.chain = hasher.finish();
        let path = self.path();
        let pass = self.hits + self.misses;
        if self.replaying != Some(false) {
            let record = fs::read_to_string(&path).ok().and_then(|text| parse(&text));
            let replaying = *self.replaying.get_or_insert(record.is_some());
            match record {
                Some(found) => {
                    self.hits += 1;
                    return Ok(found);
                }
                None if replaying => {
                    self.diverged.get_or_insert(pass);
                }
                None => {}
            }
        }
        let found = self.inner.detect(frame)?;
        self.misses += 1;
        if self.diverged.is_some() {
            // Found from a state no run reaches: not a record a later replay may read back.
            return Ok(found);
        }
        // A record that cannot be written is a replay lost, not a pass lost.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if let Err(err) = fs::write(&tmp, format_found(&found)).and_then(|()| fs::rename(&tmp, &path)) {
            tracing::warn!(path = %path.display(), %err, "cannot record a detection pass");
            let _ = fs::remove_file(&tmp);
        }
        Ok(found)
    }

    fn scale_use(&self) -> Option<scale::ScaleUse> {
        self.inner.scale_use()
    }

    fn faces_reused(&self) -> u64 {
        self.inner.faces_reused()
    }

    fn face_scale(&self) -> Option<face_scale::FaceScaleUse> {
        self.inner.face_scale()
    }
}

/// One line per detection: `f` (face), `p` (person) or `w` (weak person), then the box and the
/// score, written exactly (`{:?}` of an `f32` reads back to the same value).
fn format_found(found: &Found) -> String {
    let mut text = String::from("obscura detections 1\n");
    for (tag, list) in [("f", &found.faces), ("p", &found.persons), ("w", &found.weak_persons)] {
        for d in list {
            let r = d.rect;
            text.push_str(&format!("{tag} {:?} {:?} {:?} {:?} {:?}\n", r.x0, r.y0, r.x1, r.y1, d.score));
        }
    }
    text
}

/// The detections of a record, or `None` if it is not one [`format_found`] wrote (a miss).
fn parse(text: &str) -> Option<Found> {
    let mut lines = text.lines();
    if lines.next()? != "obscura detections 1" {
        return None;
    }
    let mut found = Found::default();
    for line in lines {
        let mut fields = line.split(' ');
        let tag = fields.next()?;
        let values: Vec<f32> = fields.map(|v| v.parse().ok()).collect::<Option<_>>()?;
        let [x0, y0, x1, y1, score] = values[..] else { return None };
        let detection = Detection { rect: Rect::new(x0, y0, x1, y1), score };
        match tag {
            "f" => found.faces.push(detection),
            "p" => found.persons.push(detection),
            "w" => found.weak_persons.push(detection),
            _ => return None,
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::StillImage;

    /// Finds one person per pass whose box follows the frame's first pixel, and counts its runs.
    struct Counting {
        runs: u32,
    }

    impl FrameDetector for Counting {
        fn target(&self) -> Target {
            Target::Heads
        }

        fn detect(&mut self, frame: &Frame) -> Result<Found, DetectError> {
            self.runs += 1;
            let x = f32::from(frame.first_byte()) + 0.1;
            Ok(Found {
                faces: vec![Detection { rect: Rect::new(x, 2.5, x + 3.0, 6.0), score: 0.71 }],
                persons: vec![Detection { rect: Rect::new(x, 1.0, x + 10.0, 30.0), score: 0.9 }],
                weak_persons: vec![Detection { rect: Rect::new(0.3, 0.7, 9.9, 1e-7), score: 0.1 }],
                continuing: Vec::new(),
            })
        }
    }

    fn frame(value: u8) -> Frame {
        Frame::from_still(StillImage { width: 4, height: 2, channels: 3, data: vec![value; 24] })
    }

    fn run(dir: &Path, seed: &str, values: &[u8]) -> (Vec<Found>, u32, u64) {
        let (found, runs, hits, _) = replay(dir, seed, values);
        (found, runs, hits)
    }

    fn replay(dir: &Path, seed: &str, values: &[u8]) -> (Vec<Found>, u32, u64, Option<u64>) {
        let mut inner = Counting { runs: 0 };
        let mut cached = CachedDetector::new(&mut inner, dir, seed).unwrap();
        let found = values.iter().map(|&v| cached.detect(&frame(v)).unwrap()).collect();
        let (hits, diverged) = (cached.hits(), cached.diverged());
        (found, inner.runs, hits, diverged)
    }

    #[test]
    fn a_second_run_over_the_same_frames_reads_every_pass_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let (first, runs, hits) = run(dir.path(), "a", &[1, 2, 3]);
        assert_eq!((runs, hits), (3, 0));
        let (second, runs, hits) = run(dir.path(), "a", &[1, 2, 3]);
        assert_eq!((runs, hits), (0, 3), "every pass read back");
        assert_eq!(first, second, "the same boxes and scores, bit for bit");
    }

    #[test]
    fn other_frames_an_earlier_pass_changed_or_another_seed_miss() {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), "a", &[1, 2, 3]);
        // The same frames from the second pass on, after another first frame: every key differs.
        let (_, runs, hits) = run(dir.path(), "a", &[9, 2, 3]);
        assert_eq!((runs, hits), (3, 0));
        let (_, runs, hits) = run(dir.path(), "b", &[1, 2, 3]);
        assert_eq!((runs, hits), (3, 0), "another detector's settings");
        // A prefix of a recorded stream is read back.
        let (_, runs, hits, diverged) = replay(dir.path(), "a", &[1, 2]);
        assert_eq!((runs, hits, diverged), (0, 2, None));
    }

    #[test]
    fn a_stream_is_replayed_whole_or_run_whole() {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), "a", &[1, 2]);
        // Recorded in part: read back to where the record ends, then run, and marked diverged
        // (the detector's own state never saw the passes read back).
        let (_, runs, hits, diverged) = replay(dir.path(), "a", &[1, 2, 3, 4]);
        assert_eq!((runs, hits, diverged), (2, 2, Some(2)));
        // What it found from there on was not recorded: a second replay diverges alike.
        let (_, runs, hits, diverged) = replay(dir.path(), "a", &[1, 2, 3, 4]);
        assert_eq!((runs, hits, diverged), (2, 2, Some(2)));
        // A stream whose first pass was not recorded runs every pass, those recorded too.
        let first = tempfile::tempdir().unwrap();
        run(first.path(), "a", &[1]);
        let name = fs::read_dir(first.path()).unwrap().next().unwrap().unwrap().file_name();
        fs::remove_file(dir.path().join(name)).unwrap();
        let (_, runs, hits, diverged) = replay(dir.path(), "a", &[1, 2, 3, 4]);
        assert_eq!((runs, hits, diverged), (4, 0, None));
        let (_, runs, hits, diverged) = replay(dir.path(), "a", &[1, 2, 3, 4]);
        assert_eq!((runs, hits, diverged), (0, 4, None), "and recorded it whole");
    }

    #[test]
    fn a_damaged_record_is_run_again_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let (first, ..) = run(dir.path(), "a", &[5]);
        for entry in fs::read_dir(dir.path()).unwrap() {
            fs::write(entry.unwrap().path(), "obscura detections 1\np 1.0 2.0\n").unwrap();
        }
        let (again, runs, hits) = run(dir.path(), "a", &[5]);
        assert_eq!((runs, hits, &again), (1, 0, &first));
        let (_, runs, hits) = run(dir.path(), "a", &[5]);
        assert_eq!((runs, hits), (0, 1), "rewritten whole");
    }
}
