"""What an SDP offer asks for and what an answer settled: shared by every server-side backend.

WHIP and WHEP offers are checked here the same way whichever backend moves the media (``sfu``
answers them with aiortc, ``janus`` hands them to Janus VideoRoom), so both answer a bad offer
with the same status: 400 malformed, 422 no video, 415 no usable codec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiortc import sdp
from aiortc.codecs import CODECS
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters

from . import aiortc_internals as internals
from .base import MediaError
from .rtputil import H264, OPUS, VP8

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
MAX_LAYERS = 4
VIDEO_CODECS = (VP8, H264)

Role = Literal["publisher", "viewer"]
_DIRECTIONS: dict[Role, tuple[str | None, ...]] = {
    "publisher": (None, "sendonly", "sendrecv"),
    "viewer": (None, "recvonly", "sendrecv"),
}


def parse_offer(offer_sdp: str) -> sdp.SessionDescription:
    """Parse a WHIP/WHEP offer.

    Guarantees on return: at most one audio and exactly one video section, no other kinds, and
    ICE credentials and a DTLS fingerprint on every section. Raises :class:`MediaError` 400 when
    the text is empty or malformed, 422 when it has no video.
    """
    if not isinstance(offer_sdp, str) or not offer_sdp.strip():
        raise MediaError(400, "empty SDP offer")
    text = offer_sdp.strip().replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n"
    if not text.startswith("v=0"):
        raise MediaError(400, "malformed SDP offer: it must start with 'v=0'")
    try:
        desc = sdp.SessionDescription.parse(text)
    except Exception as exc:
        raise MediaError(400, f"malformed SDP offer: {exc}") from exc
    if not desc.media:
        raise MediaError(400, "malformed SDP offer: no m= sections")
    kinds = [m.kind for m in desc.media]
    for kind in kinds:
        if kind not in ("audio", "video"):
            raise MediaError(400, f"unsupported m={kind} section; only audio and video")
    if "video" not in kinds:
        raise MediaError(422, "the offer has no video")
    if kinds.count("video") > 1 or kinds.count("audio") > 1:
        raise MediaError(400, "at most one video and one audio m= section are supported")
    for media in desc.media:  # aiortc copies session-level ICE/DTLS attributes into each m=
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise MediaError(400, "malformed SDP offer: ICE ufrag/pwd missing")
        if media.dtls is None or not media.dtls.fingerprints:
            raise MediaError(400, "malformed SDP offer: DTLS fingerprint missing")
    desc.type = "offer"
    return desc


def check_direction(media: sdp.MediaDescription, role: Role) -> None:
    """Raise :class:`MediaError` 400 unless a publisher's section sends (``sendonly``, or
    ``sendrecv`` / none) or a viewer's receives (``recvonly``, or ``sendrecv`` / none)."""
    if media.direction not in _DIRECTIONS[role]:
        wanted = "sendonly" if role == "publisher" else "recvonly"
        raise MediaError(400, f"{role} {media.kind} must be {wanted}")


def codec_capability(codec: RTCRtpCodecParameters) -> RTCRtpCodecCapability:
    """The capability (for ``setCodecPreferences``) matching a negotiated or local codec."""
    return RTCRtpCodecCapability(
        mimeType=codec.mimeType,
        clockRate=codec.clockRate,
        channels=codec.channels,
        parameters=codec.parameters,
    )


def rtx_capability() -> RTCRtpCodecCapability:
    """Video retransmission (RFC 4588), offered beside the video codec."""
    return RTCRtpCodecCapability(mimeType="video/rtx", clockRate=90000)


def _local_match(kind: str, offered: RTCRtpCodecParameters) -> RTCRtpCodecParameters | None:
    for local in CODECS[kind]:
        if local.name.lower() == "rtx":
            continue
        if internals.codecs_compatible(local, offered):
            return local
    return None


def choose_publisher_codec(media: sdp.MediaDescription) -> RTCRtpCodecParameters:
    """aiortc's codec for the first VP8/H.264 (video) or Opus (audio) codec the section offers.

    Raises :class:`MediaError` 415 when the section offers none of them.
    """
    # codec names are case-insensitive (RFC 4855): GStreamer offers "OPUS", browsers "opus"
    supported = {c.lower() for c in (VIDEO_CODECS if media.kind == "video" else (OPUS,))}
    for offered in media.rtp.codecs:
        if offered.name.lower() not in supported:
            continue
        local = _local_match(media.kind, offered)
        if local is not None:
            return local
    names = ", ".join(sorted({c.name for c in media.rtp.codecs})) or "none"
    wanted = "VP8 or H.264" if media.kind == "video" else "Opus"
    raise MediaError(415, f"unsupported {media.kind} codecs ({names}); send {wanted}")


