"""What the media server says about one WHEP session (``webrtc_video_state``) reaches only the
socket whose page said it watches through that session (``webrtc_watching``), in every process."""

from __future__ import annotations

from liveshop.media.base import MediaEvent
from tests.hub.conftest import Env


async def test_a_video_state_reaches_only_the_socket_watching_through_that_session(
    env: Env,
) -> None:
    """Of two shoppers in the show, only the one that announced the session gets its pause; the
    other never sees the session id (it is the owner's capability)."""
    show = await env.start_show()
    owner, other = await env.connect(), await env.connect()
    await owner.join(show)
    await other.join(show)
    await owner.send(type="webrtc_watching", sessionId="sess-A_1")
    await owner.send(type="ping")
    await owner.wait_type("pong")  # a socket's messages are handled in order
    emit = env.server.app.state.media.on_event
    data = {"session_id": "sess-A_1", "state": "paused", "reason": "bandwidth"}
    await emit(MediaEvent("viewer_video", show, data))
    event = await owner.wait_type("webrtc_video_state")
    assert event == {
        "type": "webrtc_video_state",
        "livestreamId": show,
        "sessionId": "sess-A_1",
        "state": "paused",
        "reason": "bandwidth",
    }
    # the same topic delivers in order: once the next show-wide event is in, the first was not
    await emit(MediaEvent("publisher_left", show, {"session_id": "x", "reason": "bye"}))
    await other.wait_type("webrtc_broadcast_stop")
    assert other.seen("webrtc_video_state") == []


async def test_watching_needs_a_joined_socket_and_a_plain_session_id(env: Env) -> None:
    """``webrtc_watching`` before a join, or with a session id that is not a URL-safe token, is
    refused with ``invalid``."""
    show = await env.start_show()
    client = await env.connect()
    await client.send(type="webrtc_watching", sessionId="abc")
    assert "join" in (await client.wait_type("error", code="invalid"))["message"]
    await client.join(show)
    await client.send(type="webrtc_watching", sessionId="../whep/x")
    assert "sessionId" in (await client.wait_type("error", code="invalid"))["message"]


async def test_a_reconnect_notice_reaches_only_the_socket_watching_through_that_session(
    env: Env,
) -> None:
    """``viewers_lost`` (a Janus instance died) tells each listed session's own socket alone to
    offer again; other shoppers never see those session ids."""
    show = await env.start_show()
    owner, other = await env.connect(), await env.connect()
    await owner.join(show)
    await other.join(show)
    await owner.send(type="webrtc_watching", sessionId="sess-B_2")
    await owner.send(type="ping")
    await owner.wait_type("pong")
    emit = env.server.app.state.media.on_event
    await emit(MediaEvent("viewers_lost", show, {"sessions": ["sess-B_2", "sess-C_3"]}))
    event = await owner.wait_type("webrtc_reconnect")
    assert event == {"type": "webrtc_reconnect", "livestreamId": show, "sessionIds": ["sess-B_2"]}
    await emit(MediaEvent("publisher_left", show, {"session_id": "x", "reason": "bye"}))
    await other.wait_type("webrtc_broadcast_stop")
    assert other.seen("webrtc_reconnect") == []
    assert owner.seen("webrtc_reconnect") == []  # nor the other session's notice
