//! What to redact (`Target`) and how (`Method`): the user-facing choices of a redaction.

use std::fmt;
use std::str::FromStr;

/// What is redacted in each frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Target {
    /// The whole frame.
    Frame,
    /// Every detected face (needs the face detector).
    #[default]
    Faces,
    /// The head region of every detected person, united with faces.
    Heads,
    /// Every detected person, whole.
    Persons,
    /// Nothing detected: only the fixed privacy masks.
    None,
}

/// How a redacted region is made unrecognisable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Method {
    /// A strong Gaussian-like blur whose radius grows with the region.
    #[default]
    Blur,
    /// Coarse blocks of the region's mean colour.
    Pixelate,
    /// A solid colour (`fill_color`).
    Fill,
}

macro_rules! names {
    ($ty:ty, $what:literal, $($variant:ident = $name:literal),+ $(,)?) => {
        impl $ty {
            /// Every accepted spelling, for error messages.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }

        impl FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    _ => Err(format!(
                        concat!("unknown ", $what, " {:?}: expected one of {}"),
                        s,
                        Self::NAMES.join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

names!(
    Target,
    "target",
    Frame = "frame",
    Faces = "faces",
    Heads = "heads",
    Persons = "persons",
    None = "none"
);
names!(Method, "method", Blur = "blur", Pixelate = "pixelate", Fill = "fill");

impl Target {
    /// Whether this target needs a detector.
    pub fn needs_detection(self) -> bool {
        matches!(self, Target::Faces | Target::Heads | Target::Persons)
    }

    /// Whether this target masks what the person detector finds (so that detector must see the
    /// whole frame); for the others it serves counting only.
    pub fn masks_persons(self) -> bool {
        matches!(self, Target::Heads | Target::Persons)
    }
}
