"""The per-viewer simulcast layer rule: down fast, up slowly, pause below the lowest layer."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from liveshop.domain.layers import Layer, LayerPolicy, LayerSelector

LAYERS = [Layer("q", 150_000, 180), Layer("h", 500_000, 360), Layer("f", 1_500_000, 720)]
RATE = {layer.name: layer.bitrate_bps for layer in LAYERS}


def from_top(**fields: Any) -> LayerSelector:
    """A selector whose viewer starts on the top layer (no start budget): the tests of what
    follows a start begin there."""
    return LayerSelector(policy=LayerPolicy(start_bps=math.inf), **fields)


def run(
    sel: LayerSelector, start: float, end: float, loss: float
) -> list[tuple[float, str | None]]:
    """Feed one receiver report per second from ``start`` to ``end``; return the choices."""
    out = []
    t = start
    while t <= end:
        rate = RATE.get(sel.current or "", 0.0) if not sel.paused else 0.0
        sel.report_loss(t, loss, rate)
        out.append((t, sel.choose(t, LAYERS)))
        t += 1.0
    return out


def knocked_down(sel: LayerSelector, estimate_bps: float) -> LayerSelector:
    """``sel`` starts on "f" and two receiver estimates of ``estimate_bps`` (by t = 1 s) follow."""
    sel.choose(0.0, LAYERS)
    sel.report_estimate(0.5, 1_600_000, RATE["f"])
    sel.report_estimate(0.8, estimate_bps, RATE["f"])
    sel.report_estimate(1.0, estimate_bps, RATE["f"])
    return sel


def test_an_unknown_link_starts_on_the_best_layer_within_the_start_budget() -> None:
    """With no report yet, a viewer starts on the best layer within the start budget."""
    assert LayerSelector().choose(0.0, LAYERS) == "h"


def test_with_rates_not_measured_yet_a_viewer_starts_on_the_middle_layer() -> None:
    """Before the publisher's rates are measured, a new viewer starts on the middle layer."""
    unmeasured = [Layer(x.name, 0.0, x.height) for x in LAYERS]
    assert LayerSelector().choose(0.0, unmeasured) == "h"


def test_a_clean_link_climbs_from_the_start_layer_to_the_top() -> None:
    """Clean reports take a viewer from its start layer to the top layer."""
    sel = LayerSelector()
    sel.choose(0.0, LAYERS)
    assert run(sel, 1.0, 6.0, 0.0)[-1][1] == "f"


def test_heavy_loss_drops_within_two_reports() -> None:
    """Loss of 40 % on the top layer moves the viewer down within 2 s."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    choices = run(sel, 1.0, 3.0, 0.4)
    first_down = next(t for t, c in choices if c != "f")
    assert first_down <= 2.0


def test_low_estimate_drops_at_once() -> None:
    """A receiver estimate under the rate sent picks the best layer that fits it."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    sel.report_estimate(1.0, 1_600_000, RATE["f"])
    sel.report_estimate(1.5, 600_000, RATE["f"])
    assert sel.choose(1.5, LAYERS) == "f", "one low estimate is not yet a trend"
    sel.report_estimate(2.0, 620_000, RATE["f"])
    assert sel.choose(2.0, LAYERS) == "h"


def test_a_lagging_estimate_after_a_step_up_is_no_limit() -> None:
    """A rising estimate still under the new layer's rate (it lags a step up) keeps the layer."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    sel.report_estimate(1.0, 200_000, RATE["f"])
    sel.report_estimate(2.0, 300_000, RATE["f"])
    assert sel.choose(2.0, LAYERS) == "f"


def test_estimate_above_the_rate_sent_is_no_limit() -> None:
    """An estimate that merely follows what is sent does not hold a viewer down."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    sel.report_estimate(1.0, 1_700_000, RATE["f"])
    assert sel.choose(1.0, LAYERS) == "f"


