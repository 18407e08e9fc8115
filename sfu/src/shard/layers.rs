//! Simulcast layer choice, pure functions of what was measured: which layers
//! are heard, which one a subscriber's quality and bandwidth share allow, and
//! when to switch (down at once, up with headroom and after a hold).

use std::time::{Duration, Instant};

use str0m::media::Rid;

use super::{Layer, TrackOut};
use crate::Quality;

/// How often a subscriber's simulcast layer choice is revisited.
pub(super) const LAYER_REVIEW: Duration = Duration::from_secs(1);
/// After a subscriber's layer went down, this long before it may go up again
/// (each switch costs a keyframe; an estimate that swings must not make the
/// layer swing with it).
const UPGRADE_HOLD: Duration = Duration::from_secs(5);
/// An up-switch needs this much of the better layer's bitrate in the budget
/// (numerator / 4: 125 %).
const UPGRADE_HEADROOM_QUARTERS: u64 = 5;
/// A layer not heard from for this long is not chosen.
const LAYER_STALE: Duration = Duration::from_millis(1500);

/// Layers heard recently, best first (by measured bitrate).
pub(super) fn ranked_layers(layers: &[Layer], now: Instant) -> Vec<(Option<Rid>, u64)> {
    let mut v: Vec<(Option<Rid>, u64)> = layers
        .iter()
        .filter(|l| now.duration_since(l.last_seen) < LAYER_STALE)
        .map(|l| (l.rid, l.bitrate))
        .collect();
    v.sort_by_key(|l| std::cmp::Reverse(l.1));
    v
}

/// The layer for a subscriber: no better than its asked-for quality, and the
/// best that fits its share of the estimated bandwidth (the lowest if none).
pub(super) fn pick_layer(ranked: &[(Option<Rid>, u64)], quality: Quality, budget: Option<u64>) -> Option<Rid> {
    if ranked.is_empty() {
        return None;
    }
    let last = ranked.len() - 1;
    let cap = match quality {
        Quality::High => 0,
        Quality::Medium => 1.min(last),
        Quality::Low => last,
    };
    let fits = |br: u64| budget.is_none_or(|b| br <= b);
    ranked[cap..]
        .iter()
        .find(|(_, br)| fits(*br))
        .map(|(r, _)| *r)
        .unwrap_or(ranked[last].0)
}

/// The layer a subscriber should get: down at once when the budget no longer
/// fits the current target, up only with headroom and not soon after a down.
/// Returns (target, whether it went down).
pub(super) fn review_layer(
    ranked: &[(Option<Rid>, u64)],
    quality: Quality,
    budget: Option<u64>,
    target: Option<Rid>,
    first: bool,
    holding: bool,
) -> (Option<Rid>, bool) {
    // `fits` also honours the quality cap, so a lowered cap goes down here too.
    let fits = pick_layer(ranked, quality, budget);
    if first {
        // The first estimate is only the configured guess: start on the
        // lowest layer (its keyframe is the smallest, so the first picture
        // comes soonest) and go up at the next review if the budget allows.
        return (ranked.last().map(|l| l.0).unwrap_or(fits), false);
    }
    let rank = |r: Option<Rid>| ranked.iter().position(|(x, _)| *x == r);
    let Some(current) = rank(target) else {
        return (fits, false);
    };
    let fits_rank = rank(fits).unwrap_or(usize::MAX);
    if fits_rank > current {
        return (fits, true);
    }
    let up = pick_layer(
        ranked,
        quality,
        budget.map(|b| b.saturating_mul(4) / UPGRADE_HEADROOM_QUARTERS),
    );
    if !holding && rank(up).is_some_and(|u| u < current) {
        return (up, false);
    }
    (target, false)
}

/// What to do with a frame of a layer for one subscriber.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Gate {
    Send,
    /// Not sent: it is the wanted layer but not a keyframe (ask for one).
    WantKeyframe,
    Skip,
}

impl TrackOut {
    /// Revisits the subscriber's target layer at most every `LAYER_REVIEW`
    /// (`reviewed` cleared: at once).
    pub(super) fn review(
        &mut self,
        ranked: &[(Option<Rid>, u64)],
        quality: Quality,
        budget: Option<u64>,
        now: Instant,
    ) {
        if self.reviewed.is_some_and(|t| now.duration_since(t) < LAYER_REVIEW) {
            return;
        }
        let first = self.reviewed.is_none();
        let holding = self.down_at.is_some_and(|t| now.duration_since(t) < UPGRADE_HOLD);
        let (target, down) = review_layer(ranked, quality, budget, self.target, first, holding);
        if down {
            self.down_at = Some(now);
        }
        self.target = target;
        self.reviewed = Some(now);
    }

