//! ONNX Runtime: one environment per process, loaded from the shared library that
//! `scripts/setup` takes out of the pinned `onnxruntime` wheel, and sessions built from it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::ep::ExecutionProviderDispatch;
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

/// Loads ONNX Runtime once per process, from `$OBSCURA_ONNXRUNTIME` if set (e.g. a GPU or
/// OpenVINO build of the library), else from the library `scripts/setup` put in `models`; later
/// calls return the first outcome.
pub fn init_runtime(models: &Path) -> Result<&'static Environment, DetectError> {
    static RUNTIME: OnceLock<Result<Environment, DetectError>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        let library = std::env::var_os("OBSCURA_ONNXRUNTIME")
            .map(PathBuf::from)
            .unwrap_or_else(|| models.join(ORT_LIBRARY));
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// Where inference runs. ONNX Runtime's CPU provider always works; the others need a build of
/// the ONNX Runtime library that has them (`$OBSCURA_ONNXRUNTIME`) and fail with a clear error
/// otherwise, never silently falling back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExecutionProvider {
    #[default]
    Cpu,
    /// NVIDIA GPUs (an `onnxruntime-gpu` build, CUDA and cuDNN installed).
    Cuda,
    /// Intel CPUs, iGPUs and NPUs (an `onnxruntime-openvino` build).
    OpenVino,
}

impl ExecutionProvider {
    pub const NAMES: [&str; 3] = ["cpu", "cuda", "openvino"];

    pub fn name(self) -> &'static str {
        match self {
            ExecutionProvider::Cpu => "cpu",
            ExecutionProvider::Cuda => "cuda",
            ExecutionProvider::OpenVino => "openvino",
        }
    }
}

impl std::str::FromStr for ExecutionProvider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(ExecutionProvider::Cpu),
            "cuda" => Ok(ExecutionProvider::Cuda),
            "openvino" => Ok(ExecutionProvider::OpenVino),
            _ => Err(format!("unknown execution provider {s:?}: use one of {}", Self::NAMES.join(", "))),
        }
    }
}

impl std::fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The bytes of a model file; a missing file is [`DetectError::Missing`].
pub fn read_model(path: &Path) -> Result<Vec<u8>, DetectError> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DetectError::Missing { path: path.to_owned() },
        _ => DetectError::Invalid { path: path.to_owned(), reason: e.to_string() },
    })
}

/// A session for `model` (already edited bytes), named by `path` in errors.
pub fn session(
    env: &Environment,
    path: &Path,
    model: &[u8],
    threads: Threads,
    provider: ExecutionProvider,
) -> Result<Session, DetectError> {
    let err =
        |e: &dyn std::fmt::Display| DetectError::Invalid { path: path.to_owned(), reason: e.to_string() };
    let providers: Vec<ExecutionProviderDispatch> = match provider {
        ExecutionProvider::Cpu => Vec::new(),
        ExecutionProvider::Cuda => vec![ort::ep::CUDA::default().build().error_on_failure()],
        ExecutionProvider::OpenVino => vec![ort::ep::OpenVINO::default().build().error_on_failure()],
    };
    let provider_failed = |e: &dyn std::fmt::Display| DetectError::Provider {
        provider: provider.name(),
        reason: e.to_string(),
    };
    Session::builder(env)
        .map_err(|e| err(&e))?
        .with_execution_providers(providers)
        .map_err(|e| provider_failed(&e))?
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
