"""The p2p backend carries no media (browsers connect directly, signalled over the hub), and the
factory's choice of backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveshop.media import create_media_backend
from liveshop.media.base import MediaBackend, MediaError, MediaEvent
from liveshop.media.p2p import P2PMediaBackend
from liveshop.media.synthetic import offer
from tests.media.peers import Publisher, Viewer


async def ignore(event: MediaEvent) -> None:
    raise AssertionError(f"p2p emitted {event}")


@pytest.fixture
async def p2p(tmp_path: Path) -> MediaBackend:
    backend = create_media_backend(
        "p2p", media_dir=tmp_path, ice_servers=[], public_ip="", on_event=ignore
    )
    await backend.start()
    return backend


async def test_the_factory_builds_p2p(p2p: MediaBackend) -> None:
    """create_media_backend("p2p") is the P2PMediaBackend, mode "p2p"."""
    assert isinstance(p2p, P2PMediaBackend) and p2p.mode == "p2p"


async def test_publish_is_refused_with_409(p2p: MediaBackend) -> None:
    """A valid WHIP offer gets 409 naming p2p: the server takes no media in this mode."""
    publisher = Publisher()
    with pytest.raises(MediaError) as err:
        await p2p.publish(1, await offer(publisher.pc))
    assert err.value.status == 409 and "p2p" in err.value.detail
    assert not p2p.is_live(1)
    await publisher.pc.close()


async def test_watch_is_refused_with_409(p2p: MediaBackend) -> None:
    """A valid WHEP offer gets 409 naming p2p."""
    viewer = Viewer()
    with pytest.raises(MediaError) as err:
        await p2p.watch(1, await offer(viewer.pc))
    assert err.value.status == 409 and "p2p" in err.value.detail
    await viewer.pc.close()


async def test_sessions_and_shows_are_unknown(p2p: MediaBackend) -> None:
    """end_session answers False and end_show does nothing (no event, nothing live)."""
    assert await p2p.end_session(1, "any") is False
    await p2p.end_show(1)
    assert not p2p.is_live(1)


async def test_stats_have_the_common_shape(p2p: MediaBackend) -> None:
    """stats() has the shape of every backend's: no publisher, no viewers, no RTT."""
    assert p2p.stats(1) == {
        "publisher": None,
        "viewers": 0,
        "viewerRttMs": {"p50": None, "p95": None},
        "viewerLossPct": {"p50": None, "p95": None},
        "viewerLinks": [],
        "viewersPerLayer": {},
    }


def test_an_unknown_mode_is_a_value_error(tmp_path: Path) -> None:
    """create_media_backend with an unknown mode raises ValueError naming the modes."""
    with pytest.raises(ValueError, match="'sfu', 'p2p' or 'janus'"):
        create_media_backend(
            "nope", media_dir=tmp_path, ice_servers=[], public_ip="", on_event=ignore
        )