    /// Whether a frame of layer `rid` goes to this subscriber, who wants
    /// `want`: the current layer flows on; a switch happens on the wanted
    /// layer's keyframe.
    pub(super) fn gate(&mut self, rid: Option<Rid>, want: Option<Rid>, keyframe: bool) -> Gate {
        if self.current == Some(rid) {
            // Still on this layer: a switch waits for the target's keyframe.
            Gate::Send
        } else if rid == want && keyframe {
            self.current = Some(want);
            Gate::Send
        } else if rid == want {
            Gate::WantKeyframe
        } else {
            Gate::Skip
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::OutState;
    use super::*;
    use str0m::media::Mid;

    fn out() -> TrackOut {
        TrackOut {
            state: OutState::Open(Mid::from("0")),
            ..TrackOut::new(1)
        }
    }

    #[test]
    fn reviews_come_once_a_second_and_an_upgrade_waits_out_the_hold() {
        let (h, m, l) = (Some(Rid::from("h")), Some(Rid::from("m")), Some(Rid::from("l")));
        let ranked = vec![(h, 1_500_000), (m, 500_000), (l, 150_000)];
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut o = out();
        o.review(&ranked, Quality::High, Some(1_900_000), t0);
        assert_eq!(o.target, l, "the first pick is the lowest layer");
        o.review(&ranked, Quality::High, Some(1_900_000), ms(999));
        assert_eq!(o.target, l, "no review within LAYER_REVIEW");
        o.review(&ranked, Quality::High, Some(1_900_000), ms(1000));
        assert_eq!(o.target, h, "headroom: up");
        o.review(&ranked, Quality::High, Some(1_400_000), ms(2000));
        assert_eq!(
            (o.target, o.down_at),
            (m, Some(ms(2000))),
            "the budget shrank: down at once"
        );
        o.review(&ranked, Quality::High, Some(1_900_000), ms(3000));
        o.review(&ranked, Quality::High, Some(1_900_000), ms(6000));
        assert_eq!(o.target, m, "held for UPGRADE_HOLD after going down");
        o.review(&ranked, Quality::High, Some(1_900_000), ms(7000));
        assert_eq!(o.target, h, "the hold is over: up");
        // A quality change clears `reviewed`: reviewed at once, from the bottom.
        o.reviewed = None;
        o.review(&ranked, Quality::Medium, Some(1_900_000), ms(7001));
        assert_eq!(o.target, l);
    }

    #[test]
    fn a_layer_switch_waits_for_the_wanted_layers_keyframe() {
        let (h, l) = (Some(Rid::from("h")), Some(Rid::from("l")));
        let mut o = out();
        assert_eq!(o.gate(h, l, false), Gate::Skip);
        assert_eq!(o.gate(l, l, false), Gate::WantKeyframe);
        assert_eq!(o.gate(l, l, true), Gate::Send);
        assert_eq!(o.gate(l, l, false), Gate::Send);
        // The target goes up: l flows on until h's keyframe.
        assert_eq!(o.gate(h, h, false), Gate::WantKeyframe);
        assert_eq!(o.gate(l, h, false), Gate::Send);
        assert_eq!(o.gate(h, h, true), Gate::Send);
        assert_eq!(o.current, Some(h));
        assert_eq!(o.gate(l, h, true), Gate::Skip);
    }

    #[test]
    fn layers_go_down_at_once_and_up_with_headroom() {
        let (h, m, l) = (Some(Rid::from("h")), Some(Rid::from("m")), Some(Rid::from("l")));
        let ranked = vec![(h, 1_500_000), (m, 500_000), (l, 150_000)];
        // First pick: the lowest layer.
        assert_eq!(
            review_layer(&ranked, Quality::High, Some(1_600_000), None, true, false),
            (l, false)
        );
        // Budget below the current layer: down at once.
        assert_eq!(
            review_layer(&ranked, Quality::High, Some(1_400_000), h, false, false),
            (m, true)
        );
        // Fits h, but without 25 % headroom: stay on m.
        assert_eq!(
            review_layer(&ranked, Quality::High, Some(1_600_000), m, false, false),
            (m, false)
        );
        // Headroom: up.
        assert_eq!(
            review_layer(&ranked, Quality::High, Some(1_900_000), m, false, false),
            (h, false)
        );
        // Headroom but holding after a down-switch: stay.
        assert_eq!(
            review_layer(&ranked, Quality::High, Some(1_900_000), m, false, true),
            (m, false)
        );
        // A lower quality cap goes down even with budget.
        assert_eq!(
            review_layer(&ranked, Quality::Low, Some(5_000_000), h, false, false),
            (l, true)
        );
        // A target that is no longer heard: whatever fits.
        assert_eq!(
            review_layer(&ranked[1..], Quality::High, None, h, false, true),
            (m, false)
        );
    }

    #[test]
    fn picks_layers_by_quality_and_budget() {
        let (h, m, l) = (Some(Rid::from("h")), Some(Rid::from("m")), Some(Rid::from("l")));
        let ranked = vec![(h, 1_500_000), (m, 500_000), (l, 150_000)];
        assert_eq!(pick_layer(&ranked, Quality::High, None), h);
        assert_eq!(pick_layer(&ranked, Quality::Medium, None), m);
        assert_eq!(pick_layer(&ranked, Quality::Low, None), l);
        assert_eq!(pick_layer(&ranked, Quality::High, Some(800_000)), m);
        assert_eq!(pick_layer(&ranked, Quality::High, Some(100_000)), l);
        assert_eq!(pick_layer(&[(None, 0)], Quality::Low, Some(1)), None);
        assert_eq!(pick_layer(&[], Quality::High, None), None);
    }
}
