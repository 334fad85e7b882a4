"""Which simulcast layer one viewer should receive, from what its receiver reports.

Pure: the caller passes the clock and the reports; nothing here sends or measures anything.

The rule (one :class:`LayerSelector` per viewer):

* **Start.** A new viewer's link is unknown: it starts on the best layer whose rate (with the
  audio) is within :attr:`LayerPolicy.start_bps` (600 kb/s, as mediasoup's initial estimate;
  WebRTC's own congestion control starts at 300 kb/s; the middle layer while the publisher's
  rates are not measured yet) and climbs from there like any other (below). Starting on a top
  layer that a narrow link cannot carry fills its buffer before the first report arrives: the
  audio queued behind it makes the browser's audio jitter buffer grow to a second, and lip sync
  holds the picture back as far, for the rest of the session.
* **Budget.** A cap on what the link carries, unlimited until a sign of congestion: loss over
  :attr:`LayerPolicy.high_loss` (receiver reports, summed over windows of enough packets) sets
  it to the current rate × :func:`kept` (1 − loss / 2; what got through when more is lost); a
  receiver estimate (REMB) that fell under the rate being sent and stays there in the next
  report sets it to that estimate. So does any falling estimate within
  :attr:`LayerPolicy.agree_s` (either way) of another sign of congestion (loss, a burst of
  NACKs, a queue, low estimates): that sign says the link is full, the estimate (85 % of what
  got through) how full; without it, a link carrying less than half a layer lost the layer by halves, a step and
  a second at a time, its queue full throughout. Clean reports (loss under
  :attr:`LayerPolicy.low_loss`) lift it by 8 % per second they cover. A receiver's estimate that
  rises, or stays above the rate sent, is not a limit: it only follows what it is sent (it lags
  behind every step up).
* **Down fast.** A burst of NACKs (over :attr:`LayerPolicy.nack_burst` of the packets sent in the
  last second) lowers the budget like a lossy receiver report, a second before that report
  comes. When the current layer no longer fits the budget, the target drops at once to
  the best layer that fits; when not even the lowest fits, video pauses (audio keeps flowing).
  Receivers report about once a second, so a degraded link is acted on within ~2 s.
* **Up slowly.** One step at a time, only after the link has been clean (no high loss, no
  estimate under the rate sent) for :attr:`LayerPolicy.up_after_s`. Receiver estimates only follow
  what they are sent, so the step is a trial: the cap is raised to the next layer's rate ×
  :attr:`LayerPolicy.up_margin`, and loss or a falling estimate brings it back down.
* **Trials fail fast and cost little.** During a trial, the first falling estimate under the trial
  layer's rate ends it, and so does a share of packets the viewer asked for again (NACK,
  :meth:`LayerSelector.report_nacks`; the sender sees it within a round trip, long before the
  next receiver report) above :attr:`LayerPolicy.trial_nack`. A failed trial
  returns to the layer it started from, never below: the loss it caused describes the trial
  layer, not the one before, which had been clean. Each trial that fails within
  :attr:`LayerPolicy.trial_s` doubles the wait before the next one (up to
  :attr:`LayerPolicy.max_backoff_s`; :attr:`LayerPolicy.probe_max_backoff_s` where probes
  come first, as those already keep a link that cannot carry the next layer from trials): no
  flapping, and on such a link the trials (and the short freezes they cost) become rare, while a
  link that recovers is climbed again within seconds. That backoff belongs to the layer whose
  trials failed: once a step up is holding, the next climb waits only for the clean spell (and
  failed probes' backoff), and a probe that passes clears the probes' backoff (the link
  carries more than when they failed). Loss reported within
  :attr:`LayerPolicy.settle_s` of a switch down is not held against the new layer (a receiver report
  covers about the second before it, and queued packets of the old layer still arrive).
* **Probe before a trial.** Where the sender can add padding that the receiver throws away
  (:attr:`LayerSelector.can_probe`: RTX negotiated), a step up (not the resume from a pause: the
  lowest layer is small, and a paused viewer's estimate has nothing to follow) starts as a probe: for
  :attr:`LayerPolicy.probe_s` the sender adds what the next layer needs on top of the current
  one (:meth:`LayerSelector.probe_bps`) while the picture stays on its layer. A falling estimate
  under that rate, NACKs or high loss until :attr:`LayerPolicy.probe_wait_s` after the padding
  ends fail the probe: no switch, no keyframe, and the wait before the next one doubles (up to
  :attr:`LayerPolicy.probe_max_backoff_s`: a probe costs little, and a link that recovers is
  found again soon). A probe asks at most :attr:`LayerPolicy.probe_step` × what the link was
  last seen to carry (the current layer, or what the last passed probe reached), or
  :attr:`LayerPolicy.probe_add_bps` over it where that is more: a far step up
  (900 kb/s over a 250 kb/s layer) is probed in steps, the next starting as soon as one passes,
  so a link far too small for it is overfilled by a little, briefly, not flooded with all of it.
  Any sign of congestion forgets what probes showed. Only a probe of the whole way that passes
  leads to the trial.
* **Estimate.** Clean reports lift the cap by 8 % per second they cover, up to
  :attr:`LayerPolicy.creep_limit` × the rate being sent: what the link is believed to carry never runs far ahead of what it has
  been seen to carry.
* **Queues.** A round trip that stays :attr:`LayerPolicy.queue_s` over the lowest one seen
  lately (:meth:`LayerSelector.report_rtt`) means the rate sent fills the path faster than it
  drains, before any packet is lost (a layer just over the link's rate fills a deep buffer for
  seconds first): it fails a probe or a trial, and otherwise lowers the budget to 85 % of the
  rate sent.
* **Audio first.** The budget is the whole link's: a layer fits when its rate plus the viewer's
  audio (:attr:`LayerSelector.audio_bps`, set by the caller) fits, and caps taken from the video's
  loss, NACKs or estimate add the audio back.
* **Size.** No layer above the smallest one at least as tall as the player (``max_height``,
  device pixels) is chosen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def kept(loss: float) -> float:
    """The share of the rate sent that a link losing ``loss`` (0-1) of it is taken to carry:
    GCC's 1 − loss / 2 for moderate loss; for heavy loss, what got through (plus 10 %), so a
    link far smaller than the layer is found in one step, not several."""
    loss = min(1.0, max(0.0, loss))
    return min(1.0 - loss / 2, (1.0 - loss) * 1.1)


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
    max_backoff_s: float = 60.0
    pause_ratio: float = 0.6  # pause when the budget is under this share of the lowest layer
    settle_s: float = 2.0  # loss reported this soon after a switch is mostly the old layer's
    trial_nack: float = 0.08  # NACKed share of the packets sent since a trial began that ends it
    trial_nack_min: int = 6  # ... once at least this many packets were NACKed
    nack_window_s: float = 1.0  # outside trials, NACKed shares are judged over windows this long
    nack_burst: float = 0.2  # ... and a share over this is congestion (a 3 % lossy link's NACKs
    # exceed 10 % of a 100-packet second about once in 200 such seconds: not a signal)
    creep_limit: float = 2.0  # clean reports lift the cap to at most this × the rate sent
    probe_s: float = 0.4  # how long a probe's padding flows
    probe_wait_s: float = 1.2  # how long after it a failure still counts (a report covers ~1 s)
    probe_max_backoff_s: float = 5.0
    probe_step: float = 2.0  # a probe asks at most this × what the link was last seen to carry
    probe_add_bps: float = 300_000.0  # ... or this much over it (a small layer's double is no
    # test of a link: from 80 kb/s, 160 kb/s would take three probes to reach a 380 kb/s layer)
    queue_s: float = 0.12  # round trips this much over the link's lowest are a queue building
    base_rtt_drift: float = 0.005  # the lowest round trip is forgotten this fast (s per s)
    # a new viewer's link is unknown: it starts on the best layer within this (the top layer
    # would flood a narrow link before any report came) and climbs from there
    start_bps: float = 600_000.0
    agree_s: float = 1.5  # one low estimate and another sign of congestion this close agree


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
    remb_low: int = 0  # estimates in a row under the rate sent (the first one falling)
    remb_fell_at: float = -math.inf  # when the last falling estimate came
    lowered_at: float = -math.inf  # when a sign of congestion last lowered the budget
    loss: float = 0.0
    rtt_s: float | None = None
    cap_bps: float = math.inf
    current: str | None = None
    paused: bool = False
    clean_since: float | None = None
    last_down: float = -math.inf
    last_up: float = -math.inf
    backoff_s: float = 0.0  # the wait added after failed trials
    probe_backoff_s: float = 0.0  # ... after failed probes
    started: bool = False
    trial_from: str | None = None  # the layer a trial in progress started from ("" = paused)
    trial_rate: float = 0.0  # the trial layer's rate
    floor_bps: float = 0.0  # the rate of the layer the trial started from (it was clean)
    audio_bps: float = 0.0  # the viewer's audio, which shares its link and always goes first
    nacks: tuple[int, int] = (0, 0)  # last (NACKed, sent) running totals reported
    trial_mark: tuple[int, int] = (0, 0)  # ... when the trial began
    nack_window: tuple[float, int, int] = (-math.inf, 0, 0)  # (since, NACKed, sent) totals
    can_probe: bool = False  # the sender can pad (see the module doc)
    probe_start: float | None = None  # a probe in progress began then
    probe_extra: float = 0.0  # the padding rate it adds
    probe_rate: float = 0.0  # the rate it tests (the next layer's, with margin)
    probe_peak: float = 0.0  # the highest estimate seen since it began
    probe_end: float = -math.inf  # until then, signs of congestion are the last probe's doing
    proven_bps: float = 0.0  # the video rate the last passed probe showed the link carries
    probe_full: bool = False  # the probe in progress asks for all the next layer needs
    base_rtt: tuple[float, float] | None = None  # (lowest round trip seen, when)
    rtt_high: int = 0  # round trips in a row over base_rtt + queue_s
    last_loss_report: float | None = None  # when the last loss report came

    # reports ---------------------------------------------------------------------------------

    def report_estimate(self, now: float, bps: float, current_rate_bps: float) -> None:
        """The receiver's estimate (REMB) in bits per second, while ``current_rate_bps`` was
        being sent to this viewer."""
        previous, self.remb_bps = self.remb_bps, max(0.0, bps)
        falling = previous is not None and self.remb_bps < previous * 0.95
        if falling:
            self.remb_fell_at = now
        if self.probing(now):  # what the estimate says now is about the probe
            self.probe_peak = max(self.probe_peak, self.remb_bps)
            if self.remb_bps < self.probe_peak * 0.94 and self.remb_bps < self.probe_rate * 0.9:
                self._probe_failed(now)  # it fell from what the probe had reached
            return
        if now < self.probe_end:
            self.remb_low = 0
            return  # the fall a failed probe caused
        if falling and self.in_trial(now) and self.remb_bps < self.trial_rate * 0.9:
            self._trial_failed(self.remb_bps + self.audio_bps)  # its first falling estimate ends it
            return
        under = current_rate_bps > 0 and self.remb_bps < current_rate_bps * 0.9
        self.remb_low = self.remb_low + 1 if under and (falling or self.remb_low) else 0
        # one low estimate can be a scheduling hiccup; two are a trend, and so is a falling one
        # that follows another sign of congestion: that sign says the link is full, the
        # estimate how full
        if self.remb_low >= 2 or (falling and now - self.lowered_at <= self.policy.agree_s):
            self.cap_bps = min(self.cap_bps, self.remb_bps + self.audio_bps)
            self.lowered_at = now
            self._congested()

    def _lowered(self, now: float) -> None:
        """Loss, NACKs or a queue lowered the budget: an estimate that fell just before
        agrees, and says how far (see the module doc)."""
        self.lowered_at = now
        if self.remb_bps is not None and now - self.remb_fell_at <= self.policy.agree_s:
            self.cap_bps = min(self.cap_bps, self.remb_bps + self.audio_bps)
        self._congested()

    def report_loss(self, now: float, fraction: float, current_rate_bps: float) -> None:
        """A receiver report: ``fraction`` of packets lost since the last one (0..1), while
        ``current_rate_bps`` was being sent to this viewer. A clean one lifts the cap by 8 % per
        second since the last report (at most 3 s of it): reports of a slow stream summed over
        windows of enough packets come seconds apart, and must not climb slower for it."""
        since = self.last_loss_report
        self.last_loss_report = now
        span = 1.0 if since is None else min(3.0, max(0.0, now - since))
        self.loss = min(1.0, max(0.0, fraction))
        if now - self.last_down < self.policy.settle_s:
            return  # the report mostly describes the layer before the last switch down
        if self.probing(now):
            if self.loss > self.policy.high_loss:
                self._probe_failed(now)
            return
        if now < self.probe_end:
            return  # a failed probe's loss, reported after it was called off
        if self.loss > self.policy.high_loss:
            if self.in_trial(now):  # the trial layer's loss: back to where it started
                self._trial_failed((self.trial_rate + self.audio_bps) * kept(self.loss))
                return
            base = current_rate_bps + self.audio_bps if current_rate_bps > 0 else self.cap_bps
            if math.isfinite(base):
                self.cap_bps = min(self.cap_bps, base) * kept(self.loss)
            self._lowered(now)
        elif self.loss < self.policy.low_loss:
            limit = max(self.cap_bps, (current_rate_bps + self.audio_bps) * self.policy.creep_limit)
            self.cap_bps = min(self.cap_bps * 1.08**span, limit)
            if self.clean_since is None:
                self.clean_since = now

    def report_nacks(
        self, now: float, nacked: int, sent: int, current_rate_bps: float = 0.0
    ) -> None:
        """Running totals of packets sent to this viewer and of those it asked for again (NACK),
        while ``current_rate_bps`` was being sent. During a probe or a trial a NACKed share over
        :attr:`LayerPolicy.trial_nack` since it began ends it; otherwise a share over
        :attr:`LayerPolicy.nack_burst` within the last :attr:`LayerPolicy.nack_window_s` is
        congestion, acted on like a lossy receiver report but about a second sooner."""
        self.nacks = (nacked, sent)
        probing = self.probing(now)
        if probing or self.in_trial(now):
            missed, total = nacked - self.trial_mark[0], sent - self.trial_mark[1]
            if missed >= self.policy.trial_nack_min and missed > self.policy.trial_nack * total:
                if probing:
                    self._probe_failed(now)
                else:
                    self._trial_failed(self.trial_rate * 0.9 + self.audio_bps)
            return
        if now < self.probe_end:  # NACKs for what a failed probe cost
            self.nack_window = (now, nacked, sent)
            return
        since, base_nacked, base_sent = self.nack_window
        if now - since > self.policy.nack_window_s:
            self.nack_window = (now, nacked, sent)
            since, base_nacked, base_sent = self.nack_window
        missed, total = nacked - base_nacked, sent - base_sent
        if (
            missed >= self.policy.trial_nack_min
            and missed > self.policy.nack_burst * total
            and now - self.last_down >= self.policy.settle_s
        ):
            share = missed / max(total, 1)
            base = current_rate_bps + self.audio_bps if current_rate_bps > 0 else self.cap_bps
            if math.isfinite(base):
                self.cap_bps = min(self.cap_bps, base) * kept(share)
            self._lowered(now)
            self.nack_window = (now, nacked, sent)

    def probing(self, now: float) -> bool:
        """True from a probe's start until ``probe_wait_s`` after its padding ends."""
        return self.probe_start is not None and now < self.probe_end

    def probe_bps(self, now: float) -> float:
        """The padding rate the sender should add now (0: none): it ramps from half the
        probe's extra rate to all of it, so the queue a too-small link builds grows gently
        and the estimate falls before packets are lost."""
        start = self.probe_start
        if start is None or now - start >= self.policy.probe_s:
            return 0.0
        return self.probe_extra * (0.5 + 0.5 * (now - start) / self.policy.probe_s)

    def _probe_failed(self, now: float) -> None:
        self.probe_start = None
        self.clean_since = None
        self.remb_low = 0
        self.probe_backoff_s = min(
            self.policy.probe_max_backoff_s, max(self.policy.up_after_s, self.probe_backoff_s * 2)
        )

    def in_trial(self, now: float) -> bool:
        """True while the last step up is a trial that has not yet held for ``trial_s``."""
        if self.trial_from is not None and now - self.last_up >= self.policy.trial_s:
            self.trial_from = None  # it held
        return self.trial_from is not None

    def _trial_failed(self, cap_bps: float) -> None:
        self.cap_bps = min(self.cap_bps, max(cap_bps, self.floor_bps))
        self._congested()
        self.remb_low = 0

    def _congested(self) -> None:
        """A sign of congestion: the clean spell ends, and what probes had shown is forgotten."""
        self.clean_since = None
        self.proven_bps = 0.0

    def report_rtt(self, now: float, rtt_s: float | None, current_rate_bps: float = 0.0) -> None:
        """The round-trip time to the viewer, measured at ``now`` while ``current_rate_bps`` was
        being sent. Two in a row more than :attr:`LayerPolicy.queue_s` over the lowest seen
        lately mean a queue is building on the path (the rate sent does not fit, though nothing
        is lost yet): that fails a probe or a trial, and otherwise lowers the budget under the
        rate sent, like loss does."""
        self.rtt_s = rtt_s
        if rtt_s is None:
            return
        if self.base_rtt is None:
            self.base_rtt = (rtt_s, now)
        base, since = self.base_rtt
        base += (now - since) * self.policy.base_rtt_drift  # a path that changed is learnt
        self.base_rtt = (min(base, rtt_s), now)
        self.rtt_high = self.rtt_high + 1 if rtt_s > self.base_rtt[0] + self.policy.queue_s else 0
        if self.rtt_high < 2 or now - self.last_down < self.policy.settle_s:
            return
        self.rtt_high = 0
        if self.probing(now):
            self._probe_failed(now)
        elif now < self.probe_end:
            return  # the queue a failed probe built, draining
        elif self.in_trial(now):
            self._trial_failed(self.trial_rate * 0.85 + self.audio_bps)
        elif current_rate_bps > 0:
            self.cap_bps = min(self.cap_bps, (current_rate_bps + self.audio_bps) * 0.85)
            self._lowered(now)

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
        audio = self.audio_bps
        fits = [
            i for i in allowed if layers[i].bitrate_bps * self.policy.fit_margin + audio <= budget
        ]
        best: int | None = fits[-1] if fits else None
        if best is None and budget >= layers[0].bitrate_bps * self.policy.pause_ratio + audio:
            best = 0  # close enough: the lowest layer rather than a paused picture
        if not self.started:
            self.started = True
            self.clean_since = now
            start = min(budget, self.policy.start_bps)
            if all(layers[i].bitrate_bps > 0 for i in allowed) or math.isinf(start):
                fitting = [i for i in allowed if layers[i].bitrate_bps + audio <= start]
                first = fitting[-1] if fitting else 0
            else:  # the publisher has just begun: its rates are not measured yet
                first = len(allowed) // 2  # the middle layer (h of three)
            self.current = names[min(first, top) if best is None else min(first, best, top)]
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
            if self.trial_from is not None and self.in_trial(now):  # back to where it started
                back = names.index(self.trial_from) if self.trial_from in names else None
                best = back if back is not None and (best is None or back > best) else best
                self.trial_from = None
            return self._down(now, names, best, congestion=True)
        if self.probing(now):
            return None if self.paused else self.current
        if self.probe_start is not None and now > self.probe_end + 1.0:
            self.probe_start = None  # passed, but the climb it was for is no longer due
        if cur < top and self._may_climb(now, layers, cur + 1):
            need = layers[cur + 1].bitrate_bps * self.policy.up_margin
            if self.can_probe and self.probe_start is not None and not self.probe_full:
                self.proven_bps = max(self.proven_bps, self.probe_rate)  # a step of the way
                self.probe_start = None
                self.probe_backoff_s = 0.0  # the link carries more than when probes failed
            if self.can_probe and self.probe_start is None and cur >= 0:
                sending = layers[cur].bitrate_bps
                self.probe_start = now
                self.probe_end = now + self.policy.probe_s + self.policy.probe_wait_s
                self.probe_peak = self.remb_bps or 0.0
                base = max(sending, self.proven_bps)
                step = max(base * self.policy.probe_step, base + self.policy.probe_add_bps)
                self.probe_rate = min(need, step)
                # judged by what it was for when it began: the layers' measured rates move
                self.probe_full = self.probe_rate >= need
                self.probe_extra = self.probe_rate - sending
                self.trial_mark = self.nacks
                return None if self.paused else self.current
            if self.probe_start is not None:  # the probe passed: the link has recovered
                self.probe_backoff_s = 0.0
            self.probe_start = None  # (or there is no probe): the trial
            self.trial_from = "" if cur < 0 else names[cur]
            self.floor_bps = audio + (
                0.0 if cur < 0 else layers[cur].bitrate_bps * self.policy.fit_margin
            )
            self.trial_rate = layers[cur + 1].bitrate_bps
            self.trial_mark = self.nacks
            self.last_up = now
            self.paused = False
            self.current = names[cur + 1]
            self.cap_bps = max(
                self.cap_bps, layers[cur + 1].bitrate_bps * self.policy.up_margin + audio
            )
            return self.current
        return None if self.paused else self.current

    def _down(self, now: float, names: list[str], to: int | None, congestion: bool) -> str | None:
        if congestion:
            if now - self.last_up < self.policy.trial_s:  # the last step up did not hold
                most = (
                    self.policy.probe_max_backoff_s if self.can_probe else self.policy.max_backoff_s
                )
                self.backoff_s = min(most, max(self.policy.up_after_s, self.backoff_s * 2))
            self.last_down = now
            self._congested()
        if to is None:
            self.paused = True
            return None
        self.paused = False
        self.current = names[to]
        return self.current

    def _may_climb(self, now: float, layers: Sequence[Layer], nxt: int) -> bool:
        if self.last_down < self.last_up and now - self.last_up >= self.policy.trial_s:
            self.backoff_s = self.probe_backoff_s = 0.0  # the last step up held
        if self.clean_since is None:
            return False
        # the trials' backoff is about the layer whose trials failed: once a step up is holding,
        # the next climb (a layer further) waits only for the clean spell and failed probes
        trials = self.backoff_s if self.last_down >= self.last_up else 0.0
        wait = self.policy.up_after_s + max(trials, self.probe_backoff_s)
        return (
            now - self.clean_since >= wait
            and now - self.last_down >= wait
            and now - self.last_up >= wait
        )
