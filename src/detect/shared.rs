//! One loaded model per process, shared by every camera's detectors, taken in turn.
//!
//! Each camera has its own detectors (their scale control, buffers and settings), but a model is
//! loaded once: the detectors that load the same file with the same edit, threads and execution
//! provider get the same ONNX Runtime session. That saves the weights and, above all, the
//! session's activation arena (a 13-tile person batch needs hundreds of MB) per camera, and it
//! stops N cameras from running N inferences at once, each with a thread per core, on the same
//! cores: on a 2-core box four cameras had 8 inference threads fighting over 2 cores.
//!
//! Cameras take a session in the order they asked for it (a ticket queue, so no camera is
//! starved by the others), and wait at most [`TURN_LIMIT`]: a session held longer than that is
//! stuck, and the waiting camera's pass fails closed instead of blocking its pipeline for good.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use ort::session::Session;

use super::DetectError;
use super::runtime::{ExecutionProvider, Threads};

/// The longest a detector waits for its turn at a shared session. Passes take tens to a few
/// hundred milliseconds; waiting this long means the session is stuck.
pub const TURN_LIMIT: Duration = Duration::from_secs(30);

/// What makes two loads the same session: the file, how its graph was edited, the threading and
/// the execution provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    path: PathBuf,
    edit: &'static str,
    threads: Threads,
    provider: ExecutionProvider,
}

/// A session shared by detectors; cloning shares it.
#[derive(Clone)]
pub struct SharedSession {
    slot: Arc<Slot>,
}

impl std::fmt::Debug for SharedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSession").field("path", &self.slot.path).field("users", &self.users()).finish()
    }
}

struct Slot {
    path: PathBuf,
    session: Mutex<Session>,
    turns: Turns,
}

/// A ticket queue: each caller takes the next number and is served when its number comes up.
#[derive(Default)]
struct Turns {
    state: Mutex<TurnState>,
    changed: Condvar,
}

#[derive(Default)]
struct TurnState {
    next: u64,
    serving: u64,
    /// Tickets whose callers stopped waiting: skipped when their turn comes.
    abandoned: Vec<u64>,
}

/// The sessions loaded so far, by key; an entry dies with its last detector.
fn registry() -> MutexGuard<'static, HashMap<Key, Weak<Slot>>> {
    static SESSIONS: LazyLock<Mutex<HashMap<Key, Weak<Slot>>>> = LazyLock::new(Mutex::default);
    SESSIONS.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SharedSession {
    /// The session for `path` edited by `edit` (a name for the edit: the same name must mean the
    /// same bytes) with `threads` on `provider`: the one already loaded, else `load()`'s.
    pub fn get_or_load(
        path: &Path,
        edit: &'static str,
        threads: Threads,
        provider: ExecutionProvider,
        load: impl FnOnce() -> Result<Session, DetectError>,
    ) -> Result<Self, DetectError> {
        let key = Key { path: path.to_owned(), edit, threads, provider };
        // Held while loading, so that cameras starting together load a model once.
        let mut sessions = registry();
        if let Some(slot) = sessions.get(&key).and_then(Weak::upgrade) {
            return Ok(Self { slot });
        }
        let slot =
            Arc::new(Slot { path: path.to_owned(), session: Mutex::new(load()?), turns: Turns::default() });
        sessions.retain(|_, weak| weak.strong_count() > 0);
        sessions.insert(key, Arc::downgrade(&slot));
        Ok(Self { slot })
    }

    /// How many detectors share this session.
    pub fn users(&self) -> usize {
        Arc::strong_count(&self.slot)
    }

    /// Whether `self` and `other` are the same session.
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.slot, &other.slot)
    }

    /// Runs `f` on the session when this caller's turn comes, waiting at most [`TURN_LIMIT`].
    pub fn with<R>(&self, f: impl FnOnce(&mut Session) -> Result<R, DetectError>) -> Result<R, DetectError> {
        let Some(_turn) = self.slot.turns.wait(TURN_LIMIT) else {
            return Err(DetectError::Inference {
                path: self.slot.path.clone(),
                reason: format!(
                    "waited {} s for the model shared with other cameras: it is stuck",
                    TURN_LIMIT.as_secs()
                ),
            });
        };
        let mut session = self.slot.session.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut session)
    }
}

