"""The per-viewer simulcast layer rule: down fast, up slowly, pause below the lowest layer."""

from __future__ import annotations

import itertools

from liveshop.domain.layers import Layer, LayerSelector

LAYERS = [Layer("q", 150_000, 180), Layer("h", 500_000, 360), Layer("f", 1_500_000, 720)]
RATE = {layer.name: layer.bitrate_bps for layer in LAYERS}


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


def test_starts_on_the_top_layer_of_an_unknown_link() -> None:
    """With no report yet, a viewer starts on the best layer."""
    assert LayerSelector().choose(0.0, LAYERS) == "f"


def test_heavy_loss_drops_within_two_reports() -> None:
    """Loss of 40 % on the top layer moves the viewer down within 2 s."""
    sel = LayerSelector()
    sel.choose(0.0, LAYERS)
    choices = run(sel, 1.0, 3.0, 0.4)
    first_down = next(t for t, c in choices if c != "f")
    assert first_down <= 2.0


def test_low_estimate_drops_at_once() -> None:
    """A receiver estimate under the rate sent picks the best layer that fits it."""
    sel = LayerSelector()
    sel.choose(0.0, LAYERS)
    sel.report_estimate(1.0, 1_600_000, RATE["f"])
    sel.report_estimate(1.5, 600_000, RATE["f"])
    assert sel.choose(1.5, LAYERS) == "f", "one low estimate is not yet a trend"
    sel.report_estimate(2.0, 620_000, RATE["f"])
    assert sel.choose(2.0, LAYERS) == "h"


def test_a_lagging_estimate_after_a_step_up_is_no_limit() -> None:
    """A rising estimate still under the new layer's rate (it lags a step up) keeps the layer."""
    sel = LayerSelector()
    sel.choose(0.0, LAYERS)
    sel.report_estimate(1.0, 200_000, RATE["f"])
    sel.report_estimate(2.0, 300_000, RATE["f"])
    assert sel.choose(2.0, LAYERS) == "f"


def test_estimate_above_the_rate_sent_is_no_limit() -> None:
    """An estimate that merely follows what is sent does not hold a viewer down."""
    sel = LayerSelector()
    sel.choose(0.0, LAYERS)
    sel.report_estimate(1.0, 1_700_000, RATE["f"])
    assert sel.choose(1.0, LAYERS) == "f"


def test_climbs_one_step_at_a_time_after_a_clean_spell() -> None:
    """After congestion ends, the viewer goes up one layer per clean spell, not at once."""
    sel = LayerSelector()
    sel.choose(0.0, LAYERS)
    sel.report_estimate(0.5, 1_600_000, RATE["f"])
    sel.report_estimate(0.8, 120_000, RATE["f"])
    sel.report_estimate(1.0, 120_000, RATE["f"])
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
    sel = LayerSelector()
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
    sel = LayerSelector()
    sel.choose(0.0, LAYERS)
    sel.report_estimate(0.5, 1_600_000, RATE["f"])
    sel.report_estimate(0.8, 40_000, RATE["f"])
    sel.report_estimate(1.0, 40_000, RATE["f"])
    assert sel.choose(1.0, LAYERS) is None
    assert sel.paused
    choices = run(sel, 2.0, 12.0, 0.0)
    assert choices[0][1] is None
    assert "q" in [c for _, c in choices]


def test_small_player_gets_no_taller_layer() -> None:
    """A 300-pixel player on a perfect link gets the 360p layer, and 720p once it grows."""
    sel = LayerSelector(max_height=300)
    assert sel.choose(0.0, LAYERS) == "h"
    sel.max_height = None
    choices = run(sel, 1.0, 10.0, 0.0)
    assert choices[-1][1] == "f"


def test_player_shrinking_drops_at_once() -> None:
    """A player that leaves full screen drops to the layer its size needs immediately."""
    sel = LayerSelector()
    sel.choose(0.0, LAYERS)
    sel.max_height = 180
    assert sel.choose(0.5, LAYERS) == "q"


def test_lowest_layer_always_allowed_by_size() -> None:
    """A tiny player still gets the lowest layer (never nothing for its size)."""
    sel = LayerSelector(max_height=50)
    assert sel.choose(0.0, LAYERS) == "q"