def test_climbs_one_step_at_a_time_after_a_clean_spell() -> None:
    """After congestion ends, the viewer goes up one layer per clean spell, not at once."""
    sel = from_top()
    knocked_down(sel, 120_000)
    assert sel.choose(1.0, LAYERS) == "q"
    choices = run(sel, 2.0, 30.0, 0.0)
    seen = [c for _, c in choices]
    assert seen[0] == "q"
    assert seen.index("h") < seen.index("f")
    up_at = next(t for t, c in choices if c == "h")
    assert 1.0 + sel.policy.up_after_s <= up_at <= 15.0
    assert seen[-1] == "f"


def test_failed_trials_back_off() -> None:
    """Each step up that is knocked back waits longer before the next one (no flapping)."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    t = 1.0
    ups: list[float] = []
    for _ in range(60):
        # the link carries "h" but not "f": loss whenever "f" is sent
        loss = 0.3 if sel.current == "f" and not sel.paused else 0.0
        before = sel.current
        sel.report_loss(t, loss, RATE.get(sel.current or "", 0.0))
        after = sel.choose(t, LAYERS)
        if after == "f" and before != "f":
            ups.append(t)
        t += 1.0
    gaps = [b - a for a, b in itertools.pairwise(ups)]
    assert len(ups) >= 2
    assert gaps == sorted(gaps)
    assert gaps[-1] > gaps[0]


def test_pauses_below_the_lowest_layer_and_resumes() -> None:
    """An estimate under most of the lowest layer's rate pauses video; a clean link resumes it."""
    sel = from_top()
    knocked_down(sel, 40_000)
    assert sel.choose(1.0, LAYERS) is None
    assert sel.paused
    choices = run(sel, 2.0, 12.0, 0.0)
    assert choices[0][1] is None
    assert "q" in [c for _, c in choices]


def test_small_player_gets_no_taller_layer() -> None:
    """A 300-pixel player on a perfect link gets the 360p layer, and 720p once it grows."""
    sel = from_top(max_height=300)
    assert sel.choose(0.0, LAYERS) == "h"
    sel.max_height = None
    choices = run(sel, 1.0, 10.0, 0.0)
    assert choices[-1][1] == "f"


def test_player_shrinking_drops_at_once() -> None:
    """A player that leaves full screen drops to the layer its size needs immediately."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    sel.max_height = 180
    assert sel.choose(0.5, LAYERS) == "q"


def test_lowest_layer_always_allowed_by_size() -> None:
    """A tiny player still gets the lowest layer (never nothing for its size)."""
    sel = from_top(max_height=50)
    assert sel.choose(0.0, LAYERS) == "q"


def on_h_after_a_clean_spell() -> tuple[LayerSelector, float]:
    """A viewer knocked down to "h" by an estimate, then clean until a trial of "f" begins."""
    sel = from_top()
    knocked_down(sel, 600_000)
    assert sel.choose(1.0, LAYERS) == "h"
    for t, choice in run(sel, 2.0, 20.0, 0.0):
        if choice == "f":
            return sel, t
    raise AssertionError("no trial of f")


def test_nacks_end_a_trial_before_any_receiver_report() -> None:
    """A trial whose packets are NACKed heavily goes back down at the NACK, not a report later."""
    sel, t = on_h_after_a_clean_spell()
    sel.report_nacks(t + 0.2, 0, 100)  # the totals move on from the trial's start
    sel.report_nacks(t + 0.4, 20, 150)
    assert sel.choose(t + 0.4, LAYERS) == "h"


def test_a_failed_trial_goes_back_to_where_it_started_not_below() -> None:
    """Heavy loss reported during a trial of "f" returns the viewer to "h", which was clean."""
    sel, t = on_h_after_a_clean_spell()
    sel.report_loss(t + 1.0, 0.6, RATE["h"])  # the switch to f was still waiting for a keyframe
    assert sel.choose(t + 1.0, LAYERS) == "h"


def test_ordinary_nacks_do_not_end_a_trial() -> None:
    """A NACKed share at a lossy link's usual 3 % leaves a trial running."""
    sel, t = on_h_after_a_clean_spell()
    base = sel.nacks
    sel.report_nacks(t + 1.0, base[0] + 6, base[1] + 200)
    assert sel.choose(t + 1.0, LAYERS) == "f"


