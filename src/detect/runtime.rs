//! ONNX Runtime: one environment per process, loaded from the shared library that
//! `scripts/setup` takes out of the pinned `onnxruntime` wheel, and sessions built from it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use super::DetectError;

/// The ONNX Runtime library file name, as in the wheel.
pub const ORT_LIBRARY: &str = "libonnxruntime.so.1.31.1";

/// Where models and the runtime library are looked for: `$OBSCURA_MODELS`, else the `models/`
/// folder of the checkout obscura was built from (filled by `scripts/setup`).
pub fn models_dir() -> PathBuf {
    std::env::var_os("OBSCURA_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models"))
}

/// Loads ONNX Runtime once per process; later calls return the first outcome.
pub fn init_runtime(models: &Path) -> Result<&'static Environment, DetectError> {
    static RUNTIME: OnceLock<Result<Environment, DetectError>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        let library = models.join(ORT_LIBRARY);
        if !library.exists() {
            return Err(DetectError::Missing { path: library });
        }
        let failed =
            |e: &dyn std::fmt::Display| DetectError::Runtime { path: library.clone(), reason: e.to_string() };
        ort::init_from(&library).map_err(|e| failed(&e))?.with_name("obscura").build().map_err(|e| failed(&e))
    });
    runtime.as_ref().map_err(Clone::clone)
}

/// Threading of an inference session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threads {
    /// Threads inside one operator (the parallelism that matters for CNNs).
    pub intra: usize,
    /// Whether idle inference threads spin waiting for work. Off by default: spinning burns the
    /// cores that decoding, redaction and encoding need.
    pub spin: bool,
}

impl Default for Threads {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { intra: cores, spin: false }
    }
}

/// A session for `model` (already edited bytes), named by `path` in errors.
pub fn session(
    env: &Environment,
    path: &Path,
    model: &[u8],
    threads: Threads,
) -> Result<Session, DetectError> {
    let err =
        |e: &dyn std::fmt::Display| DetectError::Invalid { path: path.to_owned(), reason: e.to_string() };
    Session::builder(env)
        .map_err(|e| err(&e))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| err(&e))?
        .with_intra_threads(threads.intra)
        .map_err(|e| err(&e))?
        .with_inter_threads(1)
        .map_err(|e| err(&e))?
        .with_intra_op_spinning(threads.spin)
        .map_err(|e| err(&e))?
        .with_inter_op_spinning(false)
        .map_err(|e| err(&e))?
        .commit_from_memory(model)
        .map_err(|e| err(&e))
}
