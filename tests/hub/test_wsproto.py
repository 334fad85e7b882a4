"""The ``/ws`` server protocol: frames encoded once and written straight to each socket."""

from __future__ import annotations

import asyncio

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from liveshop.app import UVICORN_WS_OPTIONS
from liveshop.hub import wsproto
from tests.hub.conftest import Env


def parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        assert reader.at_eof()  # nothing left over
        return frame
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 300_000])
def test_encoded_frame_is_one_final_text_frame(size: int) -> None:
    """A text frame of every length class (7-bit, 16-bit, 64-bit) parses back to its payload."""
    payload = b"x" * size
    frame = parse(wsproto.encode_text_frame(payload))
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)


def test_installed_uvicorn_supports_the_frame_writer() -> None:
    """The installed uvicorn still has what the protocol relies on, and the app selects it."""
    assert wsproto.supported()
    assert UVICORN_WS_OPTIONS["ws"] == wsproto.PROTOCOL_PATH


async def test_server_connections_write_frames_directly(env: Env) -> None:
    """A real server's hub connections get the direct frame writer and still deliver broadcasts."""
    show = await env.start_show()
    a, b = await env.connect(), await env.connect()
    await a.join(show)
    await b.join(show)
    hub = env.server.app.state.hub
    assert hub.connections and all(conn.writes_frames for conn in hub.connections)
    await a.send(type="chat_send", text="hello", clientMessageId="c1")
    assert (await b.wait_type("chat_message"))["text"] == "hello"


async def test_frame_over_the_read_limit_gets_too_large_then_1009(env: Env) -> None:
    """A 1 MB frame (past what the server reads) is answered ``error too_large``, then closed 1009;
    other sockets are unaffected."""
    show = await env.start_show()
    hostile, other = await env.connect(), await env.connect()
    await hostile.join(show)
    await other.join(show)
    await hostile.ws.send("x" * (1 << 20))
    assert (await hostile.wait_type("error"))["code"] == "too_large"
    code, _ = await asyncio.wait_for(hostile.closed, 5)
    assert code == 1009
    await other.send(type="ping")
    await other.wait_type("pong")
