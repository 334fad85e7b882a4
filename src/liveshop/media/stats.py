"""Stream statistics shared by every server-side backend: the counters of one incoming RTP
stream and the shape of :meth:`MediaBackend.stats`.

``sfu`` counts the publisher's streams as it forwards them; ``janus`` counts what its monitor
subscriber receives. Both report through :func:`publisher_stats` and :func:`media_stats`, so
the stats route answers the same shape in every mode.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .rtputil import picture_size

SIZE_SAMPLE_PACKETS = 64  # once known, the picture size is re-read at most every 64 packets
WINDOW_S = 1.0  # bitrate and frame rate are measured over windows of about this long


class StreamStats:
    """Counters of one incoming RTP stream: bitrate, frame rate, picture size, sequence gaps.

    Guarantees: :meth:`count` is O(1) and never allocates (it runs for every packet);
    ``bitrate_kbps`` and ``fps`` are those of the last complete window of at least
    :data:`WINDOW_S`; :meth:`lost` never goes below 0 (duplicates and retransmissions do not
    make it negative). The stream's sequence numbers restart when :meth:`restart` is called
    (a new SSRC).
    """

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.packets = 0
        self.base_seq: int | None = None
        self.ext_max: int | None = None
        self.size: tuple[int, int] | None = None
        self.win_start = time.monotonic()
        self.win_bytes = 0
        self.win_frames = 0
        self.bitrate_kbps = 0.0
        self.fps = 0.0

    def restart(self) -> None:
        """The stream's sequence numbers start again (new SSRC); totals are kept."""
        self.base_seq = None

    def count(self, seq: int, size: int, marker: int) -> None:
        """Count one packet of ``size`` payload bytes (``marker`` set: the last of a frame)."""
        self.packets += 1
        if self.base_seq is None or self.ext_max is None:
            self.base_seq = seq
            self.ext_max = seq
        else:
            delta = (seq - self.ext_max) & 0xFFFF
            if delta < 0x8000:
                self.ext_max += delta
        self.win_bytes += size
        if marker:
            self.win_frames += 1
        now = time.monotonic()
        elapsed = now - self.win_start
        if elapsed >= WINDOW_S:
            self.bitrate_kbps = self.win_bytes * 8 / elapsed / 1000
            self.fps = self.win_frames / elapsed
            self.win_start = now
            self.win_bytes = 0
            self.win_frames = 0

    def size_due(self) -> bool:
        """True when the next keyframe's picture size should be read (unknown yet, or every
        :data:`SIZE_SAMPLE_PACKETS` packets)."""
        return self.size is None or self.packets % SIZE_SAMPLE_PACKETS == 0

    def sample_size(self, keyframe_payload: bytes) -> None:
        """Read the picture size from the first packet of a keyframe (kept when unreadable)."""
        self.size = picture_size(self.codec, keyframe_payload) or self.size

    def lost(self) -> int:
        """Packets missing between the first and the highest sequence number seen."""
        if self.base_seq is None or self.ext_max is None:
            return 0
        return max(0, self.ext_max - self.base_seq + 1 - self.packets)


class MissedShare:
    """The share of packets sent to a viewer that it reported missing (NACK), per window.

    Guarantees: :meth:`missed` counts each sequence number once however often it is NACKed
    (within the last :data:`SLOTS` packets); :meth:`share` is that of the last complete window of
    at least ``window`` seconds (None before one has passed with packets sent), measured when
    :meth:`share` is called, so a caller polling rarely gets a longer window. O(1), no allocation.
    """

    SLOTS = 512

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self.count = 0
        self._slots = [-1] * self.SLOTS
        self._mark = (time.monotonic(), 0, 0)  # when, packets sent, missed
        self._share: float | None = None

    def missed(self, seq: int) -> None:
        """The viewer asked for ``seq`` again (NACK)."""
        slot = seq % self.SLOTS
        if self._slots[slot] != seq:
            self._slots[slot] = seq
            self.count += 1

    def share(self, sent: int) -> float | None:
        """Missed / sent (0-1) over the last complete window; ``sent`` is the running total."""
        now = time.monotonic()
        when, sent_then, missed_then = self._mark
        if now - when >= self.window:
            if sent > sent_then:
                self._share = min(1.0, (self.count - missed_then) / (sent - sent_then))
            self._mark = (now, sent, self.count)
        return self._share


