"""``bench.network``'s publisher, in a process of its own (as a seller's browser is on a machine
of its own): :class:`liveshop.media.synthetic_simulcast.SimulcastPublisher` encoding its layers
there, so neither its encoders nor its audio wait on the server's event loop (or the server on
them). Its offer reaches the server's backend over a pipe; when each frame's encoding began is
written into shared memory, by the 16-bit index the frame carries, for glass-to-glass latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from liveshop.media.base import MediaBackend, MediaSession

INDEXES = 1 << 16  # draw_frame draws 16 bits of the index


class SentAt:
    """When frame ``index`` (mod 2**16) began encoding (wall clock), shared with the process."""

    def __init__(self, array: Any) -> None:
        self.array = array

    def get(self, index: int) -> float | None:
        value = float(self.array[index % INDEXES])
        return value or None


class PublisherProcess:
    """The publisher process: :meth:`start` publishes to ``backend`` (livestream 1) and returns
    when the process has its answer; :meth:`close` stops it."""

    def __init__(self, simulcast: bool, fps: int, addresses: list[str], codec: str = "VP8") -> None:
        ctx = multiprocessing.get_context("spawn")
        self.array = ctx.Array("d", INDEXES, lock=False)
        self.sent_at = SentAt(self.array)
        self.here, there = ctx.Pipe()
        self.process = ctx.Process(
            target=_main,
            args=(there, self.array, simulcast, fps, addresses, codec),
            daemon=True,
            name="bench-publisher",
        )

    async def start(self, backend: MediaBackend) -> None:
        self.process.start()
        offer = await asyncio.to_thread(self._recv, 60)
        session = await backend.publish(1, offer)
        self.here.send(session.answer_sdp)

    def _recv(self, timeout: float) -> Any:
        if not self.here.poll(timeout):
            raise TimeoutError("the publisher process sent no offer")
        return self.here.recv()

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            self.here.send("stop")
        await asyncio.to_thread(self.process.join, 10)
        if self.process.is_alive():
            self.process.kill()


def _main(
    conn: Connection, array: Any, simulcast: bool, fps: int, addresses: list[str], codec: str
) -> None:
    from liveshop.media.aiortc_internals import restrict_host_addresses

    restrict_host_addresses(addresses)
    asyncio.run(_publish(conn, array, simulcast, fps, codec))


class _ShareTimes(dict[int, float]):
    """The publisher's ``sent_at`` that also writes each time into the shared array."""

    def __init__(self, array: Any) -> None:
        super().__init__()
        self.array = array

    def __setitem__(self, index: int, at: float) -> None:
        self.array[index % INDEXES] = at  # (not kept here: the run would only grow it)


async def _publish(conn: Connection, array: Any, simulcast: bool, fps: int, codec: str) -> None:
    from liveshop.media.synthetic_simulcast import SimulcastPublisher

    class Server:
        async def publish(self, livestream_id: int, offer_sdp: str) -> MediaSession:
            conn.send(offer_sdp)
            answer: str = await asyncio.to_thread(conn.recv)
            return MediaSession("", answer)

    publisher = SimulcastPublisher(simulcast=simulcast, fps=fps, codec=codec)
    publisher.sent_at = _ShareTimes(array)
    await publisher.start(Server())
    await asyncio.to_thread(conn.recv)  # "stop"
    await publisher.close()