impl Turns {
    /// Waits for this caller's turn, at most `limit`; `None` if it did not come by then (the
    /// turn is given up: when it comes, it passes straight on). The turn passes on when the
    /// returned guard drops, however its holder ends.
    fn wait(&self, limit: Duration) -> Option<Turn<'_>> {
        let deadline = Instant::now() + limit;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let ticket = state.next;
        state.next += 1;
        while state.serving != ticket {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                state.abandoned.push(ticket);
                state.skip_abandoned();
                self.changed.notify_all();
                return None;
            }
            state = self.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        Some(Turn { turns: self })
    }
}

impl TurnState {
    /// Skips the turns of callers that gave up waiting.
    fn skip_abandoned(&mut self) {
        while let Some(i) = self.abandoned.iter().position(|&t| t == self.serving) {
            self.abandoned.swap_remove(i);
            self.serving += 1;
        }
    }
}

/// A caller's turn: passes to the next ticket when dropped.
struct Turn<'a> {
    turns: &'a Turns,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut state = self.turns.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.serving += 1;
        state.skip_abandoned();
        self.turns.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread;

    #[test]
    fn turns_are_served_in_the_order_they_were_asked_for() {
        let turns = Arc::new(Turns::default());
        let first = turns.wait(Duration::from_secs(5)).expect("a free queue serves at once");
        let (order_tx, order_rx) = mpsc::channel();
        let mut waiting = Vec::new();
        for i in 0..4 {
            let (queue, order) = (Arc::clone(&turns), order_tx.clone());
            waiting.push(thread::spawn(move || {
                let _turn = queue.wait(Duration::from_secs(10)).expect("served within the limit");
                order.send(i).unwrap();
            }));
            // Each asks only once the previous one is queued.
            while turns.state.lock().unwrap().next < i + 2 {
                thread::yield_now();
            }
        }
        drop(first);
        for handle in waiting {
            handle.join().unwrap();
        }
        let order: Vec<u64> = order_rx.try_iter().collect();
        assert_eq!(order, [0, 1, 2, 3]);
    }

    #[test]
    fn a_caller_that_waited_too_long_gives_up_and_the_next_is_still_served() {
        let turns = Arc::new(Turns::default());
        let held = turns.wait(Duration::from_secs(5)).unwrap();
        let started = Instant::now();
        assert!(turns.wait(Duration::from_millis(50)).is_none(), "a stuck holder makes a waiter give up");
        assert!(started.elapsed() >= Duration::from_millis(50));
        let later = {
            let queue = Arc::clone(&turns);
            thread::spawn(move || queue.wait(Duration::from_secs(10)).is_some())
        };
        while turns.state.lock().unwrap().next < 3 {
            thread::yield_now();
        }
        drop(held);
        assert!(later.join().unwrap(), "the turn given up passes straight on");
        assert!(turns.wait(Duration::from_millis(10)).is_some(), "and the queue is free again");
    }

    #[test]
    fn a_holder_that_panics_passes_the_turn_on() {
        let turns = Arc::new(Turns::default());
        let holder = {
            let queue = Arc::clone(&turns);
            thread::spawn(move || {
                let _turn = queue.wait(Duration::from_secs(5)).unwrap();
                panic!("inference panicked");
            })
        };
        assert!(holder.join().is_err());
        assert!(turns.wait(Duration::from_secs(5)).is_some());
    }

    #[test]
    fn detectors_of_the_same_model_share_one_session() {
        use crate::detect::{FaceDetector, FaceSettings, PersonDetector, PersonSettings};
        let models = crate::detect::models_dir();
        if !models.join(crate::detect::face::CENTERFACE_FILE).exists() {
            crate::skip_test("models/ is missing (scripts/setup fetches it)");
            return;
        }
        let a = FaceDetector::load(&models, FaceSettings::default()).unwrap();
        // The audit asks for another input size of the same model: the same session.
        let audit = FaceSettings { input_long_side: 1280, max_scale: 2.0, ..FaceSettings::default() };
        let b = FaceDetector::load(&models, audit).unwrap();
        assert!(a.shared_session().same(b.shared_session()));
        // Other threading is another session.
        let one = FaceSettings { threads: Threads { intra: 1, spin: false }, ..FaceSettings::default() };
        let c = FaceDetector::load(&models, one).unwrap();
        assert!(!a.shared_session().same(c.shared_session()));
        let p = PersonDetector::load(&models, PersonSettings::default()).unwrap();
        let q = PersonDetector::load(&models, PersonSettings::default()).unwrap();
        assert!(p.shared_session().same(q.shared_session()));
        assert!(!p.shared_session().same(a.shared_session()));
        // The last detector gone, the session is unloaded; the next load makes a new one.
        let users = p.shared_session().users();
        drop(q);
        assert_eq!(p.shared_session().users(), users - 1);
    }
}