def test_repeated_failed_trials_become_rare() -> None:
    """On a link that never carries "f", the wait between trials grows to the policy's maximum."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    ups: list[float] = []
    t = 1.0
    while t < 400.0:
        loss = 0.5 if sel.current == "f" else 0.0
        before = sel.current
        sel.report_loss(t, loss, RATE.get(sel.current or "", 0.0))
        if sel.choose(t, LAYERS) == "f" and before != "f":
            ups.append(t)
        t += 1.0
    gaps = [b - a for a, b in itertools.pairwise(ups)]
    assert max(gaps) >= sel.policy.max_backoff_s
    assert len(ups) <= 12


def test_clean_reports_do_not_inflate_the_estimate_far_past_the_rate_sent() -> None:
    """Minutes of clean reports on "h" leave the believed bandwidth within 2× what "h" sends."""
    sel = from_top(max_height=360)
    sel.choose(0.0, LAYERS)
    sel.report_loss(1.0, 0.5, RATE["h"])  # a congestion makes the cap finite
    run(sel, 4.0, 200.0, 0.0)
    assert sel.budget_bps() <= 2 * RATE["h"] * 1.08


def test_one_falling_estimate_ends_a_trial() -> None:
    """During a trial, the first estimate that falls under the trial layer's rate ends it."""
    sel, t = on_h_after_a_clean_spell()
    sel.report_estimate(t + 0.3, 700_000, RATE["h"])  # lagging behind the step up: no limit
    assert sel.choose(t + 0.3, LAYERS) == "f"
    sel.report_estimate(t + 0.6, 600_000, RATE["h"])
    assert sel.choose(t + 0.6, LAYERS) == "h"


def probing_on_h(backoff_s: float = 0.0) -> tuple[LayerSelector, float]:
    """A viewer that can pad, knocked down to "h" (with ``backoff_s`` from failed probes), clean
    until it starts a probe for "f"."""
    sel = from_top(can_probe=True)
    knocked_down(sel, 600_000)
    sel.probe_backoff_s = backoff_s
    assert sel.choose(1.0, LAYERS) == "h"
    t = 2.0
    while sel.probe_start is None:
        sel.report_loss(t, 0.0, RATE["h"])
        assert sel.choose(t, LAYERS) == "h"
        t += 1.0
        assert t < 20.0, "no probe"
    return sel, t - 1.0


def test_a_climb_starts_with_a_probe_on_the_same_layer() -> None:
    """Where the sender can pad, a due climb first pads up to the next layer's rate."""
    sel, t = probing_on_h()
    assert sel.current == "h"
    extra = sel.probe_bps(t)
    assert RATE["f"] * 0.5 <= extra + RATE["h"] <= RATE["f"] * 1.2
    assert sel.probe_bps(t + sel.policy.probe_s) == 0.0


def passes(sel: LayerSelector, t: float, layer: str) -> float:
    """Let the probe started at ``t`` pass (rising estimates, no loss) on ``layer``; returns the
    time of its verdict."""
    sel.report_estimate(t + 0.2, sel.probe_rate * 0.9, RATE[layer])
    sel.report_estimate(t + 0.4, sel.probe_rate, RATE[layer])
    assert sel.choose(t + 0.5, LAYERS) == layer, "still probing"
    done = t + sel.policy.probe_s + sel.policy.probe_wait_s + 0.1
    sel.report_loss(done, 0.0, RATE[layer])
    return done


def test_a_probe_that_passes_leads_to_the_step_up() -> None:
    """With no sign of congestion until the probes' verdicts, the viewer steps up."""
    sel, t = probing_on_h()
    for _ in range(3):
        t = passes(sel, t, "h")
        if sel.choose(t, LAYERS) == "f":
            return
    raise AssertionError("no step up after three passed probes")


