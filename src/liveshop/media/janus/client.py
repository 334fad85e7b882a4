"""A minimal asynchronous client for the Janus HTTP (REST) API, VideoRoom flavoured.

One :class:`JanusSession` is one Janus session on one instance: ``create`` → a long-poll task
(``GET /janus/{session}?maxev=N``) that resolves pending transactions and hands handle events
(``webrtcup``, ``hangup``, ``detached``, plugin events without a transaction) to a callback,
plus a keep-alive every :data:`KEEPALIVE_S` seconds (Janus drops idle sessions after its
``session_timeout``, 60 s by default). When the instance goes away (connection refused/reset, or
Janus answers "no such session" after a restart) ``on_lost`` is called exactly once and every
pending call fails with :class:`JanusError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

logger = logging.getLogger(__name__)

KEEPALIVE_S = 25.0
POLL_TIMEOUT_S = 45.0  # Janus holds a long poll for 30 s
REQUEST_TIMEOUT_S = 10.0
VIDEOROOM = "janus.plugin.videoroom"

HandleEvent = Callable[[int, dict[str, Any]], None]


class JanusError(Exception):
    """A Janus or VideoRoom error; ``code`` is Janus's numeric code (0 for transport errors)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{reason} ({code})" if code else reason)
        self.code = code
        self.reason = reason


class JanusGone(JanusError):
    """The instance is unreachable or forgot our session."""


class JanusSession:
    """One Janus session over HTTP: requests, long-poll events and keep-alives."""

    def __init__(
        self,
        url: str,
        *,
        api_secret: str = "",
        on_event: HandleEvent,
        on_lost: Callable[[], Awaitable[None]],
    ) -> None:
        self.url = url.rstrip("/")
        self.api_secret = api_secret
        self.on_event = on_event
        self.on_lost = on_lost
        self.session_id: int | None = None
        self.lost = False
        self._http = httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the Janus session and start polling; raises :class:`JanusGone` if unreachable."""
        reply = await self._post(self.url, {"janus": "create"})
        self.session_id = int(reply["data"]["id"])
        self._tasks = [
            asyncio.create_task(self._poll(), name=f"janus-poll-{self.session_id}"),
            asyncio.create_task(self._keepalive(), name=f"janus-keepalive-{self.session_id}"),
        ]

    async def close(self) -> None:
        """Destroy the session (best effort) and stop the tasks."""
        was_lost = self.lost
        self.lost = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.session_id is not None and not was_lost:
            with contextlib.suppress(JanusError):
                await self._post(f"{self.url}/{self.session_id}", {"janus": "destroy"})
        self._fail_pending("session closed")
        await self._http.aclose()

    # requests ----------------------------------------------------------------------------------

    async def attach(self, plugin: str = VIDEOROOM) -> int:
        reply = await self._post(self._session_url(), {"janus": "attach", "plugin": plugin})
        return int(reply["data"]["id"])

    async def detach(self, handle_id: int, session_id: int | None = None) -> None:
        """Detach a handle (hangs up its PeerConnection); unknown handles are ignored.

        With ``session_id``, the handle of another Janus session on this instance (e.g. another
        liveshop process's): Janus accepts any session id with the API secret, and the owner of
        that session gets the ``hangup`` / ``detached`` events on its long poll."""
        url = self._session_url() if session_id is None else f"{self.url}/{session_id}"
        with contextlib.suppress(JanusError):
            await self._post(f"{url}/{handle_id}", {"janus": "detach"})

    async def hangup(self, handle_id: int) -> None:
        with contextlib.suppress(JanusError):
            await self._post(f"{self._session_url()}/{handle_id}", {"janus": "hangup"})

    async def request(self, handle_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request (``create``, ``add_remote_publisher``...): its data."""
        reply = await self._post(
            f"{self._session_url()}/{handle_id}", {"janus": "message", "body": body}
        )
        return _plugin_data(reply)

    async def message(
        self,
        handle_id: int,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
        timeout: float = REQUEST_TIMEOUT_S,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """An asynchronous plugin request (``join``, ``start``...): (data, jsep) of its event."""
        transaction = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        payload: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            payload["jsep"] = jsep
        try:
            reply = await self._post(
                f"{self._session_url()}/{handle_id}", payload, transaction=transaction
            )
            if reply.get("janus") == "success":  # answered synchronously after all
                return _plugin_data(reply), reply.get("jsep")
            event = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise JanusError(0, f"Janus did not answer {body.get('request')!r} in time") from None
        finally:
            self._pending.pop(transaction, None)
        return _plugin_data(event), event.get("jsep")

    # plumbing ----------------------------------------------------------------------------------

    def _session_url(self) -> str:
        if self.session_id is None or self.lost:
            raise JanusGone(0, f"no Janus session on {self.url}")
        return f"{self.url}/{self.session_id}"

    async def _post(
        self, url: str, payload: dict[str, Any], transaction: str | None = None
    ) -> dict[str, Any]:
        payload = {**payload, "transaction": transaction or secrets.token_hex(8)}
        if self.api_secret:
            payload["apisecret"] = self.api_secret
        try:
            response = await self._http.post(url, json=payload)
            reply: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JanusGone(0, f"Janus at {self.url} is unreachable: {exc!r}") from exc
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            code = int(error.get("code", 0))
            reason = str(error.get("reason", "unknown error"))
            if code == 458:  # no such session: Janus restarted or timed us out
                raise JanusGone(code, reason)
            raise JanusError(code, reason)
        return reply

    async def _poll(self) -> None:
        url = f"{self.url}/{self.session_id}"
        params: dict[str, Any] = {"maxev": 10}
        if self.api_secret:
            params["apisecret"] = self.api_secret
        try:
            while True:
                try:
                    response = await self._http.get(url, params=params, timeout=POLL_TIMEOUT_S)
                    body = response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    logger.warning("Janus %s: long poll failed: %r", self.url, exc)
                    break
                events = body if isinstance(body, list) else [body]
                if any(e.get("janus") == "error" for e in events):
                    logger.warning("Janus %s: session gone: %s", self.url, events)
                    break
                for event in events:
                    self._dispatch(event)
        except asyncio.CancelledError:
            return
        await self._gone()

    async def _keepalive(self) -> None:
        try:
            while True:
                await asyncio.sleep(KEEPALIVE_S)
                try:
                    await self._post(self._session_url(), {"janus": "keepalive"})
                except JanusGone:
                    break
                except JanusError as exc:
                    logger.warning("Janus %s: keepalive refused: %s", self.url, exc)
        except asyncio.CancelledError:
            return
        await self._gone()

    async def _gone(self) -> None:
        if self.lost:
            return
        self.lost = True
        self._fail_pending(f"Janus at {self.url} went away")
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        await self.on_lost()

    def _fail_pending(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(JanusGone(0, reason))
        self._pending.clear()

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("janus")
        if kind == "keepalive":
            return
        transaction = event.get("transaction")
        future = self._pending.get(transaction) if isinstance(transaction, str) else None
        if future is not None and kind == "event":
            if not future.done():
                future.set_result(event)
            return
        sender = event.get("sender")
        if isinstance(sender, int):
            try:
                self.on_event(sender, event)
            except Exception:  # a handler bug must not stop the poll loop
                logger.exception("Janus event handler failed for %s", event)


def _plugin_data(reply: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = (reply.get("plugindata") or {}).get("data") or {}
    if "error_code" in data:
        raise JanusError(int(data["error_code"]), str(data.get("error", "VideoRoom error")))
    return data
