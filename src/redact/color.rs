//! Colours for `fill`: parsing `#RRGGBB` and converting to the stream's YUV.

use std::fmt;
use std::str::FromStr;

/// An 8-bit sRGB colour, written `#RRGGBB` in config and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

/// Why a colour string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid colour {input:?}: expected #RRGGBB with six hexadecimal digits, e.g. \"#000000\"")]
pub struct ParseRgbError {
    pub input: String,
}

impl FromStr for Rgb {
    type Err = ParseRgbError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseRgbError { input: s.to_owned() };
        let hex = s.strip_prefix('#').ok_or_else(err)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| err());
        Ok(Rgb { r: byte(0)?, g: byte(2)?, b: byte(4)? })
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// The RGB→YUV matrix of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matrix {
    Bt601,
    Bt709,
    Bt2020,
}

/// Whether luma spans 16..235 (limited, "TV") or 0..255 (full, "PC").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Limited,
    Full,
}

impl Rgb {
    /// `[Y, U, V]` of this colour for a stream with the given matrix and range.
    pub fn to_yuv(self, matrix: Matrix, range: Range) -> [u8; 3] {
        let (kr, kb) = match matrix {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
            Matrix::Bt2020 => (0.2627, 0.0593),
        };
        let kg = 1.0 - kr - kb;
        let (r, g, b) = (f64::from(self.r) / 255.0, f64::from(self.g) / 255.0, f64::from(self.b) / 255.0);
        let y = kr * r + kg * g + kb * b;
        let u = (b - y) / (2.0 * (1.0 - kb));
        let v = (r - y) / (2.0 * (1.0 - kr));
        let (y, u, v) = match range {
            Range::Limited => (16.0 + 219.0 * y, 128.0 + 224.0 * u, 128.0 + 224.0 * v),
            Range::Full => (255.0 * y, 128.0 + 255.0 * u, 128.0 + 255.0 * v),
        };
        let q = |x: f64| x.round().clamp(0.0, 255.0) as u8;
        [q(y), q(u), q(v)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_hex() {
        let c: Rgb = "#FF00fe".parse().unwrap();
        assert_eq!(c, Rgb { r: 255, g: 0, b: 254 });
        assert_eq!(c.to_string(), "#ff00fe");
    }

    #[test]
    fn refuses_malformed_colours() {
        for bad in ["", "ff00ff", "#ff00f", "#ff00ffa", "#gg0000", "#+f00ff", "red"] {
            assert!(bad.parse::<Rgb>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn converts_known_colours() {
        // Reference values of the BT.601 / BT.709 specifications, limited range.
        let white = Rgb { r: 255, g: 255, b: 255 };
        let black = Rgb { r: 0, g: 0, b: 0 };
        assert_eq!(white.to_yuv(Matrix::Bt709, Range::Limited), [235, 128, 128]);
        assert_eq!(black.to_yuv(Matrix::Bt601, Range::Limited), [16, 128, 128]);
        assert_eq!(black.to_yuv(Matrix::Bt601, Range::Full), [0, 128, 128]);
        let red = Rgb { r: 255, g: 0, b: 0 };
        assert_eq!(red.to_yuv(Matrix::Bt601, Range::Limited), [81, 90, 240]);
        assert_eq!(red.to_yuv(Matrix::Bt709, Range::Limited), [63, 102, 240]);
    }
}