def test_a_probe_asks_at_most_twice_what_the_link_carried() -> None:
    """A far step up is probed in steps, each from what the last one showed: a link far too
    small for the next layer is never flooded with all of it at once."""
    sel, t = probing_on_h()
    first = sel.probe_rate
    assert first == RATE["h"] * sel.policy.probe_step < RATE["f"] * sel.policy.up_margin
    t = passes(sel, t, "h")
    assert sel.choose(t, LAYERS) == "h", "a probe of part of the way is no reason to switch"
    assert sel.probe_start == t, "the next probe follows at once"
    assert sel.probe_rate == min(first * sel.policy.probe_step, RATE["f"] * sel.policy.up_margin)


def test_from_a_small_layer_a_probe_asks_a_fixed_amount_more() -> None:
    """On a small layer a probe asks for a fixed amount over it, more than twice its rate."""
    sel = from_top(can_probe=True)
    knocked_down(sel, 250_000)
    assert sel.choose(1.0, LAYERS) == "q"
    t = 2.0
    while sel.probe_start is None:
        sel.report_loss(t, 0.0, RATE["q"])
        sel.choose(t, LAYERS)
        t += 1.0
        assert t < 30.0, "no probe"
    assert sel.probe_rate == RATE["q"] + sel.policy.probe_add_bps > 2 * RATE["q"]


def test_congestion_forgets_what_probes_showed() -> None:
    """After a sign of congestion, the next probe starts again from the rate being sent."""
    sel, t = probing_on_h()
    t = passes(sel, t, "h")
    sel.choose(t, LAYERS)
    assert sel.proven_bps > 0
    sel.report_loss(t + 1.7, 0.3, RATE["h"])
    assert sel.proven_bps == 0.0


def test_a_probe_that_fails_keeps_the_layer_and_its_budget() -> None:
    """A falling estimate during a probe cancels it: no switch, no lower cap, padding stops."""
    sel, t = probing_on_h()
    cap = sel.budget_bps()
    sel.report_estimate(t + 0.1, 700_000, RATE["h"])
    sel.report_estimate(t + 0.3, 400_000, RATE["h"])
    assert sel.probe_bps(t + 0.3) == 0.0
    assert sel.choose(t + 0.3, LAYERS) == "h"
    assert sel.budget_bps() == cap
    late = t + sel.policy.probe_s + sel.policy.probe_wait_s + 0.1
    sel.report_loss(late, 0.0, RATE["h"])
    assert sel.choose(late, LAYERS) == "h", "a failed probe is followed by a wait, not a trial"


def test_loss_reported_after_a_probe_is_the_probes() -> None:
    """Heavy loss reported within the probe's window fails the probe instead of dropping a layer."""
    sel, t = probing_on_h()
    sel.report_loss(t + 1.0, 0.4, RATE["h"])
    assert sel.choose(t + 1.0, LAYERS) == "h"
    assert sel.probe_start is None


def test_failed_probes_retry_within_the_probe_backoff() -> None:
    """On a link that fails every probe, the viewer stays put and probes at most ~15 s apart."""
    sel, t = probing_on_h()
    starts = [t]
    for tick in range(int(t * 10) + 1, 2000):
        now = tick / 10
        start = sel.probe_start
        if start is not None and start != starts[-1]:
            starts.append(start)
        if start is not None and sel.probing(now):  # the estimate rises, then falls
            sel.report_estimate(now, 700_000 if now - start < 0.25 else 300_000, RATE["h"])
        if tick % 10 == 0:
            sel.report_loss(now, 0.0, RATE["h"])
        assert sel.choose(now, LAYERS) == "h"
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) >= 8
    assert max(gaps) <= sel.policy.up_after_s + sel.policy.probe_max_backoff_s + 2.5


