"""Simulcast in ``janus`` mode: how VideoRoom numbers a publisher's layers, and what the Admin
API's ``handle_info`` says about them and about each viewer's link. Pure (no I/O).

Janus 1.1 numbers a simulcast publisher's layers as *substreams* 0 (lowest) to 2 (highest),
from the ``a=rid:… send`` lines of the offer (at most three; a fourth is ignored). By default it
takes the first line for the highest layer (``rid_order`` ``"hml"``, as browsers list
``sendEncodings`` f, h, q); the JSEP may say ``"lmh"`` instead. :func:`substream_rids` picks the
order from the usual names (q < h < f; anything else: Janus's default) and returns the RID of
each substream, lowest first, so liveshop's layer names are the publisher's RIDs in either mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..negotiation import simulcast_rids
from ..source import RID_RANK

MAX_SUBSTREAMS = 3  # VideoRoom's limit


def _rid_lines(offer_sdp: str) -> list[str]:
    """The RIDs of the video section's ``a=rid:… send`` lines, in order (Janus reads these)."""
    rids: list[str] = []
    inside = False
    for raw in offer_sdp.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line.startswith("m="):
            inside = line.startswith("m=video")
        elif inside and line.startswith("a=rid:"):
            parts = line[len("a=rid:") :].split()
            if len(parts) >= 2 and parts[1] == "send" and parts[0] not in rids:
                rids.append(parts[0])
    return rids


def substream_rids(offer_sdp: str) -> tuple[list[str], str]:
    """``(rids, rid_order)`` of a publisher's offer: the RID Janus will call substream 0, 1, 2
    (lowest first; ``[]`` for a single-layer offer) and the ``rid_order`` to send in the JSEP.

    Raises :class:`~liveshop.media.base.MediaError` 400 for a malformed ``a=simulcast`` (the
    same checks as the ``sfu`` mode)."""
    if not simulcast_rids(offer_sdp):
        return [], "hml"
    lines = _rid_lines(offer_sdp)[:MAX_SUBSTREAMS]
    known = all(rid in RID_RANK for rid in lines)
    if known and len(lines) > 1 and RID_RANK[lines[0]] < RID_RANK[lines[-1]]:
        return lines, "lmh"
    return list(reversed(lines)), "hml"


def layer_heights(top_height: int | None, count: int) -> list[int | None]:
    """Each substream's height (lowest first) from the top layer's: each layer half the one
    above (browsers' default ``scaleResolutionDownBy`` 4, 2, 1; the studio's f/h/q). Janus
    does not report sizes; liveshop's monitor measures only the top layer it receives."""
    if not top_height:
        return [None] * count
    return [max(1, round(top_height / 2 ** (count - 1 - i))) for i in range(count)]


def _media(info: dict[str, Any]) -> list[dict[str, Any]]:
    media = (info.get("webrtc") or {}).get("media") or {}
    return [m for m in media.values() if isinstance(m, dict)]


def publisher_rates(info: dict[str, Any], count: int) -> list[float] | None:
    """The bitrate (bits/s, over Janus's last second) of each of the publisher's ``count``
    substreams, lowest first, from its ``handle_info``; None when the info has no video."""
    for medium in _media(info):
        if medium.get("type") != "video":
            continue
        incoming = ((medium.get("stats") or {}).get("in")) or {}
        parts = [incoming, incoming.get("video-simulcast-1"), incoming.get("video-simulcast-2")]
        return [
            float((part or {}).get("bytes_lastsec") or 0) * 8 for part in parts[: max(1, count)]
        ]
    return None


@dataclass
class LinkSample:
    """What Janus reports about one viewer's PeerConnection at one moment (cumulative counters
    per kind: packets sent, packets its receiver reports say were lost)."""

    sent: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    rate_bps: float = 0.0  # video sent over the last second
    rtt_ms: float | None = None
    substream: int | None = None  # the substream Janus forwards to it now
    reported: bool = False  # a receiver report has arrived (before that: no loss figure)


def link_sample(info: dict[str, Any], video_mid: str | None) -> LinkSample:
    """A viewer's :class:`LinkSample` from its subscriber handle's ``handle_info``."""
    sample = LinkSample()
    for medium in _media(info):
        kind = medium.get("type")
        if kind not in ("audio", "video"):
            continue
        main = ((medium.get("rtcp") or {}).get("main")) or {}
        out = ((medium.get("stats") or {}).get("out")) or {}
        sample.sent[kind] = int(out.get("packets") or 0)
        sample.lost[kind] = int(main.get("lost-by-remote") or 0)
        if main.get("out-link-quality", 0) > 0:
            sample.reported = True
            if kind == "video" or sample.rtt_ms is None:
                sample.rtt_ms = float(main.get("rtt") or 0)
        if kind == "video":
            sample.rate_bps = float(out.get("bytes_lastsec") or 0) * 8
    for stream in (info.get("plugin_specific") or {}).get("streams") or []:
        if stream.get("type") == "video" and (video_mid is None or stream.get("mid") == video_mid):
            simulcast = stream.get("simulcast") or {}
            substream = simulcast.get("substream")
            if isinstance(substream, int) and substream >= 0:
                sample.substream = substream
    return sample


def interval_loss(before: LinkSample | None, after: LinkSample, kind: str) -> float | None:
    """The share of ``kind`` packets sent between two samples that the viewer reported lost
    (0..1); None when nothing was sent in between or no report has arrived."""
    if before is None or not after.reported or kind not in after.sent:
        return None
    sent = after.sent[kind] - before.sent.get(kind, 0)
    if sent <= 0:
        return None
    lost = after.lost.get(kind, 0) - before.lost.get(kind, 0)
    return min(1.0, max(0.0, lost / sent))
