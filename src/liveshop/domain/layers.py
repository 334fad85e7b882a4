"""Which simulcast layer one viewer should receive, from what its receiver reports.

Pure: the caller passes the clock and the reports; nothing here sends or measures anything.

The rule (one :class:`LayerSelector` per viewer):

* **Budget.** A cap on what the link carries, unlimited until a sign of congestion: a receiver
  report with more than :attr:`LayerPolicy.high_loss` of packets lost sets it to the current rate
  × (1 − loss / 2); a receiver estimate (REMB) that fell under the rate being sent and stays
  there in the next report sets it to that estimate. Clean reports (loss under :attr:`LayerPolicy.low_loss`) lift it by 8 % each. A
  receiver's estimate that rises, or stays above the rate sent, is not a limit: it only follows
  what it is sent (it lags behind every step up).
* **Down fast.** When the current layer no longer fits the budget, the target drops at once to
  the best layer that fits; when not even the lowest fits, video pauses (audio keeps flowing).
  Receivers report about once a second, so a degraded link is acted on within ~2 s.
* **Up slowly.** One step at a time, only after the link has been clean (no high loss, no
  estimate under the rate sent) for :attr:`LayerPolicy.up_after_s`. Receiver estimates only follow
  what they are sent, so the step is a trial: the cap is raised to the next layer's rate ×
  :attr:`LayerPolicy.up_margin`, and loss or a falling estimate brings it back down. A trial that
  ends in a down-switch within :attr:`LayerPolicy.trial_s` doubles the wait before the next one
  (up to :attr:`LayerPolicy.max_backoff_s`): no flapping. Loss reported within
  :attr:`LayerPolicy.settle_s` of a switch is not held against the new layer (a receiver report
  covers about the second before it).
* **Size.** No layer above the smallest one at least as tall as the player (``max_height``,
  device pixels) is chosen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Layer:
    """One layer as the publisher currently sends it (``bitrate_bps`` measured; 0 = unknown)."""

    name: str
    bitrate_bps: float
    height: int | None = None


@dataclass(frozen=True)
class LayerPolicy:
    """The thresholds of the rule (see the module doc)."""

    high_loss: float = 0.10
    low_loss: float = 0.02
    fit_margin: float = 1.0  # a layer fits when its rate × margin ≤ budget
    up_margin: float = 1.15
    up_after_s: float = 3.0
    trial_s: float = 6.0
    max_backoff_s: float = 12.0
    pause_ratio: float = 0.6  # pause when the budget is under this share of the lowest layer
    settle_s: float = 1.2  # loss reported this soon after a switch is mostly the old layer's


@dataclass
class LayerSelector:
    """One viewer's layer choice. Feed it reports; ask :meth:`choose` for the target.

    Guarantees: :meth:`choose` returns a name from ``layers`` or None (pause video); it never
    returns a layer above the current one by more than one step; after a down-switch it does
    not go up again for at least ``up_after_s``.
    """

    policy: LayerPolicy = field(default_factory=LayerPolicy)
    max_height: int | None = None
    remb_bps: float | None = None
    remb_low: int = 0
    loss: float = 0.0
    rtt_s: float | None = None
    cap_bps: float = math.inf
    current: str | None = None
    paused: bool = False
    clean_since: float | None = None
    last_down: float = -math.inf
    last_up: float = -math.inf
    backoff_s: float = 0.0
    started: bool = False

    # reports ---------------------------------------------------------------------------------

    def report_estimate(self, now: float, bps: float, current_rate_bps: float) -> None:
        """The receiver's estimate (REMB) in bits per second, while ``current_rate_bps`` was
        being sent to this viewer."""
        previous, self.remb_bps = self.remb_bps, max(0.0, bps)
        falling = previous is not None and self.remb_bps < previous * 0.95
        under = current_rate_bps > 0 and self.remb_bps < current_rate_bps * 0.9
        self.remb_low = self.remb_low + 1 if under and (falling or self.remb_low) else 0
        if self.remb_low >= 2:  # one low estimate can be a scheduling hiccup; two are a trend
            self.cap_bps = min(self.cap_bps, self.remb_bps)
            self.clean_since = None

    def report_loss(self, now: float, fraction: float, current_rate_bps: float) -> None:
        """A receiver report: ``fraction`` of packets lost since the last one (0..1), while
        ``current_rate_bps`` was being sent to this viewer."""
        self.loss = min(1.0, max(0.0, fraction))
        if now - max(self.last_down, self.last_up) < self.policy.settle_s:
            return  # the report mostly describes the layer before the last switch
        if self.loss > self.policy.high_loss:
            base = current_rate_bps if current_rate_bps > 0 else self.cap_bps
            if math.isfinite(base):
                self.cap_bps = min(self.cap_bps, base) * (1 - self.loss / 2)
            self.clean_since = None
        elif self.loss < self.policy.low_loss:
            self.cap_bps *= 1.08
            if self.clean_since is None:
                self.clean_since = now

    def report_rtt(self, rtt_s: float | None) -> None:
        """The round-trip time to the viewer (reported in stats; not a switching signal)."""
        self.rtt_s = rtt_s

    def budget_bps(self) -> float:
        """What the link is believed to carry now (inf when nothing limits it)."""
        return self.cap_bps

    # choice ----------------------------------------------------------------------------------

    def choose(self, now: float, layers: Sequence[Layer]) -> str | None:
        """The layer to send (``layers`` ordered lowest first), or None to pause video."""
        if not layers:
            return None
        names = [layer.name for layer in layers]
        top = len(layers) - 1
        if self.max_height is not None:  # the smallest layer at least as tall as the player
            top = next((i for i, x in enumerate(layers) if (x.height or 0) >= self.max_height), top)
        allowed = range(top + 1)
        budget = self.budget_bps()
        fits = [i for i in allowed if layers[i].bitrate_bps * self.policy.fit_margin <= budget]
        best: int | None = fits[-1] if fits else None
        if best is None and budget >= layers[0].bitrate_bps * self.policy.pause_ratio:
            best = 0  # close enough: the lowest layer rather than a paused picture
        if not self.started:
            self.started = True
            self.clean_since = now
            self.current = names[top if best is None else min(best, top)]
            return self.current
        if self.paused:
            cur = -1
        elif self.current in names:
            cur = names.index(self.current)
        else:  # the layer went away
            cur = min(top, 0 if best is None else best)
            self.current = names[cur]
        if cur > top:  # the player shrank
            return self._down(now, names, top, congestion=False)
        if cur >= 0 and (best is None or best < cur):
            return self._down(now, names, best, congestion=True)
        if cur < top and self._may_climb(now, layers, cur + 1):
            self.last_up = now
            self.paused = False
            self.current = names[cur + 1]
            self.cap_bps = max(self.cap_bps, layers[cur + 1].bitrate_bps * self.policy.up_margin)
            return self.current
        return None if self.paused else self.current

    def _down(self, now: float, names: list[str], to: int | None, congestion: bool) -> str | None:
        if congestion:
            if now - self.last_up < self.policy.trial_s:  # the last step up did not hold
                self.backoff_s = min(
                    self.policy.max_backoff_s, max(self.policy.up_after_s, self.backoff_s * 2)
                )
            self.last_down = now
            self.clean_since = None
        if to is None:
            self.paused = True
            return None
        self.paused = False
        self.current = names[to]
        return self.current

    def _may_climb(self, now: float, layers: Sequence[Layer], nxt: int) -> bool:
        if self.last_down < self.last_up and now - self.last_up >= self.policy.trial_s:
            self.backoff_s = 0.0  # the last step up held
        if self.clean_since is None:
            return False
        wait = self.policy.up_after_s + self.backoff_s
        return (
            now - self.clean_since >= wait
            and now - self.last_down >= wait
            and now - self.last_up >= wait
        )
