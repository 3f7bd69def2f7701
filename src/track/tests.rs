//! Tracker behaviour on synthetic scenes: identities, occlusions, lifecycles, extrapolation.

use super::*;

/// A `w × h` detection centred at `(cx, cy)`.
fn det(cx: f32, cy: f32, w: f32, h: f32, score: f32) -> Detection {
    Detection { rect: rect_from(cx, cy, w, h), score }
}

fn center(r: &Rect) -> (f32, f32) {
    ((r.x0 + r.x1) / 2.0, (r.y0 + r.y1) / 2.0)
}

fn tracker() -> Tracker {
    Tracker::new(TrackerSettings::default()).unwrap()
}

/// A tracker that matches by overlap over gaps of up to 13 frames (not by motion: `far_gap`).
fn tracker_by_overlap() -> Tracker {
    Tracker::new(TrackerSettings { far_gap: 13.0, ..TrackerSettings::default() }).unwrap()
}

fn only(tracker: &Tracker) -> &Track {
    assert_eq!(tracker.tracks().len(), 1, "{:#?}", tracker.tracks());
    &tracker.tracks()[0]
}

/// A person 40×80 px walking right at 4 px/frame from x = 100 (at frame 0).
fn walker(frame: u64) -> Detection {
    det(100.0 + 4.0 * frame as f32, 200.0, 40.0, 80.0, 0.9)
}

/// A tracker that saw [`walker`] every 3rd frame up to 12 and then `next` at frame 15.
fn walked_then(next: Detection) -> Tracker {
    let mut tracker = tracker();
    for f in (0..=12).step_by(3) {
        tracker.update(f, &[walker(f)]).unwrap();
    }
    tracker.update(15, &[next]).unwrap();
    tracker
}

#[track_caller]
fn assert_near(actual: f32, expected: f32, tolerance: f32) {
    assert!((actual - expected).abs() <= tolerance, "{actual} is not within {tolerance} of {expected}");
}

