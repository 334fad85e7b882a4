"""Where test media flows: over loopback, or inside network namespaces the tests create.

Never towards this machine's external address. In-process aiortc peers (the server's and the
tests') gather ICE host candidates on 127.0.0.1 only (``LIVESHOP_MEDIA_ADDRESSES``, an autouse
fixture in tests/conftest.py). Peers that cannot use loopback (Janus, GStreamer's webrtcbin,
Chromium) run inside a :class:`~liveshop.media.netns.Namespace`; the aiortc peers on this side
then use its ``near`` address only (:func:`media_addresses`). Namespaces need root: without
``ip netns`` a test that needs one skips with the reason (fails under ``CI=true``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from liveshop.media import aiortc_internals as internals
from liveshop.media.netns import Namespace, problem

LOOPBACK = "127.0.0.1"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@contextmanager
def media_addresses(*addresses: str) -> Iterator[None]:
    """Every aiortc peer of this process gathers host candidates on ``addresses`` only."""
    before = internals.host_addresses() or []
    internals.restrict_host_addresses(addresses)
    try:
        yield
    finally:
        internals.restrict_host_addresses(before)


def require_netns() -> None:
    """Skip (fail under CI=true) when network namespaces cannot be made here."""
    reason = problem()
    if reason is None:
        return
    if CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


@contextmanager
def media_namespace() -> Iterator[Namespace]:
    """A namespace joined by a veth pair; this process's aiortc peers use its near side only."""
    require_netns()
    with Namespace() as ns, media_addresses(ns.near):
        yield ns


def subprocess_env(env: dict[str, str], *addresses: str) -> dict[str, str]:
    """``env`` for a ``liveshop serve`` child whose aiortc peers use ``addresses`` (default
    loopback) unless it already says."""
    return {
        "LIVESHOP_MEDIA_ADDRESSES": ",".join(addresses or (LOOPBACK,)),
        # many test shoppers share 127.0.0.1; the per-address limits have their own tests
        "LIVESHOP_GUEST_TOKENS_PER_MINUTE": "0",
        "LIVESHOP_REGISTRATIONS_PER_MINUTE": "0",
        "LIVESHOP_TRUSTED_AFTER_SECONDS": "0",
        "LIVESHOP_ADDRESS_CHAT_PER_MINUTE": "0",
        "LIVESHOP_ADDRESS_LIKES_PER_MINUTE": "0",
        "LIVESHOP_ADDRESS_SIGNALS_PER_MINUTE": "0",
        "LIVESHOP_ADDRESS_CONNECTS_PER_MINUTE": "0",
        **env,
    }


@contextmanager
def link_cut(ns: Namespace) -> Iterator[None]:
    """Every packet in or out of ``ns``'s veth vanishes while inside (an nftables netdev table in
    the namespace, ingress and egress: senders see no error, as when a phone's network drops);
    the link carries traffic again on exit."""
    table = (
        "table netdev liveshop_cut {\n"
        f'  chain in {{ type filter hook ingress device "{ns.far_dev}" priority 0; policy drop; }}\n'
        f'  chain out {{ type filter hook egress device "{ns.far_dev}" priority 0; policy drop; }}\n'
        "}\n"
    )
    subprocess.run(ns.command("nft", "-f", "-"), input=table, text=True, check=True, timeout=10)
    try:
        yield
    finally:
        subprocess.run(
            ns.command("nft", "delete", "table", "netdev", "liveshop_cut"), check=True, timeout=10
        )