def test_a_burst_of_nacks_drops_a_layer_before_any_report() -> None:
    """NACKs on 40 % of the packets sent in the last second move a viewer down at once."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    sel.report_nacks(3.0, 2, 300, RATE["f"])
    sel.report_nacks(3.5, 62, 450, RATE["f"])
    assert sel.choose(3.5, LAYERS) == "h"


def estimated_then_nacked(sel: LayerSelector) -> LayerSelector:
    """``sel`` on "f" with a first estimate at t = 2 s, then NACKs on 40 % of the packets by
    t = 3.5 s (which alone halve the budget: down to "h")."""
    sel.choose(0.0, LAYERS)
    sel.report_estimate(2.0, 1_600_000, RATE["f"])
    sel.report_nacks(3.0, 2, 300, RATE["f"])
    sel.report_nacks(3.5, 62, 450, RATE["f"])
    return sel


def test_a_low_estimate_that_a_burst_of_nacks_confirms_sets_the_budget() -> None:
    """One falling estimate, then a burst of NACKs: the budget is the estimate, not a halving."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    sel.report_estimate(2.0, 1_600_000, RATE["f"])
    sel.report_estimate(3.0, 300_000, RATE["f"])  # alone, not yet a trend
    assert sel.choose(3.0, LAYERS) == "f"
    sel.report_nacks(3.2, 2, 300, RATE["f"])
    sel.report_nacks(3.5, 62, 450, RATE["f"])  # 40 %: alone, it halves the budget (to h)
    assert sel.choose(3.5, LAYERS) == "q"


def test_a_low_estimate_after_a_burst_of_nacks_sets_the_budget_at_once() -> None:
    """A burst of NACKs drops a layer; a falling estimate just after it drops to what it says."""
    sel = estimated_then_nacked(from_top())
    assert sel.choose(3.5, LAYERS) == "h"
    sel.report_estimate(3.8, 300_000, RATE["h"])  # still settling: loss would not count yet
    assert sel.choose(3.8, LAYERS) == "q"


def test_a_falling_estimate_after_two_low_ones_lowers_the_budget_at_once() -> None:
    """Two low estimates drop a layer; the next falling one, under the new layer, drops again."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    sel.report_estimate(2.0, 1_600_000, RATE["f"])
    sel.report_estimate(3.0, 1_300_000, RATE["f"])
    sel.report_estimate(3.2, 1_250_000, RATE["f"])
    assert sel.choose(3.2, LAYERS) == "h"
    sel.report_estimate(3.4, 460_000, RATE["h"])  # under h, but not by the usual 10 %
    assert sel.choose(3.4, LAYERS) == "q"


def test_a_low_estimate_long_after_other_congestion_is_one_estimate() -> None:
    """A falling estimate seconds after the last other sign of congestion waits for a second."""
    sel = estimated_then_nacked(from_top())
    assert sel.choose(3.5, LAYERS) == "h"
    sel.report_estimate(8.0, 600_000, RATE["h"])
    sel.report_estimate(9.0, 300_000, RATE["h"])
    assert sel.choose(9.0, LAYERS) == "h"


def test_nacks_at_a_lossy_links_usual_share_keep_the_layer() -> None:
    """NACKs on 3 % of the packets, second after second, do not move a viewer."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    for second in range(1, 30):
        sel.report_nacks(float(second), 3 * second, 100 * second, RATE["f"])
        assert sel.choose(float(second), LAYERS) == "f"


def test_what_a_failed_probe_cost_is_not_held_against_the_layer() -> None:
    """NACKs and loss reported after a probe was called off, from its own padding, keep the layer."""
    sel, t = probing_on_h()
    sel.report_estimate(t + 0.1, 700_000, RATE["h"])
    sel.report_estimate(t + 0.3, 400_000, RATE["h"])  # the probe fails here
    sel.report_nacks(t + 0.5, sel.nacks[0], sel.nacks[1], RATE["h"])
    sel.report_nacks(t + 0.9, sel.nacks[0] + 60, sel.nacks[1] + 150, RATE["h"])
    sel.report_loss(t + 1.2, 0.3, RATE["h"])
    assert sel.choose(t + 1.2, LAYERS) == "h"


