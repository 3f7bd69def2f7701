//! `obscura eval counts`: line crossings counted by the pipeline next to the ground truth's,
//! counted by the same rule from MOTChallenge annotations.

use std::path::PathBuf;

use serde::Serialize;

use crate::count::{Closed, LineTotals};
use crate::geometry::Anchor;
use crate::geometry::Point;

/// Parses a line given as `"x0,y0,x1,y1"` (normalised 0..1: from, then to).
pub fn parse_line(text: &str) -> Result<(Point, Point), String> {
    match normalised_numbers(text)?.as_slice() {
        [x0, y0, x1, y1] => Ok((Point::new(*x0, *y0), Point::new(*x1, *y1))),
        _ => Err(format!("{text:?} is not x0,y0,x1,y1: a line needs 4 numbers")),
    }
}

/// The comma-separated numbers of `text` ("x0,y0,x1,y1"), each in 0..=1.
pub(super) fn normalised_numbers(text: &str) -> Result<Vec<f32>, String> {
    text.split(',')
        .map(|v| v.trim().parse::<f32>().ok().filter(|v| (0.0..=1.0).contains(v)))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("{text:?} is not x0,y0,x1,y1 with numbers between 0 and 1"))
}

/// Parses an anchor name: `bottom` (the foot point, default) or `center`.
pub fn parse_anchor(text: &str) -> Result<Anchor, String> {
    Anchor::from_name(text).ok_or_else(|| format!("unknown anchor {text:?}: expected bottom or center"))
}

/// The sum of the in/out counts of every closed line bucket, per line name, in `names` order.
pub fn totals(names: &[String], closed: &[Closed]) -> Vec<LineTotals> {
    names
        .iter()
        .map(|name| {
            let buckets = closed.iter().flat_map(|c| &c.lines).filter(|b| &b.line == name);
            let (in_count, out_count) = buckets.fold((0, 0), |(i, o), b| (i + b.in_count, o + b.out_count));
            LineTotals { line: name.clone(), in_count, out_count }
        })
        .collect()
}

/// One line's counts.
#[derive(Debug, Clone, Serialize)]
pub struct LineRow {
    pub line: String,
    pub from: [f32; 2],
    pub to: [f32; 2],
    pub truth_in: u64,
    pub truth_out: u64,
    pub obscura_in: u64,
    pub obscura_out: u64,
}

/// The result of `obscura eval counts`.
#[derive(Debug, Clone, Serialize)]
pub struct CountReport {
    pub video: PathBuf,
    pub frames: u64,
    pub anchor: String,
    pub detect_every: u32,
    pub lines: Vec<LineRow>,
}

impl std::fmt::Display for CountReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<8} {:<24} {:>8} {:>8} {:>10} {:>10}",
            "line", "from → to", "truth in", "out", "obscura in", "out"
        )?;
        for row in &self.lines {
            let geometry =
                format!("{:.2},{:.2} → {:.2},{:.2}", row.from[0], row.from[1], row.to[0], row.to[1]);
            writeln!(
                f,
                "{:<8} {:<24} {:>8} {:>8} {:>10} {:>10}",
                row.line, geometry, row.truth_in, row.truth_out, row.obscura_in, row.obscura_out
            )?;
        }
        write!(
            f,
            "{}: {} frames, anchor {}, detection every {} frame(s); truth counted from the annotations by the \
             same rule",
            self.video.display(),
            self.frames,
            self.anchor,
            self.detect_every
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_anchors_parse() {
        assert_eq!(parse_line("0.5,0,0.5,1").unwrap(), (Point::new(0.5, 0.0), Point::new(0.5, 1.0)));
        assert!(parse_line("0.5,0,0.5").is_err());
        assert!(parse_line("0.5,0,1.5,1").is_err());
        assert_eq!(parse_anchor("center").unwrap(), Anchor::Center);
        assert!(parse_anchor("feet").is_err());
    }
}