@dataclass
class Negotiated:
    """One active audio or video section of an answer: what its RTP packets carry."""

    kind: str
    mid: str | None
    codec: str
    clock_rate: int
    pt: int
    rtx: dict[int, int]  # rtx pt -> apt
    mid_ext_id: int | None
    abs_ext_id: int | None = None
    playout_ext_id: int | None = None  # the viewer accepts playout-delay requests


def negotiated_streams(answer_sdp: str) -> dict[str, Negotiated]:
    """The active (not ``inactive``) audio/video sections of an answer, by kind: the first
    non-RTX codec of each, its RTX payload types and the MID header extension id."""
    desc = sdp.SessionDescription.parse(answer_sdp)
    result: dict[str, Negotiated] = {}
    for media in desc.media:
        if media.kind not in ("audio", "video") or media.direction == "inactive":
            continue
        main = [c for c in media.rtp.codecs if c.name.lower() != "rtx"]
        if not main:
            continue
        rtx = {
            int(c.payloadType or 0): int(str(c.parameters["apt"]))
            for c in media.rtp.codecs
            if c.name.lower() == "rtx" and "apt" in c.parameters
        }
        mid_ext = next((x.id for x in media.rtp.headerExtensions if x.uri == MID_URI), None)
        abs_ext = next(
            (x.id for x in media.rtp.headerExtensions if x.uri == ABS_SEND_TIME_URI), None
        )
        playout_ext = next(
            (x.id for x in media.rtp.headerExtensions if x.uri == PLAYOUT_DELAY_URI), None
        )
        result[media.kind] = Negotiated(
            kind=media.kind,
            mid=media.rtp.muxId,
            codec=main[0].name,
            clock_rate=main[0].clockRate,
            pt=int(main[0].payloadType or 0),
            rtx=rtx,
            mid_ext_id=mid_ext,
            abs_ext_id=abs_ext,
            playout_ext_id=playout_ext,
        )
    return result


def _video_section(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    inside = False
    for line in lines:
        if line.startswith("m="):
            inside = line.startswith("m=video")
        elif inside:
            out.append(line.strip())
    return out


def simulcast_rids(offer_sdp: str) -> list[str]:
    """The RIDs a publisher's video section sends as simulcast (RFC 8853), in its order; ``[]``
    for a single-layer offer.

    Only the first alternative of each layer is taken and paused (``~``) RIDs are skipped.
    Raises :class:`MediaError` 400 when ``a=simulcast`` names a RID with no ``a=rid:… send``
    line, when RIDs repeat, or when it lists more than :data:`MAX_LAYERS` layers.
    """
    lines = _video_section(offer_sdp)
    declared = {
        parts[0]
        for line in lines
        if line.startswith("a=rid:")
        for parts in [line[6:].split()]
        if len(parts) >= 2 and parts[1] == "send"
    }
    spec = next(
        (line[len("a=simulcast:") :] for line in lines if line.startswith("a=simulcast:")), None
    )
    if spec is None:
        return []
    words = spec.split()
    if len(words) < 2 or words[0] != "send":
        raise MediaError(400, "a publisher's a=simulcast must be 'send <rid>;<rid>…'")
    rids: list[str] = []
    for layer in words[1].split(";"):
        rid = layer.split(",")[0].strip()
        if rid.startswith("~"):
            continue
        if not rid or rid not in declared:
            raise MediaError(400, f"a=simulcast names rid {rid!r} with no a=rid:{rid} send line")
        if rid in rids:
            raise MediaError(400, f"a=simulcast repeats rid {rid!r}")
        rids.append(rid)
    if len(rids) > MAX_LAYERS:
        raise MediaError(400, f"at most {MAX_LAYERS} simulcast layers are supported")
    return rids


def answer_simulcast(answer_sdp: str, rids: list[str]) -> str:
    """``answer_sdp`` with the video section receiving ``rids`` as simulcast (``a=rid:… recv``
    and ``a=simulcast:recv …``); unchanged when ``rids`` is empty."""
    if not rids:
        return answer_sdp
    lines = answer_sdp.split("\r\n")
    out: list[str] = []
    inside = False
    extra = [f"a=rid:{rid} recv" for rid in rids] + ["a=simulcast:recv " + ";".join(rids)]
    for line in lines:
        if line.startswith("m="):
            if inside:
                out.extend(extra)
            inside = line.startswith("m=video")
        elif inside and line == "":
            out.extend(extra)
            inside = False
        out.append(line)
    if inside:
        out.extend(extra)
    return "\r\n".join(out)
