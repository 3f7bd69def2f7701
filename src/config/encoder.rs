//! x264 encoder settings of a redacted output: speed preset and constant quality.

use std::fmt;
use std::str::FromStr;

/// x264's speed/size trade-off: slower presets make smaller files at the same quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum X264Preset {
    /// Fastest, biggest files.
    Ultrafast,
    /// Nearly as fast as `ultrafast`, noticeably smaller.
    Superfast,
    /// The default: keeps up with several live 1080p cameras on a small CPU.
    #[default]
    Veryfast,
    /// A little slower and smaller than `veryfast`.
    Faster,
    /// Slower and smaller still.
    Fast,
    /// x264's own default; often too slow for live streams on small machines.
    Medium,
    /// For offline files where size matters.
    Slow,
    /// Much slower, slightly smaller than `slow`.
    Slower,
    /// Slowest, smallest; rarely worth it.
    Veryslow,
}

impl X264Preset {
    /// Every accepted spelling, fastest first, for error messages.
    pub const NAMES: &'static [&'static str] =
        &["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"];

    const ALL: [Self; 9] = [
        Self::Ultrafast,
        Self::Superfast,
        Self::Veryfast,
        Self::Faster,
        Self::Fast,
        Self::Medium,
        Self::Slow,
        Self::Slower,
        Self::Veryslow,
    ];

    /// The preset as x264 spells it (the value of its `speed-preset` / `--preset`).
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl FromStr for X264Preset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown preset {s:?}: expected one of {}", Self::NAMES.join(", ")))
    }
}

impl fmt::Display for X264Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the redacted video is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderSettings {
    /// Speed preset; default `veryfast`.
    pub preset: X264Preset,
    /// Constant rate factor 0..=50, lower is better quality and bigger files; default 23.
    pub crf: u8,
}

impl EncoderSettings {
    /// The largest `crf` accepted (x264 itself goes to 51, which is unwatchable).
    pub const MAX_CRF: u8 = 50;
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self { preset: X264Preset::Veryfast, crf: 23 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_order() {
        assert_eq!(X264Preset::ALL.len(), X264Preset::NAMES.len());
        for (preset, name) in X264Preset::ALL.into_iter().zip(X264Preset::NAMES) {
            assert_eq!(preset.name(), *name);
            assert_eq!(preset.to_string(), *name);
            assert_eq!(name.parse::<X264Preset>(), Ok(preset));
        }
    }

    #[test]
    fn unknown_preset_lists_the_accepted_ones() {
        let err = "turbo".parse::<X264Preset>().unwrap_err();
        assert_eq!(
            err,
            "unknown preset \"turbo\": expected one of ultrafast, superfast, veryfast, faster, fast, \
             medium, slow, slower, veryslow"
        );
    }

    #[test]
    fn clap_spells_presets_like_x264() {
        use clap::ValueEnum;
        for preset in X264Preset::ALL {
            let value = preset.to_possible_value().unwrap();
            assert_eq!(value.get_name(), preset.name());
        }
    }
}
