"""The Janus VideoRoom plugin's requests as liveshop sends them, and what its answers mean.

Every request body liveshop sends to VideoRoom is built here (one function per request), so the
wire format of the plugin lives in one place. Room-management requests carry the VideoRoom
``admin_key`` when one is configured. Janus's room id is the livestream id.
"""

from __future__ import annotations

from typing import Any

from ..base import MediaError
from ..rtputil import H264, VP8
from .client import JanusError, JanusGone

Request = dict[str, Any]

ROOM_PUBLISHERS = 4  # the publisher, a replacing publisher, remote copies
CODECS = {"vp8": VP8, "h264": H264}  # VideoRoom's video_codec names → liveshop's


def _with_key(body: Request, admin_key: str) -> Request:
    if admin_key:
        body["admin_key"] = admin_key
    return body


def create_room(room: int, *, admin_key: str) -> Request:
    """``create``: a non-permanent room for one show (VP8/H.264 video, Opus audio)."""
    return _with_key(
        {
            "request": "create",
            "room": room,
            "description": f"liveshop show {room}",
            "publishers": ROOM_PUBLISHERS,
            "videocodec": "vp8,h264",
            "audiocodec": "opus",
            "notify_joining": False,
            "permanent": False,
        },
        admin_key,
    )


def destroy_room(room: int, *, admin_key: str) -> Request:
    """``destroy``: the room and every handle in it."""
    return _with_key({"request": "destroy", "room": room}, admin_key)


def join_publisher(room: int, feed: int, video_codec: str | None = None) -> Request:
    """``joinandconfigure`` as a publisher with feed id ``feed`` (sent with the WHIP offer).
    ``video_codec`` (``vp8``/``h264``: the offer's first) is the one Janus answers with; without
    it Janus takes the first of the room's list that the offer has, whatever the offer prefers."""
    request: Request = {
        "request": "joinandconfigure",
        "ptype": "publisher",
        "room": room,
        "id": feed,
        "display": f"liveshop-{room}",
    }
    if video_codec:
        request["videocodec"] = video_codec
    return request


def join_subscriber(room: int, feed: int) -> Request:
    """``join`` as a subscriber to every stream of ``feed`` (Janus answers with its offer)."""
    return {"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed}]}


def start() -> Request:
    """``start``: a subscriber's answer follows (sent with the answer JSEP)."""
    return {"request": "start"}


def configure_video(mid: str, substream: int | None, *, resume: bool = False) -> Request:
    """A subscriber's ``configure`` for its video m-line ``mid``: forward ``substream`` (0
    lowest … 2, every temporal layer; ``resume`` turns the video back on) or, for None, pause
    the video (``send: false``; audio goes on)."""
    stream: dict[str, Any] = {"mid": mid}
    if substream is None:
        stream["send"] = False
    else:
        stream.update(substream=substream, temporal=2)
        if resume:
            stream["send"] = True
    return {"request": "configure", "streams": [stream]}


def add_remote_publisher(
    room: int, feed: int, streams: list[dict[str, Any]], *, admin_key: str
) -> Request:
    """``add_remote_publisher``: a copy of ``feed`` with its ``streams`` on this instance; the
    answer has the ``ip``/``port``/``rtcp_port`` to forward it to."""
    return _with_key(
        {
            "request": "add_remote_publisher",
            "room": room,
            "id": feed,
            "display": f"liveshop-{room}",
            "streams": streams,
        },
        admin_key,
    )


def publish_remotely(
    room: int,
    feed: int,
    remote_id: str,
    host: str,
    port: int,
    rtcp_port: int | None,
    *,
    admin_key: str,
) -> Request:
    """``publish_remotely``: the origin forwards ``feed`` to a remote copy (RTCP port optional)."""
    body: Request = {
        "request": "publish_remotely",
        "room": room,
        "publisher_id": feed,
        "remote_id": remote_id,
        "host": host,
        "port": port,
    }
    if rtcp_port:
        body["rtcp_port"] = rtcp_port
    return _with_key(body, admin_key)


def unpublish_remotely(room: int, feed: int, remote_id: str, *, admin_key: str) -> Request:
    """``unpublish_remotely``: the origin stops forwarding ``feed`` to ``remote_id``."""
    return _with_key(
        {
            "request": "unpublish_remotely",
            "room": room,
            "publisher_id": feed,
            "remote_id": remote_id,
        },
        admin_key,
    )


def remove_remote_publisher(room: int, feed: int, *, admin_key: str) -> Request:
    """``remove_remote_publisher``: drop the copy of ``feed`` on this instance."""
    return _with_key({"request": "remove_remote_publisher", "room": room, "id": feed}, admin_key)


def published_codec(data: dict[str, Any]) -> str:
    """The video codec (``VP8`` / ``H264``) of a publisher's ``joinandconfigure`` answer, or
    ``""`` when Janus accepted no VP8/H.264 video."""
    return CODECS.get(str(data.get("video_codec", "")).lower(), "")


def published_streams(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The enabled audio/video streams of a publisher's ``joinandconfigure`` answer, as
    ``add_remote_publisher`` wants them (``type``, ``mindex``, ``mid``, ``codec``, and
    ``simulcast`` for a simulcast video: a remote copy then takes every substream)."""
    return [
        {k: s[k] for k in ("type", "mindex", "mid", "codec", "simulcast") if k in s}
        for s in data.get("streams", [])
        if s.get("type") in ("audio", "video") and not s.get("disabled")
    ]


def media_error(exc: JanusError) -> MediaError:
    """Map a Janus/VideoRoom error to the status the WHIP/WHEP routes answer with."""
    if isinstance(exc, JanusGone):
        return MediaError(503, f"Janus media server unavailable: {exc}")
    if exc.code in (428, 435):  # no such feed / not published
        return MediaError(409, "not live")
    if exc.code in (465, 466):  # SDP / JSEP errors
        return MediaError(400, f"Janus refused the SDP: {exc.reason}")
    return MediaError(502, f"Janus error: {exc}")