def test_a_three_percent_lossy_link_keeps_its_layer() -> None:
    """Random loss around 3 % (reports from 0 to 6 %) holds the layer for minutes."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    pattern = [0.03, 0.0, 0.06, 0.02, 0.04, 0.01, 0.05, 0.03]
    for t in range(1, 300):
        sel.report_loss(float(t), pattern[t % len(pattern)], RATE["f"])
        assert sel.choose(float(t), LAYERS) == "f"


def test_a_layer_fits_only_with_the_viewers_audio_beside_it() -> None:
    """With 600 kb/s believed and 150 kb/s of audio, the 500 kb/s layer no longer fits."""
    alone, with_audio = from_top(), from_top(audio_bps=150_000)
    for sel in (alone, with_audio):
        sel.choose(0.0, LAYERS)
        sel.cap_bps = 600_000
    assert alone.choose(1.0, LAYERS) == "h"
    assert with_audio.choose(1.0, LAYERS) == "q"


def test_a_paused_viewer_resumes_without_a_probe() -> None:
    """A viewer whose video was paused comes back on the lowest layer with no probe first."""
    sel = knocked_down(from_top(can_probe=True), 40_000)
    assert sel.choose(1.0, LAYERS) is None
    t, probed = 2.0, False
    while sel.paused:
        sel.report_loss(t, 0.0, 0.0)
        choice = sel.choose(t, LAYERS)
        probed = probed or sel.probe_start is not None
        t += 1.0
        assert t < 15.0, "never resumed"
    assert choice == "q"
    assert not probed


def on_h_steady() -> tuple[LayerSelector, float]:
    """A viewer knocked down to "h" long enough ago that the next signal counts (t returned)."""
    sel = knocked_down(from_top(), 600_000)
    assert sel.choose(1.0, LAYERS) == "h"
    for t in (1.5, 2.0, 2.5):
        sel.report_rtt(t, 0.150, RATE["h"])
    return sel, 4.0


def test_a_queue_building_drops_a_layer_before_any_loss() -> None:
    """Round trips that stay well over the path's lowest mean the layer does not fit."""
    sel, t = on_h_steady()
    sel.report_rtt(t, 0.300, RATE["h"])
    sel.report_rtt(t + 0.3, 0.420, RATE["h"])
    assert sel.budget_bps() < RATE["h"]
    assert sel.choose(t + 0.3, LAYERS) == "q"


def test_one_slow_round_trip_is_no_queue() -> None:
    """A single late report (a busy host) changes nothing."""
    sel, t = on_h_steady()
    sel.report_rtt(t, 0.400, RATE["h"])
    sel.report_rtt(t + 0.3, 0.160, RATE["h"])
    assert sel.choose(t + 0.3, LAYERS) == "h"


def test_a_long_path_is_no_queue() -> None:
    """A path whose every round trip is long (150 ms ± 30) keeps its layer."""
    sel, t = on_h_steady()
    for n in range(20):
        sel.report_rtt(t + 0.5 * n, 0.120 + 0.06 * (n % 3) / 2, RATE["h"])
    assert sel.choose(t + 10, LAYERS) == "h"
    assert sel.budget_bps() > RATE["h"]


def test_a_queue_during_a_trial_ends_it() -> None:
    """A trial whose layer builds a queue returns to where it started."""
    sel, t = on_h_after_a_clean_spell()
    sel.report_rtt(t - 1.0, 0.005, RATE["h"])
    assert sel.choose(t, LAYERS) == "f"
    sel.report_rtt(t + 1.0, 0.200, RATE["f"])
    sel.report_rtt(t + 1.4, 0.300, RATE["f"])
    assert sel.choose(t + 1.4, LAYERS) == "h"


def test_heavy_loss_cuts_to_what_got_through() -> None:
    """Losing 75 % of the top layer's packets lands on the layer the rest would carry."""
    sel = from_top()
    assert sel.choose(0.0, LAYERS) == "f"
    sel.report_loss(1.0, 0.75, RATE["f"])
    assert sel.budget_bps() <= RATE["f"] * 0.25 * 1.1 + 1
    assert sel.choose(1.0, LAYERS) == "q"