#[test]
fn ids_do_not_swap_when_two_people_cross() {
    // A walks right, B left, 6 px/frame, on the same row; detection every 3rd frame. Their boxes
    // overlap from frame 21 to 27 and are identical at frame 24: only motion tells them apart.
    let a = |f: u64| det(100.0 + 6.0 * f as f32, 200.0, 40.0, 80.0, 0.9);
    let b = |f: u64| det(388.0 - 6.0 * f as f32, 200.0, 40.0, 80.0, 0.9);
    let mut tracker = tracker();
    let mut ids = None;
    for f in (0..=60).step_by(3) {
        // Alternate the order, so ids cannot follow the input order.
        let detections = if f % 2 == 0 { [a(f), b(f)] } else { [b(f), a(f)] };
        tracker.update(f, &detections).unwrap();
        let tracks = tracker.tracks();
        assert_eq!(tracks.len(), 2, "frame {f}: {tracks:#?}");
        let find = |d: Detection| {
            let want = center(&d.rect);
            let t = tracks.iter().find(|t| (center(&t.rect()).0 - want.0).abs() < 5.0);
            t.unwrap_or_else(|| panic!("frame {f}: no track at {want:?}: {tracks:#?}")).id()
        };
        // At frame 24 the two boxes are the same: nothing to tell apart.
        if f != 24 {
            let now = (find(a(f)), find(b(f)));
            assert_eq!(*ids.get_or_insert(now), now, "frame {f}: ids swapped");
        }
    }
    assert!(tracker.tracks().iter().all(|t| t.state() == TrackState::Confirmed));
    assert_eq!(tracker.tracks().iter().map(|t| t.id().get()).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn occluded_track_keeps_its_id_and_box_at_follows_the_motion() {
    let mut tracker = tracker();
    for f in (0..=15).step_by(3) {
        tracker.update(f, &[walker(f)]).unwrap();
    }
    let id = only(&tracker).id();
    // Hidden for 4 passes (12 frames < max_lost 25).
    for f in [18, 21, 24, 27] {
        tracker.update(f, &[]).unwrap();
        let track = only(&tracker);
        assert_eq!(track.state(), TrackState::Lost);
        for g in f - 2..=f {
            let (cx, cy) = center(&tracker.box_at(track, g));
            assert_near(cx, center(&walker(g).rect).0, 3.0);
            assert_near(cy, 200.0, 1.0);
        }
    }
    let stats = tracker.update(30, &[walker(30)]).unwrap();
    assert_eq!(stats.matched_high, 1);
    let track = only(&tracker);
    assert_eq!((track.id(), track.state(), track.last_detection_frame()), (id, TrackState::Confirmed, 30));
}

#[test]
fn reentry_after_max_lost_gets_a_new_id() {
    let mut tracker = tracker();
    for f in (0..=15).step_by(3) {
        tracker.update(f, &[walker(f)]).unwrap();
    }
    let old = only(&tracker).id();
    // Hidden for 30 frames > max_lost, then seen exactly where the motion model says.
    for f in (18..45).step_by(3) {
        tracker.update(f, &[]).unwrap();
    }
    assert!(tracker.tracks().is_empty());
    tracker.update(45, &[walker(45)]).unwrap();
    let track = only(&tracker);
    assert_ne!(track.id(), old);
    assert!(track.id() > old);
    assert_eq!(track.first_detection_frame(), 45);
}

#[test]
fn undetected_track_is_removed_after_max_lost_frames() {
    let mut tracker = tracker();
    for f in 0..=10 {
        tracker.update(f, &[walker(f)]).unwrap();
    }
    let stats = tracker.update(11, &[]).unwrap();
    assert_eq!((stats.lost, stats.removed), (1, 0));
    for f in 12..=35 {
        tracker.update(f, &[]).unwrap();
        assert_eq!(only(&tracker).state(), TrackState::Lost, "frame {f}");
    }
    // 25 frames since the last detection at frame 10: still kept; 26: gone.
    let stats = tracker.update(36, &[]).unwrap();
    assert_eq!(stats.removed, 1);
    assert!(tracker.tracks().is_empty());
}

#[test]
fn velocity_is_per_frame_and_box_at_interpolates_between_passes() {
    let mut tracker = tracker();
    let mover = |f: u64| det(100.0 + 3.0 * f as f32, 200.0, 40.0, 80.0, 0.9);
    for f in (0..=24).step_by(3) {
        tracker.update(f, &[mover(f)]).unwrap();
    }
    let track = only(&tracker);
    let v = track.velocity();
    assert_near(v.cx, 3.0, 0.15);
    assert_near(v.cy, 0.0, 0.05);
    assert_near(v.w, 0.0, 0.05);
    let (now, _) = center(&track.rect());
    assert_near(now, 172.0, 1.0);
    for (g, ahead) in [(25, 3.0), (26, 6.0)] {
        let (cx, _) = center(&tracker.box_at(track, g));
        assert_near(cx - now, ahead, 0.4);
        assert_near(cx, center(&mover(g).rect).0, 1.0);
    }
}

#[test]
fn box_at_extrapolates_back_before_the_first_detection() {
    let mut tracker = tracker();
    let mover = |f: u64| det(100.0 + 4.0 * (f as f32 - 30.0), 200.0, 40.0, 80.0, 0.9);
    tracker.update(27, &[]).unwrap();
    tracker.update(30, &[mover(30)]).unwrap();
    // One detection: no velocity yet, the box stays at the first detection.
    assert_eq!(tracker.box_at(only(&tracker), 20), mover(30).rect);
    for f in (33..=45).step_by(3) {
        tracker.update(f, &[mover(f)]).unwrap();
    }
    let track = only(&tracker);
    assert_eq!(track.first_detection_frame(), 30);
    let (cx, cy) = center(&tracker.box_at(track, 20));
    assert_near(cx, 100.0 - 40.0, 3.0);
    assert_near(cy, 200.0, 1.0);
    // Clamped: 100 frames back moves no further than max_extrapolation (25) frames.
    assert_eq!(tracker.box_at(track, 0), tracker.box_at(track, 5));
    assert!(center(&tracker.box_at(track, 5)).0 < cx);
}

#[test]
fn box_at_stops_after_max_extrapolation_frames() {
    let mut tracker = tracker();
    for f in (0..=15).step_by(3) {
        tracker.update(f, &[walker(f)]).unwrap();
    }
    let track = only(&tracker);
    assert_eq!(tracker.box_at(track, 40), tracker.box_at(track, 400));
    assert_near(center(&tracker.box_at(track, 40)).0, center(&walker(40).rect).0, 5.0);
}

#[test]
fn box_at_moves_an_extrapolated_box_at_its_detected_size() {
    // A box that doubled over its first detections (noise, or a box cut by the frame's edge):
    // its size velocity is not carried on; the box moves at the size of the detection it is
    // extrapolated from (forwards after the latest, backwards before the first), and the margin
    // grows instead.
    let mut tracker = tracker();
    let grower =
        |f: u64| det(100.0 + 4.0 * f as f32, 200.0, 40.0 + 8.0 * f as f32, 80.0 + 16.0 * f as f32, 0.9);
    tracker.update(0, &[]).unwrap();
    for f in (3..=9).step_by(3) {
        tracker.update(f, &[grower(f)]).unwrap();
    }
    let track = only(&tracker);
    let (first, latest) = (tracker.box_at(track, 3), tracker.box_at(track, 9));
    assert!(latest.width() > 1.5 * first.width());
    for f in [12, 15, 30] {
        let r = tracker.box_at(track, f);
        assert_near(r.width(), latest.width(), 1e-3);
        assert_near(r.height(), latest.height(), 1e-3);
        assert!(center(&r).0 > center(&latest).0, "frame {f}: the centre still moves on");
    }
    assert!(tracker.margin_at(track, 30) > tracker.margin_at(track, 12));
    let before = tracker.box_at(track, 0);
    assert_near(before.width(), first.width(), 1e-3);
    assert_near(before.height(), first.height(), 1e-3);
    assert!(center(&before).0 < center(&first).0, "the look-ahead box moves back along the way");
}

#[test]
fn a_box_cut_lower_than_its_track_expected_is_masked_up_to_where_the_head_was() {
    // The walker, 80 px tall with its top at y = 160, leaves the frame at its side: its last
    // box is a sliver whose top the detector places 16 px low (bottom unchanged).
    let mut tracker = tracker();
    for f in (0..=9).step_by(3) {
        tracker.update(f, &[walker(f)]).unwrap();
        assert!(only(&tracker).reach_at(f) < 0.5, "frame {f}: a steady box reaches no higher");
    }
    let sliver = Detection { rect: Rect::new(136.0, 176.0, 148.0, 240.0), score: 0.6 };
    tracker.update(12, &[sliver]).unwrap();
    let track = only(&tracker);
    // Matching, counting and the masks' box keep the filtered box, whose top came down…
    let filtered = track.rect();
    assert!(filtered.y0 > 163.0, "{filtered:?}");
    assert_eq!(tracker.box_at(track, 12), filtered);
    // …while its mask reaches up to the top the track predicted, by at most a quarter of its
    // height; between passes and after the latest detection too.
    let reach = track.reach_at(12);
    assert!(reach > 3.0 && filtered.y0 - reach >= 160.0 - 0.5, "reach {reach} above {filtered:?}");
    assert!(reach <= REACH_UP * filtered.height() + 1e-3);
    assert_eq!(track.reach_at(13), reach);
    assert_eq!(track.reach_at(11), reach, "between two detections, the larger reach");
    assert_eq!(track.reach_at(2), 0.0, "between two steady detections");
    // A box whose top comes in higher than the track expected reaches no higher.
    let taller = Detection { rect: rect_from(100.0 + 4.0 * 15.0, 190.0, 40.0, 100.0), score: 0.9 };
    assert_eq!(only(&walked_then(taller)).reach_at(15), 0.0);
    assert_eq!(track.sink_at(12), 0.0, "a box cut lower at the top sinks no deeper");
}

#[test]
fn a_box_grown_upwards_past_its_track_has_its_head_mask_reach_down_to_where_the_head_was() {
    // The walker, 80 px tall with its top at y = 160, is found 100 px tall on the same feet: the
    // box took in something above the head (a dark shrub behind a dark coat).
    let mut tracker = tracker();
    for f in (0..=12).step_by(3) {
        tracker.update(f, &[walker(f)]).unwrap();
        assert!(only(&tracker).sink_at(f) < 0.5, "frame {f}: a steady box sinks no deeper");
    }
    let taller = Detection { rect: rect_from(100.0 + 4.0 * 15.0, 190.0, 40.0, 100.0), score: 0.6 };
    tracker.update(15, &[taller]).unwrap();
    let track = only(&tracker);
    // Matching, counting and the masks' box keep the filtered box, whose top went up…
    let filtered = track.rect();
    assert!(filtered.y0 < 157.0, "{filtered:?}");
    assert_eq!(tracker.box_at(track, 15), filtered);
    // …while its head mask reaches deeper by as much as the top went up past the track's
    // prediction, by at most a quarter of its height; between passes and after it too.
    let sink = track.sink_at(15);
    assert!(sink > 3.0 && filtered.y0 + sink <= 160.0 + 0.5, "sink {sink} into {filtered:?}");
    assert!(sink <= REACH_UP * filtered.height() + 1e-3);
    assert_eq!(track.sink_at(16), sink);
    assert_eq!(track.sink_at(14), sink, "between two detections, the larger sink");
    assert_eq!(track.sink_at(5), 0.0, "between two steady detections");
    assert_eq!(track.reach_at(15), 0.0, "nor does it reach higher");
    // A box that moved up whole (its height as predicted) moved its head with it.
    let up = Detection { rect: rect_from(100.0 + 4.0 * 15.0, 180.0, 40.0, 80.0), score: 0.6 };
    assert_eq!(only(&walked_then(up)).sink_at(15), 0.0);
    // A box the detector is sure of (0.9) is taken at its top.
    assert_eq!(only(&walked_then(Detection { score: 0.9, ..taller })).sink_at(15), 0.0);
}

#[test]
fn low_score_detections_continue_a_track_but_never_start_one() {
    let mut tracker = tracker();
    let weak = |f: u64| Detection { score: 0.3, ..walker(f) };
    let clutter = det(600.0, 400.0, 40.0, 80.0, 0.3);
    for f in (0..=9).step_by(3) {
        tracker.update(f, &[walker(f), clutter]).unwrap();
    }
    let id = only(&tracker).id();
    // 45 frames of only weak boxes: far longer than max_lost, so only the second stage keeps it.
    for f in (12..=54).step_by(3) {
        let stats = tracker.update(f, &[clutter, weak(f)]).unwrap();
        assert_eq!((stats.matched_high, stats.matched_low, stats.started), (0, 1, 0), "frame {f}");
        let track = only(&tracker);
        assert_eq!((track.id(), track.state(), track.last_detection_frame()), (id, TrackState::Confirmed, f));
    }
    let mut fresh = Tracker::new(TrackerSettings::default()).unwrap();
    for f in 0..10 {
        fresh.update(f, &[weak(f), clutter]).unwrap();
    }
    assert!(fresh.tracks().is_empty());
}

#[test]
fn weak_boxes_continue_a_track_for_counting_while_its_masks_go_on_as_a_lost_tracks() {
    let mut tracker = tracker();
    for f in (0..=15).step_by(3) {
        tracker.update(f, &[walker(f)]).unwrap();
    }
    let id = only(&tracker).id();
    // Only the walker's lower three quarters show, found below the detector's threshold: a weak
    // box.
    let legs = |f: u64| det(100.0 + 4.0 * f as f32, 210.0, 40.0, 60.0, 0.15);
    let clutter = det(600.0, 400.0, 40.0, 80.0, 0.15);
    // Far longer than max_lost (25): only the weak boxes keep the track.
    for f in (18..=60).step_by(3) {
        let stats = tracker.update_weak(f, &[], &[legs(f), clutter]).unwrap();
        assert_eq!((stats.matched_high, stats.matched_low, stats.started), (0, 1, 0), "frame {f}");
        let track = only(&tracker);
        assert_eq!((track.id(), track.state(), track.last_matched_frame()), (id, TrackState::Confirmed, f));
        assert_eq!(track.last_detection_frame(), 15, "not detected for masking");
        // Masks go on from the latest detection, the whole walker's box, not the legs'.
        let r = tracker.box_at(track, f);
        assert_eq!(r.height(), 80.0);
        assert_near(center(&r).1, 200.0, 1.0);
        if f <= 15 + 25 {
            assert_near(center(&r).0, center(&walker(f).rect).0, 5.0);
            assert!(tracker.kept_at(track, f));
        } else {
            assert!(!tracker.kept_at(track, f), "masked no longer than a lost track");
        }
    }
    // Found again whole, the track masks from there, interpolating back to its last detection.
    tracker.update(63, &[walker(63)]).unwrap();
    let track = only(&tracker);
    assert_eq!((track.id(), track.last_detection_frame()), (id, 63));
    assert_near(center(&tracker.box_at(track, 39)).0, center(&walker(39).rect).0, 3.0);
    // Weak boxes alone never start a track.
    let mut fresh = tracker_in(800.0, 600.0);
    for f in 0..10 {
        fresh.update_weak(f, &[], &[legs(f), clutter]).unwrap();
    }
    assert!(fresh.tracks().is_empty());
}

#[test]
fn low_score_detections_do_not_revive_a_lost_track() {
    let mut tracker = tracker();
    for f in (0..=9).step_by(3) {
        tracker.update(f, &[walker(f)]).unwrap();
    }
    tracker.update(12, &[]).unwrap();
    let stats = tracker.update(15, &[Detection { score: 0.3, ..walker(15) }]).unwrap();
    assert_eq!(stats.matched_low, 0);
    assert_eq!(only(&tracker).state(), TrackState::Lost);
}

#[test]
fn tentative_tracks_need_min_hits_unless_confident() {
    let mut tracker = tracker();
    let unsure = |f: u64| Detection { score: 0.6, ..walker(f) };
    let sure = |f: u64| det(500.0 + f as f32, 100.0, 30.0, 30.0, 0.85);
    tracker.update(0, &[unsure(0), sure(0)]).unwrap();
    let states: Vec<_> = tracker.tracks().iter().map(Track::state).collect();
    assert_eq!(states, [TrackState::Tentative, TrackState::Confirmed]);
    tracker.update(3, &[unsure(3)]).unwrap();
    let states: Vec<_> = tracker.tracks().iter().map(Track::state).collect();
    assert_eq!(states, [TrackState::Confirmed, TrackState::Lost]);

    // A tentative track missed once is dropped, not kept lost.
    let mut tracker = Tracker::new(TrackerSettings::default()).unwrap();
    tracker.update(0, &[unsure(0)]).unwrap();
    let stats = tracker.update(3, &[]).unwrap();
    assert_eq!(stats.removed, 1);
    assert!(tracker.tracks().is_empty());
}

#[test]
fn a_tentative_track_seen_next_only_by_a_low_score_box_is_dropped_but_masked_on_from_it() {
    let mut tracker = tracker();
    let unsure = |f: u64| Detection { score: 0.6, ..walker(f) };
    let faint = |f: u64| Detection { score: 0.3, ..walker(f) };
    let clutter = det(600.0, 400.0, 40.0, 80.0, 0.3);
    tracker.update(0, &[unsure(0)]).unwrap();
    let id = only(&tracker).id();
    // Next pass, only a low-score box where it was heading (someone half hidden, or coming in at
    // the picture's edge): dropped from tracking as ever, nothing left to match or count…
    let stats = tracker.update(3, &[faint(3), clutter]).unwrap();
    assert_eq!((stats.removed, stats.matched_low, stats.started), (1, 0, 0));
    assert!(tracker.tracks().is_empty());
    // …but masked on from that box, as a removed lost track's coasting is, until the next pass
    // is due (3 frames on).
    let [retired] = tracker.retired() else { panic!("{:#?}", tracker.retired()) };
    assert_eq!((retired.id(), retired.last_detection_frame()), (id, 3));
    assert_near(center(&tracker.box_at(retired, 3)).0, center(&faint(3).rect).0, 6.0);
    assert!((3..=6).all(|f| tracker.kept_at(retired, f)));
    assert!(!tracker.kept_at(retired, 7));
    // With nothing where it was, a tentative track is dropped and not masked on.
    let mut tracker = tracker_in(800.0, 600.0);
    tracker.update(0, &[unsure(0)]).unwrap();
    tracker.update(3, &[clutter]).unwrap();
    assert!(tracker.tracks().is_empty() && tracker.retired().is_empty());
}

#[test]
fn margin_grows_with_frames_since_the_detection_and_is_capped() {
    let mut tracker = tracker();
    for f in (30..=45).step_by(3) {
        tracker.update(f, &[walker(f)]).unwrap();
    }
    let track = only(&tracker);
    assert_eq!(tracker.margin_at(track, 45), 1.0);
    assert_near(tracker.margin_at(track, 46), 1.02, 1e-5);
    assert_near(tracker.margin_at(track, 55), 1.2, 1e-5);
    assert_near(tracker.margin_at(track, 70), 1.5, 1e-5);
    assert_eq!(tracker.margin_at(track, 95), 2.0);
    assert_eq!(tracker.margin_at(track, 10_000), 2.0);
    // Back over the track's life, from the latest detection; before it, from the first.
    assert_near(tracker.margin_at(track, 40), 1.1, 1e-5);
    assert_near(tracker.margin_at(track, 20), 1.2, 1e-5);
    let margins: Vec<f32> = (45..100).map(|f| tracker.margin_at(track, f)).collect();
    assert!(margins.windows(2).all(|w| w[0] <= w[1]), "{margins:?}");
}

#[test]
fn anchors_are_the_centre_and_the_bottom_centre() {
    let r = Rect::new(10.0, 20.0, 50.0, 100.0);
    assert_eq!(Anchor::Center.point(&r), Point::new(30.0, 60.0));
    assert_eq!(Anchor::BottomCenter.point(&r), Point::new(30.0, 100.0));
}

#[test]
fn same_input_gives_the_same_tracks_sorted_by_id() {
    let run = || {
        let mut tracker = tracker();
        let mut seed = 0x1234_5678_9abc_def1_u64;
        let mut noise = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 1000) as f32 / 100.0 - 5.0
        };
        for f in (0..300).step_by(3) {
            let detections: Vec<Detection> = (0..8)
                .filter(|i| (f / 3 + i) % 7 != 0)
                .map(|i| {
                    let x = 50.0 + 80.0 * i as f32 + (f as f32 * (i as f32 - 3.5)) % 300.0;
                    let y = 200.0 + 30.0 * (i % 3) as f32;
                    det(x + noise(), y + noise(), 40.0, 80.0, 0.3 + 0.08 * i as f32)
                })
                .collect();
            tracker.update(f, &detections).unwrap();
            let ids: Vec<TrackId> = tracker.tracks().iter().map(Track::id).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "frame {f}: {ids:?}");
        }
        tracker.tracks().to_vec()
    };
    let first = run();
    assert!(!first.is_empty());
    assert_eq!(first, run());
}

