"""Broker control messages: hub-to-hub and process-to-process, never seen by a socket."""

from __future__ import annotations

from typing import Literal

from liveshop.protocol.frames import envelope


def banned(livestream_id: int, user_id: str, *, addresses: bool = False) -> bytes:
    """Control for every hub: close ``user_id``'s sockets in the show; they get ``error banned``.
    With ``addresses``, each hub also bans (and stores) the addresses that user is connected from
    there, and closes every socket from them."""
    return envelope(None, ctl="ban", user=user_id, show=livestream_id, addresses=addresses)


def unbanned(livestream_id: int, user_id: str) -> bytes:
    """Control for every hub: ``user_id`` (and the addresses banned with them) may come back."""
    return envelope(None, ctl="unban", user=user_id, show=livestream_id)


def moderation_changed() -> bytes:
    """Control for every hub (global topic): reload the shop's moderation settings."""
    return envelope(None, ctl="moderation")


def peer_control(
    op: Literal["join", "leave", "hello"], peer_id: str, role: str, node: str
) -> bytes:
    """Control for every hub: keep the show's directory of peers (for signalling) in step."""
    return envelope(None, ctl="peer", op=op, peer=peer_id, role=role, node=node)


def chat_catch_up(after: int, node: str) -> bytes:
    """Control for the show's hubs: process ``node`` was cut off from the broker and is back; the
    chat it stored meanwhile (ids after ``after``) may not have reached the others, who read it
    from the database and pass on what their sockets have not had."""
    return envelope(None, ctl="catchup", after=after, node=node)


def revoked(user_id: str) -> bytes:
    """Control for every hub (on the global topic): ``user_id``'s tokens were revoked; close their
    sockets (they get ``error unauthorized`` and 4401)."""
    return envelope(None, ctl="revoked", user=user_id)


CACHE_TOPIC = "cache"


def cache_invalidate(groups: tuple[str, ...]) -> bytes:
    """For every process's read cache (on :data:`CACHE_TOPIC`): drop the cached reads of ``groups``."""
    return ",".join(groups).encode()


def open_cache_invalidate(data: bytes) -> tuple[str, ...]:
    """The groups named by a :func:`cache_invalidate` message (empty names dropped)."""
    return tuple(g for g in data.decode("utf-8", "replace").split(",") if g)