def test_with_probes_failed_trials_wait_no_longer_than_failed_probes() -> None:
    """Where probes gate every trial, failed trials' waits stop growing at a probe's longest:
    a link that recovers is climbed again within seconds, not a minute."""
    sel, t = probing_on_h()
    trials: list[float] = []
    while t < 150.0:
        if sel.probing(t):
            sel.report_estimate(t, sel.probe_rate, RATE["h"])  # every probe passes
        elif sel.current == "f":
            sel.report_loss(t, 0.5, RATE["f"])  # every trial fails
        else:
            sel.report_loss(t, 0.0, RATE["h"])
        before = sel.current
        if sel.choose(t, LAYERS) == "f" and before != "f":
            trials.append(t)
        t += 0.25
    gaps = [b - a for a, b in itertools.pairwise(trials)]
    assert len(gaps) >= 6
    chain = 3 * (sel.policy.probe_s + sel.policy.probe_wait_s)
    assert max(gaps) <= sel.policy.up_after_s + sel.policy.probe_max_backoff_s + chain + 2


def test_a_probe_of_the_whole_way_leads_to_the_trial_though_the_rate_moved() -> None:
    """A probe for all the next layer needed leads to the step up even when that layer's measured
    rate has grown a little since it began (not to yet another probe)."""
    sel, t = probing_on_h()
    while True:
        done = passes(sel, t, "h")
        if sel.probe_rate >= RATE["f"] * sel.policy.up_margin:
            break
        assert sel.choose(done, LAYERS) == "h"
        t = done
    grown = [*LAYERS[:2], Layer("f", RATE["f"] * 1.01, 720)]
    assert sel.choose(done, grown) == "f"


def test_an_unlucky_second_on_a_lossy_link_is_no_burst() -> None:
    """12 % of a second's packets NACKed on a 3 % lossy link (it happens) keeps the layer."""
    sel = from_top()
    sel.choose(0.0, LAYERS)
    sel.report_nacks(3.0, 9, 300, RATE["f"])
    sel.report_nacks(3.9, 21, 400, RATE["f"])
    assert sel.choose(3.9, LAYERS) == "f"


def test_clean_reports_lift_the_cap_by_the_time_they_cover() -> None:
    """Two clean reports 3 s apart lift the cap as much as four 1 s apart would from the first."""
    sparse, dense = knocked_down(from_top(), 600_000), knocked_down(from_top(), 600_000)
    for sel in (sparse, dense):
        sel.report_loss(4.0, 0.0, RATE["h"])
    sparse.report_loss(7.0, 0.0, RATE["h"])
    for t in (5.0, 6.0, 7.0):
        dense.report_loss(t, 0.0, RATE["h"])
    assert sparse.budget_bps() == pytest.approx(dense.budget_bps())


def climbs_to(sel: LayerSelector, t: float, layer: str) -> float:
    """Clean reports every half second, each probe passing, until ``sel`` is on ``layer``;
    returns the time it got there."""
    while sel.current != layer:
        assert sel.current is not None
        sel.report_loss(t, 0.0, RATE[sel.current])
        sel.choose(t, LAYERS)
        if sel.probe_start is not None and sel.probing(t):
            t = passes(sel, sel.probe_start, sel.current)
            sel.choose(t, LAYERS)
        t += 0.5
        assert t < 120.0, f"never reached {layer}"
    return t


def test_a_step_up_that_holds_does_not_wait_out_earlier_failed_trials() -> None:
    """Once a step up holds, the next climb waits only for the clean spell, not for the backoff
    that failed trials of the layer below had earned (a link that recovers is climbed fast)."""
    sel = from_top(can_probe=True)
    knocked_down(sel, 250_000)
    assert sel.choose(1.0, LAYERS) == "q"
    sel.backoff_s = sel.policy.probe_max_backoff_s  # as trials that failed while limited leave it
    t = climbs_to(sel, 2.0, "h")
    up = sel.last_up
    while sel.probe_start is None:
        sel.report_loss(t, 0.0, RATE["h"])
        sel.choose(t, LAYERS)
        t += 0.5
    assert sel.probe_start - up <= sel.policy.up_after_s + 0.5


def test_a_passed_probe_forgets_the_backoff_of_failed_ones() -> None:
    """A probe that passes shows the link carries more: failed probes' backoff is cleared."""
    sel, t = probing_on_h(backoff_s=8.0)
    assert t >= 8.0, "the probe waited for the backoff"
    sel.choose(passes(sel, t, "h"), LAYERS)
    assert sel.probe_backoff_s == 0.0
