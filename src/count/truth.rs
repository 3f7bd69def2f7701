//! Ground-truth line counts for `obscura eval counts`: annotated tracks run through the same
//! [`Counter`] as the pipeline's tracks, so the two counts are comparable.

use std::hash::Hash;

use serde::Serialize;

use super::{CountError, CountSettings, Counter, Line, Pass};
use crate::geometry::Rect;

/// One line's crossings over a whole video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineTotals {
    pub line: String,
    pub in_count: u64,
    pub out_count: u64,
}

/// The crossings of `lines` by annotated tracks (MOTChallenge ground truth: per frame, in order,
/// each annotated person's id and box in pixels of a `width`×`height` frame), with the rule and
/// hysteresis of `settings` that the pipeline's [`Counter`] uses. An id is one person for the whole
/// video: an id missing from some frames (occlusion) keeps its state.
///
/// Give every frame for the true count, or only the frames the pipeline detects on to see what
/// the detection interval alone costs.
pub fn line_totals<K, F, B>(
    lines: &[Line],
    settings: &CountSettings,
    width: u32,
    height: u32,
    frames: F,
) -> Result<Vec<LineTotals>, CountError>
where
    K: Copy + Eq + Hash,
    F: IntoIterator<Item = B>,
    B: IntoIterator<Item = (K, Rect)>,
{
    let mut counter = Counter::new("ground truth", lines.to_vec(), Vec::new(), settings)?;
    let mut tracks = Vec::new();
    for frame in frames {
        tracks.clear();
        tracks.extend(frame);
        // One timestamp for all: time only matters to buckets, and this sums them all.
        counter.observe(&Pass { time_ms: 0, width, height, tracks: &tracks, tentative: &[], ended: &[] })?;
    }
    let buckets = counter.close_all().lines;
    Ok(lines
        .iter()
        .map(|line| {
            let mine = buckets.iter().filter(|bucket| bucket.line == line.name());
            let (in_count, out_count) =
                mine.fold((0, 0), |(i, o), bucket| (i + bucket.in_count, o + bucket.out_count));
            LineTotals { line: line.name().to_owned(), in_count, out_count }
        })
        .collect())
}
