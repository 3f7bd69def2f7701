//! `obscura eval counts`: line crossings counted by the pipeline next to the ground truth's,
//! counted by the same rule from MOTChallenge annotations.

use std::path::PathBuf;

use serde::Serialize;

use crate::count::{CountSettings, ZoneTotals};
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

/// Parses a zone given as `"x0,y0,x1,y1,x2,y2,..."` (normalised 0..1: a polygon's points, at
/// least 3).
pub fn parse_zone(text: &str) -> Result<Vec<Point>, String> {
    let numbers = normalised_numbers(text)?;
    if numbers.len() < 6 || numbers.len() % 2 != 0 {
        return Err(format!("{text:?} is not x0,y0,x1,y1,x2,y2,...: a zone needs 3 or more points"));
    }
    Ok(numbers.chunks_exact(2).map(|p| Point::new(p[0], p[1])).collect())
}

/// The count settings of an evaluation: the defaults, stitching within `stitch_ms`, and dwell
/// bins fine enough to measure a visit's dwell time: 0.1 s wide up to a minute, then 1 s wide up
/// to an hour (a camera's default bins start at 10 s).
pub fn eval_settings(stitch_ms: u64) -> CountSettings {
    let fine = (1..=600).map(|tenth| tenth * 100);
    let coarse = (61..=3600).map(|second| second * 1000);
    CountSettings { stitch_ms, dwell_edges_ms: fine.chain(coarse).collect(), ..CountSettings::default() }
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

/// One zone's figures, the pipeline's next to the ground truth's.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneRow {
    pub zone: String,
    pub polygon: Vec<[f32; 2]>,
    pub truth: ZoneTotals,
    pub obscura: ZoneTotals,
}

impl std::fmt::Display for ZoneRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (ours, truth) = (&self.obscura, &self.truth);
        let dwell = |totals: &ZoneTotals| match totals.dwell_mean_ms {
            Some(ms) => format!("{:.1} s", ms / 1000.0),
            None => "–".to_owned(),
        };
        write!(
            f,
            "{} ({} points): entries {} (truth {}), people inside {:.2} on average (truth {:.2}), at most {} \
             (truth {}), {} visits of {} on average (truth {} of {})",
            self.zone,
            self.polygon.len(),
            ours.entries,
            truth.entries,
            ours.occupancy_mean,
            truth.occupancy_mean,
            ours.occupancy_max,
            truth.occupancy_max,
            ours.visits,
            dwell(ours),
            truth.visits,
            dwell(truth)
        )
    }
}

/// The result of `obscura eval counts`.
#[derive(Debug, Clone, Serialize)]
pub struct CountReport {
    pub video: PathBuf,
    pub frames: u64,
    pub anchor: String,
    pub detect_every: u32,
    pub lines: Vec<LineRow>,
    pub zones: Vec<ZoneRow>,
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
        for row in &self.zones {
            writeln!(f, "{row}")?;
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

    #[test]
    fn zones_parse_as_three_or_more_points() {
        let zone = parse_zone("0.1,0.2, 0.5,0.2, 0.3,0.9").unwrap();
        assert_eq!(zone, [Point::new(0.1, 0.2), Point::new(0.5, 0.2), Point::new(0.3, 0.9)]);
        assert!(parse_zone("0.1,0.2,0.5,0.2").is_err(), "two points");
        assert!(parse_zone("0.1,0.2,0.5,0.2,0.3").is_err(), "an odd count");
        assert!(parse_zone("0.1,0.2,0.5,0.2,0.3,1.2").is_err(), "outside 0..1");
    }

    #[test]
    fn evaluation_dwell_bins_are_a_tenth_of_a_second_up_to_a_minute() {
        let edges = eval_settings(2000).dwell_edges_ms;
        assert_eq!(&edges[..3], [100, 200, 300]);
        assert_eq!(edges[599], 60_000);
        assert_eq!(edges[600], 61_000);
        assert_eq!(edges.last(), Some(&3_600_000));
        assert!(eval_settings(2000).validate().is_ok());
    }
}