class ReportedLoss:
    """A viewer's loss from its receiver reports, over windows long enough to mean something.

    Browsers send a receiver report with every feedback packet (each NACK, each estimate), so
    on a lossy link reports come every few hundred milliseconds and each one's 8-bit fraction
    covers a handful of packets: one loss in six reads as 17 %. This sums the reports'
    cumulative counters instead (RFC 3550 §6.4.1: extended highest sequence number, cumulative
    number lost). Guarantees: :meth:`add` returns the share (0-1) of the packets expected over
    the window it closes, or None while the window is open; a window closes once it covers at
    least ``min_packets`` packets, or ``max_seconds`` with at least one; the share never goes
    below 0 (retransmissions can lower the cumulative count). The default window tells a lossy
    link's usual share from congestion: with 4.5 % lost (3 % random loss, as receivers count it)
    a window of 150 packets reads over 10 % about once in 800; of 50, once in 40 (a false cut
    every ~20 s at 100 packets/s). Heavy congestion is seen sooner by its NACKs.
    """

    def __init__(self, min_packets: int = 150, max_seconds: float = 3.0) -> None:
        self.min_packets = min_packets
        self.max_seconds = max_seconds
        self._mark: tuple[float, int, int] | None = None  # when, highest seq, lost

    def add(self, now: float, highest_seq: int, cumulative_lost: int) -> float | None:
        """One report block's counters, received at ``now``."""
        if self._mark is None:
            self._mark = (now, highest_seq, cumulative_lost)
            return None
        since, seq0, lost0 = self._mark
        expected = highest_seq - seq0
        if expected < 0 or expected > 1 << 20:  # a new stream or a wrapped counter: start over
            self._mark = (now, highest_seq, cumulative_lost)
            return None
        if expected < self.min_packets and not (expected and now - since >= self.max_seconds):
            return None
        self._mark = (now, highest_seq, cumulative_lost)
        return min(1.0, max(0, cumulative_lost - lost0) / expected)


class SeenSeqs:
    """The sequence numbers of one incoming RTP stream received lately (the last :attr:`SLOTS`
    at most): tells a retransmission that repairs a loss from one that repeats a packet already
    here (a late repair, or a sender's bandwidth probe made of old packets). add and lookup are
    O(1) and allocate nothing (they run for every packet).
    """

    SLOTS = 1024  # divides 65536: a slot always holds the same sequence numbers modulo SLOTS

    def __init__(self) -> None:
        self._slots = [-1] * self.SLOTS

    def add(self, seq: int) -> None:
        self._slots[seq % self.SLOTS] = seq

    def __contains__(self, seq: int) -> bool:
        return self._slots[seq % self.SLOTS] == seq

    def clear(self) -> None:
        """The stream's sequence numbers start again (a new SSRC)."""
        self._slots = [-1] * self.SLOTS


def viewer_loss(reported: float | None, missed: float | None) -> float | None:
    """One viewer's loss (0-1): the larger of what its last receiver report says was lost for
    good and the share of packets it had to ask for again (NACK, repaired by the server), so a
    link that drops packets shows even when every loss was repaired. None while neither is
    known."""
    known = [v for v in (reported, missed) if v is not None]
    return max(known) if known else None


def publisher_stats(codec: str, streams: Mapping[str, StreamStats]) -> dict[str, Any]:
    """The ``publisher`` part of :meth:`MediaBackend.stats` from its streams by kind
    (``video``, ``audio``): total bitrate, the video's frame rate and size, total loss."""
    video = streams.get("video")
    return {
        "bitrateKbps": round(sum(s.bitrate_kbps for s in streams.values()), 1),
        "fps": round(video.fps, 1) if video else 0.0,
        "width": video.size[0] if video and video.size else None,
        "height": video.size[1] if video and video.size else None,
        "codec": codec,
        "packetsLost": sum(s.lost() for s in streams.values()),
    }


def media_stats(
    publisher: dict[str, Any] | None,
    viewers: int,
    rtts_ms: Iterable[float],
    losses_pct: Iterable[float] = (),
    links: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """:meth:`MediaBackend.stats`'s answer: the publisher's stats (or None), the viewer count,
    the p50/p95 of the viewers' round-trip times and of the share of packets they lost, in
    percent (each None while no viewer has reported), each viewer's link (``viewerLinks``:
    layer, estimated bandwidth, loss, RTT; empty where the backend does not select layers) and
    how many viewers are on each simulcast layer (``viewersPerLayer``, ``"paused"`` for
    audio-only)."""
    rtts, losses = list(rtts_ms), list(losses_pct)
    per_layer: dict[str, int] = {}
    for link in links or []:
        name = "paused" if link.get("paused") else link.get("layer")
        if name:
            per_layer[name] = per_layer.get(name, 0) + 1
    return {
        "publisher": publisher,
        "viewers": viewers,
        "viewerRttMs": {"p50": percentile(rtts, 50), "p95": percentile(rtts, 95)},
        "viewerLossPct": {"p50": percentile(losses, 50), "p95": percentile(losses, 95)},
        "viewerLinks": list(links or []),
        "viewersPerLayer": per_layer,
    }


def layer_stats(rid: str, stats: StreamStats) -> dict[str, Any]:
    """One simulcast layer as the ``publisher.layers`` list of the stats shows it."""
    return {
        "rid": rid,
        "bitrateKbps": round(stats.bitrate_kbps, 1),
        "fps": round(stats.fps, 1),
        "width": stats.size[0] if stats.size else None,
        "height": stats.size[1] if stats.size else None,
    }


def percentile(values: list[float], pct: int) -> float | None:
    """The ``pct``-th percentile (inclusive method), rounded to 0.1; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 1)
