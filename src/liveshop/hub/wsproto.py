"""The WebSocket server protocol ``/ws`` runs on: uvicorn's, plus one way to write a ready frame.

Broadcast fan-out is the hub's hot path: one event, thousands of sockets. Through ASGI each socket
costs an ``await websocket.send_text()`` that walks Starlette's and uvicorn's layers and frames the
same text again (measured: about half of the hub's CPU at 5,000 viewers). Server-to-client frames
are never masked (RFC 6455 §5.1), so the bytes of a text frame are the same for every socket: the
room encodes each broadcast once (:func:`encode_text_frame`) and this protocol writes those bytes
straight to the socket's transport.

The protocol advertises this as an ASGI scope extension, ``scope["extensions"]["liveshop.frames"]
= {"write": write_frame}``. ``write_frame(frame) -> bool`` is synchronous and never blocks: it
writes and returns True when the socket is open and its transport is not paused, else returns
False and writes nothing — the caller then queues the frame and sends it through ASGI, which waits
for the transport to drain. Everything else (handshake, reads, pings, close) is uvicorn's.

Under another ASGI server (or a uvicorn whose internals changed, see :func:`supported`) the
extension is absent and the hub sends every frame through ASGI: slower, same behaviour.
"""

from __future__ import annotations

import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import PayloadTooBig
from websockets.http11 import Request

from liveshop import protocol

FRAMES_EXTENSION = "liveshop.frames"
PROTOCOL_PATH = "liveshop.hub.wsproto:FrameWriterProtocol"
_REQUIRED = (
    "close_sent",
    "disconnected",
    "handshake_complete",
    "writable",
    "transport",
    "queue",
    "initial_response",
)


def encode_text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked text frame (FIN + opcode 1) carrying ``payload`` (UTF-8)."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class FrameWriterProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol with the ``liveshop.frames`` extension."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: dict[str, Any] | None = getattr(self, "scope", None)
        if scope is not None and not self.close_sent:  # the handshake is going ahead
            scope["extensions"][FRAMES_EXTENSION] = {"write": self.write_frame}

    def handle_parser_exception(self) -> None:
        """A frame over ``ws_max_size`` closes the socket with 1009 (the parser cannot go on);
        the client first gets ``error too_large``, as for frames the hub refuses itself."""
        if isinstance(self.conn.parser_exc, PayloadTooBig) and self.handshake_complete:
            error = protocol.error("too_large", "the frame is over the size limit; closing")
            self.transport.write(encode_text_frame(error.encode()))
        super().handle_parser_exception()

    draining = False

    def shutdown(self) -> None:
        """The server is stopping (SIGTERM, a rolling restart): stop reading, let the app act on
        the frames already received (a chat message read is stored and published), and send the
        close frame (1012, service restart) only when the app reaches the end of them (see
        :meth:`receive`). A client that reconnects elsewhere therefore finds in its resume
        snapshot everything this process accepted, and resends only what it never read."""
        if (
            self.handshake_complete
            and self.initial_response is None
            and not self.close_sent
            and not self.disconnected
        ):
            self.stop_keepalive()
            self.draining = True
            self.transport.pause_reading()
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1012})
            return
        super().shutdown()

    async def receive(self) -> Any:
        message = await super().receive()
        if (
            self.draining
            and message["type"] == "websocket.disconnect"
            and not self.close_sent
            and not self.disconnected
        ):
            self.draining = False
            self.conn.send_close(1012, "service restart")
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            self.transport.close()
        return message

    def write_frame(self, frame: bytes) -> bool:
        """Write an encoded frame now if the socket is open and not paused; never blocks.

        Returns False (nothing written) before the handshake completes, once a close frame was
        sent or the peer is gone, and while the transport's buffer is over its high-water mark.
        Frames written here and through ASGI ``send`` reach the peer in call order."""
        if (
            self.close_sent
            or self.disconnected
            or not self.handshake_complete
            or not self.writable.is_set()
        ):
            return False
        transport = self.transport
        if transport.is_closing():
            return False
        transport.write(frame)
        return True


def supported() -> bool:
    """True when the installed uvicorn still has the state :class:`FrameWriterProtocol` reads
    (checked on an unconnected instance's attributes; a test fails loudly when this changes)."""
    init = WebSocketsSansIOProtocol.__init__
    names = set(init.__code__.co_names)
    return all(name in names for name in _REQUIRED) and all(
        hasattr(WebSocketsSansIOProtocol, method)
        for method in ("handle_connect", "handle_parser_exception")
    )