#[test]
fn a_frame_index_that_does_not_increase_is_refused() {
    let mut tracker = tracker();
    tracker.update(10, &[walker(10)]).unwrap();
    let before = tracker.tracks().to_vec();
    for frame in [10, 3] {
        let err = tracker.update(frame, &[walker(frame)]).unwrap_err();
        assert_eq!(err, TrackError::FrameNotAfter { frame, previous: 10 });
    }
    assert_eq!(tracker.tracks(), before);
    assert_eq!(tracker.last_frame(), Some(10));
}

#[test]
fn invalid_detections_are_counted_and_ignored() {
    let mut tracker = tracker();
    let nan = det(f32::NAN, 10.0, 10.0, 10.0, 0.9);
    let empty = det(10.0, 10.0, 0.0, 10.0, 0.9);
    let no_score = Detection { score: f32::NAN, ..walker(0) };
    let stats = tracker.update(0, &[nan, empty, no_score, walker(0)]).unwrap();
    assert_eq!((stats.invalid, stats.started), (3, 1));
    assert_eq!(only(&tracker).rect(), walker(0).rect);
}

#[test]
fn bad_settings_name_the_field() {
    let cases = [
        ("high", TrackerSettings { low: 0.6, high: 0.5, ..Default::default() }),
        ("match_iou", TrackerSettings { match_iou: 0.0, ..Default::default() }),
        ("min_hits", TrackerSettings { min_hits: 0, ..Default::default() }),
        ("margin_cap", TrackerSettings { margin_cap: 0.5, ..Default::default() }),
        ("far_gap", TrackerSettings { far_gap: f32::NAN, ..Default::default() }),
        ("far_gap", TrackerSettings { far_gap: -1.0, ..Default::default() }),
        ("frame_length", TrackerSettings { frame_length: 0.0, ..Default::default() }),
        ("frame_length", TrackerSettings { frame_length: f32::INFINITY, ..Default::default() }),
    ];
    for (field, settings) in cases {
        match Tracker::new(settings) {
            Err(TrackError::InvalidSetting { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(TrackerSettings::default().validate().is_ok());
    assert!(TrackerSettings { far_gap: f32::INFINITY, ..Default::default() }.validate().is_ok());
}

#[test]
fn a_detection_ahead_of_the_motion_is_preferred_when_overlap_cannot_tell() {
    // A track walking right at 5 px/frame, detected every 3rd frame, last at x = 85; at the next
    // pass its prediction is at about x = 100. One detection is behind where it was last seen
    // (x = 83), one ahead (x = 118); the one behind overlaps the prediction as much or more.
    let run = |direction_weight: f32| {
        let settings = TrackerSettings { direction_weight, ..TrackerSettings::default() };
        let mut tracker = Tracker::new(settings).unwrap();
        for pass in 0..4u64 {
            let f = 3 * pass;
            tracker.update(f, &[det(40.0 + 5.0 * f as f32, 200.0, 40.0, 80.0, 0.9)]).unwrap();
        }
        let id = only(&tracker).id();
        let (behind, ahead) = (det(83.0, 200.0, 40.0, 80.0, 0.9), det(118.0, 200.0, 40.0, 80.0, 0.9));
        tracker.update(12, &[behind, ahead]).unwrap();
        center(&tracker.track(id).unwrap().rect()).0
    };
    assert!(run(0.2) > 100.0, "with the direction term the track follows the detection ahead");
    assert!(run(0.0) < 100.0, "by overlap alone it takes the one behind (so the test can fail)");
}

#[test]
fn between_two_detections_the_box_goes_straight_from_one_to_the_other() {
    // A person who stood still, then walked: a velocity estimated over both lags the walk, and
    // extrapolating back from the latest box would put them where they were not.
    let mut tracker = tracker();
    let x = |f: u64| if f <= 12 { 100.0 } else { 100.0 + 5.0 * (f - 12) as f32 };
    for f in (0..=24).step_by(3) {
        tracker.update(f, &[det(x(f), 200.0, 40.0, 80.0, 0.9)]).unwrap();
    }
    let track = only(&tracker);
    for (a, b) in [(15, 18), (18, 21)] {
        let (ra, rb) = (tracker.box_at(track, a), tracker.box_at(track, b));
        for f in a + 1..b {
            let t = (f - a) as f32 / (b - a) as f32;
            let r = tracker.box_at(track, f);
            assert_near(r.x0, ra.x0 + (rb.x0 - ra.x0) * t, 1e-3);
            assert_near(r.y1, ra.y1 + (rb.y1 - ra.y1) * t, 1e-3);
        }
    }
    // Each kept detection is its own filtered box, however far back in the kept ones.
    assert_near(center(&tracker.box_at(track, 15)).0, x(15), 6.0);
    assert_near(center(&tracker.box_at(track, 18)).0, x(18), 6.0);
}

#[test]
fn a_track_ending_where_another_starts_within_reach_is_bridged_for_masks_only() {
    // 120 px tall, walking 8 px/frame, detected at 0 and 13: 104 px apart, no overlap, so a new
    // track. Someone stands at x = 600 throughout.
    // Matched by overlap alone (not by motion: `far_gap`), as at the cadence.
    let mut tracker = tracker_by_overlap();
    let walk = |f: u64| det(100.0 + 8.0 * f as f32, 200.0, 40.0, 120.0, 0.9);
    let stander = det(600.0, 200.0, 40.0, 120.0, 0.9);
    tracker.update(0, &[walk(0), stander]).unwrap();
    // At 13 also someone twice as tall near where the walker was, and someone out of reach.
    let (giant, far) = (det(200.0, 200.0, 80.0, 240.0, 0.9), det(100.0, 420.0, 40.0, 120.0, 0.9));
    tracker.update(13, &[walk(13), giant, far, stander]).unwrap();
    let ids: Vec<u64> = tracker.tracks().iter().map(|t| t.id().get()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5], "the walker's track is lost and restarted; the stander's continues");
    let bridged: Vec<(Rect, f32, u64)> = tracker.bridges_at(6).collect();
    assert_eq!(bridged.len(), 1, "{bridged:?}");
    let (r, score, d) = bridged[0];
    assert_near(center(&r).0, center(&walk(6).rect).0, 1.0);
    assert_eq!((score, d), (0.9, 6));
    assert_eq!(tracker.bridges_at(0).count() + tracker.bridges_at(13).count(), 0, "only strictly between");
    tracker.forget_retired(13);
    assert_eq!(tracker.bridges_at(6).count(), 0);
    // Off.
    let mut off = Tracker::new(TrackerSettings { bridge_speed: 0.0, ..TrackerSettings::default() }).unwrap();
    off.update(0, &[walk(0)]).unwrap();
    off.update(13, &[walk(13)]).unwrap();
    assert_eq!(off.bridges_at(6).count(), 0);
}

#[test]
fn a_track_that_ends_near_the_edge_it_was_heading_for_is_swept_towards_it() {
    // 120 px tall, walking left at 6 px/frame in a 640 px wide frame, detected every 3rd frame
    // from x = 130, then passes 13 frames apart: gone (out of the frame, or not detected half out
    // of it) at the pass after frame 12.
    let walk = |f: u64| det(130.0 - 6.0 * f as f32, 200.0, 40.0, 120.0, 0.9);
    let mut tracker = tracker_in(640.0, 480.0);
    for f in (0..=12).step_by(3) {
        tracker.update(f, &[walk(f)]).unwrap();
    }
    tracker.update(25, &[]).unwrap();
    for f in 13..25 {
        let x = center(&walk(f).rect).0;
        let swept: Vec<Rect> = tracker.bridges_at(f).map(|(r, _, _)| r).collect();
        let covered = swept.iter().any(|r| r.x0 <= x && x <= r.x1);
        assert!(covered || x < 0.0, "frame {f}: the walker's centre at x = {x:.0}: {swept:?}");
    }
    assert_eq!(tracker.bridges_at(18).count(), 1, "one edge, the one ahead");
    // Someone standing as near the right edge is not swept (neither heading for it nor touching).
    let mut still = tracker_in(640.0, 480.0);
    for f in (0..=12).step_by(3) {
        still.update(f, &[det(500.0, 200.0, 40.0, 120.0, 0.9)]).unwrap();
    }
    still.update(25, &[]).unwrap();
    assert_eq!(still.bridges_at(18).count(), 0);
}

fn tracker_in(width: f32, height: f32) -> Tracker {
    let mut tracker = tracker();
    tracker.set_bounds(width, height);
    tracker
}

#[test]
fn after_a_pass_put_off_an_ended_track_is_bridged_to_a_track_that_took_its_person() {
    // The walker (120 px tall, 8 px/frame) at x = 100, someone at 190; 13 frames later one
    // person is found, at 204: where the walker got to, and overlapping the other's box, whose
    // track takes the detection. The walker's track ends with no track born or found again.
    let run = |put_off: bool| {
        // Matched by overlap (see below for motion).
        let mut tracker = tracker_by_overlap();
        tracker
            .update(0, &[det(100.0, 200.0, 40.0, 120.0, 0.9), det(190.0, 200.0, 40.0, 120.0, 0.9)])
            .unwrap();
        tracker.set_put_off(put_off);
        tracker.update(13, &[det(204.0, 200.0, 40.0, 120.0, 0.9)]).unwrap();
        assert_eq!(tracker.tracks().iter().map(|t| t.id().get()).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(tracker.tracks()[1].last_detection_frame(), 13, "the other's track took it");
        tracker.bridges_at(6).map(|(r, _, _)| center(&r).0).collect::<Vec<f32>>()
    };
    assert!(run(false).is_empty(), "at the cadence: only tracks born or found again are bridged to");
    let bridged = run(true);
    assert_eq!(bridged.len(), 1, "{bridged:?}");
    assert_near(bridged[0], 100.0 + 8.0 * 6.0, 2.0);
    // Matched by motion (the default over 13 frames), the nearer track takes the person too, and
    // the walker is bridged all the same, at the cadence as well: the match may be the wrong one.
    for put_off in [false, true] {
        let mut tracker = tracker();
        tracker
            .update(0, &[det(100.0, 200.0, 40.0, 120.0, 0.9), det(190.0, 200.0, 40.0, 120.0, 0.9)])
            .unwrap();
        tracker.set_put_off(put_off);
        tracker.update(13, &[det(204.0, 200.0, 40.0, 120.0, 0.9)]).unwrap();
        assert_eq!(tracker.tracks()[1].last_detection_frame(), 13, "the nearer track took it");
        let bridged: Vec<f32> = tracker.bridges_at(6).map(|(r, _, _)| center(&r).0).collect();
        assert!(bridged.iter().any(|&x| (x - (100.0 + 8.0 * 6.0)).abs() < 2.0), "{bridged:?}");
    }
}

/// The tracks detected at `frame`, as (id, detections).
fn detected_at(tracker: &Tracker, frame: u64) -> Vec<(u64, u32)> {
    tracker
        .tracks()
        .iter()
        .filter(|t| t.last_detection_frame() == frame)
        .map(|t| (t.id().get(), t.hits()))
        .collect()
}

#[test]
fn passes_far_apart_match_by_motion_where_no_box_overlaps() {
    // The walker (40 px wide, 4 px/frame) detected every 13th frame, as a live camera behind
    // detection is: 52 px a pass, further than their width, so their boxes never overlap.
    let run = |settings: TrackerSettings| {
        let mut tracker = Tracker::new(settings).unwrap();
        for f in (0..=52).step_by(13) {
            tracker.update(f, &[walker(f)]).unwrap();
        }
        detected_at(&tracker, 52)
    };
    assert_eq!(run(TrackerSettings::default()), [(1, 5)]);
    // By overlap alone (the gap not over `far_gap`) the person restarts at every pass.
    assert_eq!(run(TrackerSettings { far_gap: 13.0, ..TrackerSettings::default() }), [(5, 1)]);
    // A first detection too unsure to confirm a track at once is confirmed by the second.
    let mut tracker = tracker();
    let unsure = |f: u64| Detection { score: 0.6, ..walker(f) };
    tracker.update(0, &[unsure(0)]).unwrap();
    tracker.update(13, &[unsure(13)]).unwrap();
    assert_eq!(only(&tracker).state(), TrackState::Confirmed);
}

#[test]
fn people_walking_in_a_file_keep_their_tracks_across_long_gaps() {
    // Two walkers 60 px apart one behind the other, detected 13 frames apart: at each pass the
    // one behind is nearly where the one in front was (their boxes overlap 0.67), and only motion
    // tells them apart.
    let front = |f: u64| det(160.0 + 4.0 * f as f32, 200.0, 40.0, 80.0, 0.9);
    let mut tracker = tracker();
    for f in (0..=52).step_by(13) {
        tracker.update(f, &[walker(f), front(f)]).unwrap();
        assert_eq!(detected_at(&tracker, f), [(1, 1 + f as u32 / 13), (2, 1 + f as u32 / 13)], "frame {f}");
        let x = |id: u64| center(&tracker.track(TrackId(id)).unwrap().rect()).0;
        assert!(x(1) < x(2), "frame {f}: the tracks swapped people");
    }
    // Someone standing where nobody could have walked to is a new track, not a far match.
    tracker.update(65, &[walker(65), front(65), det(900.0, 200.0, 40.0, 80.0, 0.9)]).unwrap();
    assert_eq!(detected_at(&tracker, 65), [(1, 6), (2, 6), (3, 1)]);
}

#[test]
fn the_box_counted_follows_a_walker_on_a_slow_stream_without_changing_matching() {
    // 5 fps, every frame detected: a person 40x80 walking right at 16 px a frame (1 height a
    // second). The matching filter's velocity starts at rest and follows per frame, whatever a
    // frame lasts: its box lags the person (2.6 px after four frames here); the counting
    // filter's noise is per 1/25 s, so it follows as soon in seconds as at 25 fps (0.1 px).
    let slow = TrackerSettings { frame_length: 5.0, ..Default::default() };
    let walk = |f: u64| det(100.0 + 16.0 * f as f32, 200.0, 40.0, 80.0, 0.9);
    let mut at_five = Tracker::new(slow).unwrap();
    let mut as_stated = tracker();
    for f in 0..=3 {
        at_five.update(f, &[walk(f)]).unwrap();
        as_stated.update(f, &[walk(f)]).unwrap();
    }
    let track = only(&at_five);
    let truth = center(&walk(3).rect).0;
    let lag = |r: &Rect| truth - center(r).0;
    assert!(
        lag(&track.rect()) > 2.0,
        "the matching filter lags: {} {}",
        lag(&track.rect()),
        lag(&track.counted_rect())
    );
    assert!(lag(&track.counted_rect()) < 0.25 * lag(&track.rect()), "{}", lag(&track.counted_rect()));
    // Matching is the same at any frame length; at 25 fps the counted box is the matching one.
    assert_eq!(track.rect(), only(&as_stated).rect());
    assert_eq!(only(&as_stated).counted_rect(), only(&as_stated).rect());
    // A weak box that continues the track moves the counted box too (it is where counting sees
    // the person at that pass).
    let before = only(&at_five).counted_rect();
    let weak = det(center(&only(&at_five).rect()).0 + 12.0, 200.0, 40.0, 80.0, 0.15);
    at_five.update_weak(4, &[], &[weak]).unwrap();
    assert_eq!(only(&at_five).last_matched_frame(), 4, "the weak box continued the track");
    assert_ne!(only(&at_five).counted_rect(), before);
}
