"""The ``janus`` rows of ``bench.chaos``: a Janus instance dies under a show.

Two ``liveshop serve`` processes in ``janus`` mode (private PostgreSQL and Redis, as for the other
rows) over two Debian Janus instances inside a network namespace the bench creates
(:class:`liveshop.media.netns.Namespace`: Janus's APIs and ICE candidates on its far address, this
process's aiortc peers on its near address only; nothing leaves the machine). A scripted show:
an aiortc publisher over WHIP through process A, WHEP viewers (aiortc, with the guest tokens of
shoppers on both processes) placed by liveshop on both instances, and the usual chat.

The viewers do what the watch page does (``static/js/media/sfu-watch.js``): a ``webrtc_reconnect``
on their own shopper's socket listing their WHEP session → a new WHEP offer at once;
``webrtc_broadcast_stop`` → the connection dropped (the server ended it); a
``webrtc_broadcast_start`` while not playing → a new offer at once; their track ending → a new
offer after 1 s (409 "not live" → again a second later). The publisher does what the studio does
(``sfu-publish.js``): it publishes again (``?replace=1``) at once when the seller's socket hears
``webrtc_broadcast_stop`` with reason ``janus_down`` while it publishes. Each row starts with new viewers (the previous
ones DELETE their sessions), placed one after another, so that both instances have some.

Rows:

* ``janus dies``: the instance that is *not* the show's origin is SIGKILLed; its viewers are told
  (``webrtc_reconnect``) and are placed on the origin;
* ``janus origin dies``: the origin is SIGKILLed; the show stops, the publisher publishes again,
  which makes the other instance the new origin; every viewer offers again on
  ``webrtc_broadcast_start``.

Time to detect: the kill → a process's ``/api/health`` says ``degraded``. Time to recover: the kill
→ every viewer receiving frames again (the viewers that lost their instance on a new session).
The killed instance stays down for the row and is started again after it. Viewers lost: viewers
not playing 30 s after the kill, plus sockets closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from bench.chaos import Chaos, Node, Phase, Shopper

VIEWERS = 4  # WHEP viewers, on processes A and B in turn
PLAYING_S = 0.5  # a viewer plays while its last frame is at most this old
RECOVER_FRAMES = 10  # frames on the new session before a moved viewer counts as playing again
WINDOW_S = 30.0  # a viewer not playing this long after the kill is lost


def janus_problem() -> str | None:
    """Why the Janus rows cannot run here (None when they can)."""
    from liveshop.media.janus.process import find_janus, find_lib_dir
    from liveshop.media.netns import problem

    if find_janus() is None:
        return "janus is not installed (`make janus`)"
    if find_lib_dir() is None:
        return "Janus's VideoRoom plugin / HTTP transport were not found"
    return problem()


class WhepViewer:
    """An aiortc WHEP viewer that reconnects the way the watch page does (see module doc)."""

    def __init__(self, bench: JanusChaos, shopper: Shopper) -> None:
        self.bench, self.shopper = bench, shopper
        self.pc: Any = None
        self.session = ""
        self.generation = 0  # WHEP sessions made so far
        self.frames = 0  # frames on the current session
        self.last_frame = 0.0
        self.reader: asyncio.Task[None] | None = None
        self.need = asyncio.Event()
        self.loop: asyncio.Task[None] | None = None
        self.reoffered_on_event = 0
        self.busy = False

    @property
    def playing(self) -> bool:
        return time.monotonic() - self.last_frame < PLAYING_S

    def start(self) -> None:
        self.need.set()
        self.loop = asyncio.create_task(self._run())

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "webrtc_reconnect" and self.session in event.get("sessionIds", []):
            self.session = ""  # gone with its instance: nothing to DELETE
            self.reoffered_on_event += 1
            self.need.set()
        elif kind == "webrtc_broadcast_stop" and self.session and not self.busy:
            self.session, self.last_frame = "", 0.0  # ended by the server
            asyncio.get_running_loop().create_task(self._drop())
            asyncio.get_running_loop().call_later(1.0, self._fallback)  # in case start is missed
        elif kind == "webrtc_broadcast_start" and not (self.session and self.playing):
            self.need.set()

    def _fallback(self) -> None:
        if not self.session:
            self.need.set()

    async def _run(self) -> None:
        while not self.bench.closing:
            await self.need.wait()
            self.need.clear()
            self.busy = True
            try:
                connected = await self._connect()
            finally:
                self.busy = False
            if not connected:
                await asyncio.sleep(1.0)
                self.need.set()

    async def _connect(self) -> bool:
        from aiortc import RTCPeerConnection

        from liveshop.media.synthetic import answer, offer

        await self._drop()
        pc = self.pc = RTCPeerConnection()
        video: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        pc.on("track", lambda t: t.kind == "video" and not video.done() and video.set_result(t))
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        node, show = self.shopper.node, self.bench.show_id
        try:
            r = await self.bench.http.post(
                f"{node.url}/api/livestreams/{show}/whep",
                content=await offer(pc),
                headers={
                    "Authorization": f"Bearer {self.shopper.token}",
                    "Content-Type": "application/sdp",
                },
            )
        except Exception as exc:
            self.bench.client_error(f"WHEP {type(exc).__name__}")
            return False
        if r.status_code != 201:
            if r.status_code != 409:  # 409: not live (yet), as the page expects
                self.bench.client_error(f"WHEP {r.status_code}")
            return False
        await answer(pc, r.text)
        self.session = r.headers["Location"].rsplit("/", 1)[-1]
        self.generation += 1
        # as the page: tell the hub which session this socket watches through (webrtc_reconnect
        # about it is sent to this socket alone)
        with contextlib.suppress(Exception):
            watching = {"type": "webrtc_watching", "sessionId": self.session}
            await self.shopper.ws.send(json.dumps(watching))
        self.frames = 0
        try:
            track = await asyncio.wait_for(video, 15)
        except TimeoutError:
            return False
        self.reader = asyncio.create_task(self._read(track))
        return True

    async def _read(self, track: Any) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                self.frames += 1
                self.last_frame = time.monotonic()
        if not self.bench.closing:  # the track ended (hung up): as the page, a second later
            await asyncio.sleep(1.0)
            self.need.set()

    async def _drop(self) -> None:
        if self.reader is not None and self.reader is not asyncio.current_task():
            self.reader.cancel()
        self.reader = None
        if self.pc is not None:
            with contextlib.suppress(Exception):
                await self.pc.close()
        self.pc = None

    async def close(self, *, delete: bool = False) -> None:
        if self.loop is not None:
            self.loop.cancel()
        await self._drop()
        if delete and self.session:
            with contextlib.suppress(Exception):
                await self.bench.http.delete(
                    f"{self.shopper.node.url}/api/livestreams/{self.bench.show_id}/whep/{self.session}",
                    headers={"Authorization": f"Bearer {self.shopper.token}"},
                )


class JanusChaos(Chaos):
    """``Chaos`` in ``janus`` mode over two Janus instances; its faults kill one of them."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.namespace: Any = None
        self.januses: list[Any] = []
        self.viewers: dict[str, WhepViewer] = {}  # by shopper name
        self.publishing = False
        self.http: Any = None
        self.placement: Any = None
        self.publisher: Any = None
        self.admin = ""

    # --- set-up ------------------------------------------------------------------------------

    def start_services(self) -> None:
        from bench.media import start_janus
        from liveshop.media import aiortc_internals
        from liveshop.media.netns import Namespace

        super().start_services()
        self.namespace = Namespace().create()
        aiortc_internals.restrict_host_addresses([self.namespace.near])
        self.januses = start_janus(str(self.work), 2, "chaos", self.namespace)

    def node_env(self) -> dict[str, str]:
        first = self.januses[0]
        return {
            "LIVESHOP_MEDIA_MODE": "janus",
            "LIVESHOP_MEDIA_ADDRESSES": self.namespace.near,
            "LIVESHOP_JANUS_URLS": ",".join(j.url for j in self.januses),
            "LIVESHOP_JANUS_API_SECRET": first.api_secret,
            "LIVESHOP_JANUS_ADMIN_SECRET": first.admin_key,
        }

    def stop(self) -> None:
        self.closing = True
        for node in self.nodes:
            if node.popen.poll() is None:
                node.popen.terminate()
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.popen.wait(15)
        for janus in self.januses:
            janus.stop()
        if self.namespace is not None:
            self.namespace.delete()
        super().stop()

    async def media_peers(self, http: Any, node: Node, admin: str) -> tuple[Any, Any]:
        import httpx

        from liveshop.media.janus.placement.factory import create_placement

        self.http = httpx.AsyncClient(timeout=10)
        self.placement = create_placement(self.redis.url)
        self.admin = admin
        await self.publish(replace=False)
        return self.publisher, None

    async def place_viewers(self) -> None:
        """New WHEP viewers (the previous ones DELETE their sessions), placed by liveshop."""
        for viewer in self.viewers.values():
            await viewer.close(delete=True)
        self.viewers.clear()
        for shopper in self.shoppers[:VIEWERS]:
            viewer = self.viewers[shopper.name] = WhepViewer(self, shopper)
            viewer.start()
            # one at a time: each is placed knowing where the previous ones went
            await _until(lambda viewer=viewer: viewer.playing, 30, "a viewer playing")

    async def publish(self, *, replace: bool) -> None:
        from aiortc import RTCPeerConnection
        from aiortc.mediastreams import AudioStreamTrack

        from liveshop.media.synthetic import IndexedVideoTrack, answer, offer

        if self.publisher is not None:
            with contextlib.suppress(Exception):
                await self.publisher.close()
        pc = self.publisher = RTCPeerConnection()
        pc.addTransceiver(IndexedVideoTrack(), direction="sendonly")
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        a = self.nodes[0]
        r = await self.http.post(
            f"{a.url}/api/livestreams/{self.show_id}/whip" + ("?replace=1" if replace else ""),
            content=await offer(pc),
            headers={"Authorization": f"Bearer {self.admin}", "Content-Type": "application/sdp"},
        )
        if r.status_code != 201:
            self.client_error(f"WHIP {r.status_code}")
            return
        await answer(pc, r.text)
        self.publishing = True

    async def close_media(self) -> None:
        for viewer in self.viewers.values():
            await viewer.close()
        if self.publisher is not None:
            await self.publisher.close()
        await self.http.aclose()
        await self.placement.close()

    # --- events ------------------------------------------------------------------------------

    def on_event(self, who: Shopper, event: dict[str, Any]) -> None:
        super().on_event(who, event)
        viewer = self.viewers.get(who.name)
        if viewer is not None:
            viewer.on_event(event)
        if (
            who is getattr(self, "seller", None)
            and event.get("type") == "webrtc_broadcast_stop"
            and event.get("reason") == "janus_down"
            and self.publishing
            and not self.closing
        ):
            self.publishing = False
            asyncio.get_running_loop().create_task(self.publish(replace=True))

    def client_error(self, what: str) -> None:
        self.phase.ws_errors[what] = self.phase.ws_errors.get(what, 0) + 1

    def check_video(self, phase: Phase) -> None:
        return None  # the viewers are judged at the end of the phase

    # --- the faults --------------------------------------------------------------------------

    async def where(self) -> tuple[str, dict[str, str]]:
        """(the show's origin URL, each viewer's instance URL by shopper name)."""
        show = await self.placement.get_show(self.show_id)
        sessions = await self.placement.show_sessions(self.show_id)
        at = {n: sessions[v.session].url for n, v in self.viewers.items() if v.session in sessions}
        return (show.origin if show is not None else ""), at

    async def kill(self, name: str, origin: bool) -> Phase:
        phase = self.phase = Phase(name)
        await self.place_viewers()
        stop = asyncio.Event()
        tasks = self.traffic(phase, self.http, stop)
        await asyncio.sleep(1.0)
        first, placed = await self.where()
        index = next(i for i, j in enumerate(self.januses) if (j.url == first) == origin)
        victim = self.januses[index]
        on_victim = {n for n, url in placed.items() if url == victim.url}
        # the origin's death ends every viewer's session (the others' are hung up)
        moved = set(self.viewers) if origin else on_victim
        generation = {n: v.generation for n, v in self.viewers.items()}
        on_event = {n: v.reoffered_on_event for n, v in self.viewers.items()}
        on_origin = sum(url == first for url in placed.values())
        phase.notes.append(
            f"{name}: viewers on the origin {on_origin}, on the other instance "
            f"{len(placed) - on_origin}; SIGKILL to the {'origin' if origin else 'other'}"
        )
        killed = time.monotonic()
        victim.stop(kill=True)

        def recovered() -> bool:
            return all(
                v.playing
                and (n not in moved or v.generation > generation[n])
                and (n not in moved or v.frames >= RECOVER_FRAMES)
                for n, v in self.viewers.items()
            )

        while time.monotonic() - killed < WINDOW_S:
            if phase.detect is None and not await self.healthy(self.http):
                phase.detect = time.monotonic() - killed
            if recovered() and phase.detect is not None:
                phase.recover = time.monotonic() - killed
                break
            await asyncio.sleep(0.05)
        phase.video_stalls = sum(not v.playing for v in self.viewers.values())
        now, _ = await self.where()
        told = sum(self.viewers[n].reoffered_on_event > on_event[n] for n in moved)
        origin_now = "kept" if now == first else "moved to the other instance" if now else "none"
        phase.notes.append(
            f"{name}: {len(on_victim)} of {len(self.viewers)} viewers were on the killed "
            f"instance, {len(moved)} had to connect again, {told} on webrtc_reconnect; "
            f"the origin: {origin_now}"
        )
        await self.settle(phase, stop, tasks)
        await asyncio.to_thread(victim.start)  # back for the next row
        await _until_async(lambda: self.healthy(self.http), 30)
        return phase

    async def faults(self) -> list[Phase]:
        return [
            await self.kill("janus dies", origin=False),
            await self.kill("janus origin dies", origin=True),
        ]


async def _until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _until_async(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True
