"""Viewer RTT from Janus's Admin API: parsing ``handle_info`` and the stats cache (no Janus)."""

from __future__ import annotations

from typing import Any

from liveshop.config import Settings
from liveshop.media.janus.admin import (
    JanusAdmin,
    JanusAdminError,
    Target,
    ViewerRtts,
    loss_pct,
    rtt_ms,
)


def info(
    video: tuple[int, int] | None, audio: tuple[int, int] | None = None, media_quality: int = 100
) -> dict[str, Any]:
    """A ``handle_info`` reply with (rtt, out-link-quality) per medium."""
    media: dict[str, Any] = {}
    for mid, (kind, values) in enumerate((("audio", audio), ("video", video))):
        if values is not None:
            rtt, quality = values
            rtcp = {
                "main": {
                    "rtt": rtt,
                    "out-link-quality": quality,
                    "out-media-link-quality": media_quality if quality else 0,
                }
            }
            media[str(mid)] = {"type": kind, "rtcp": rtcp}
    return {"webrtc": {"media": media}}


class FakeAdmin(JanusAdmin):
    """Answers ``handle_info`` from a dict of handle → info and counts the requests."""

    def __init__(self, infos: dict[int, dict[str, Any]]) -> None:
        super().__init__("http://127.0.0.1:9/admin")
        self.infos = infos
        self.requests = 0

    async def handle_info(self, session_id: int, handle_id: int) -> dict[str, Any]:
        self.requests += 1
        if handle_id not in self.infos:
            raise JanusAdminError("no such handle")
        return self.infos[handle_id]


def test_rtt_is_the_video_mediums_once_reported() -> None:
    """The video RTT is used; before the first receiver report (all zeros) there is none."""
    assert rtt_ms(info(video=(12, 100), audio=(30, 100))) == 12.0
    assert rtt_ms(info(video=(0, 0), audio=(30, 100))) == 30.0
    assert rtt_ms(info(video=(0, 100))) == 0.0  # measured, below a millisecond
    assert rtt_ms(info(video=(0, 0), audio=(0, 0))) is None
    assert rtt_ms({}) is None


def test_loss_is_what_the_media_link_quality_misses_once_reported() -> None:
    """Loss is 100 − out-media-link-quality of the video; none before the first report."""
    assert loss_pct(info(video=(12, 100), media_quality=97)) == 3.0
    assert loss_pct(info(video=(12, 100), audio=(30, 100), media_quality=100)) == 0.0
    assert loss_pct(info(video=(0, 0), audio=(0, 0))) is None
    assert loss_pct({}) is None


async def test_losses_are_cached_with_the_rtts() -> None:
    """One refresh caches each viewer's loss beside its RTT."""
    admin = FakeAdmin({1: info(video=(10, 100), media_quality=90), 2: info(video=(0, 0))})
    rtts = ViewerRtts()
    await rtts.refresh(1, [Target("a", admin, 7, 1), Target("b", admin, 7, 2)])
    assert rtts.losses(1) == {"a": 10.0}
    await admin.close()


async def test_stats_never_wait_and_ask_janus_once_per_ttl() -> None:
    """get() returns the cache at once and starts at most one refresh per show and TTL."""
    admin = FakeAdmin({1: info(video=(10, 100)), 2: info(video=(30, 100))})
    rtts = ViewerRtts(ttl=60)
    targets = [Target("a", admin, 7, 1), Target("b", admin, 7, 2)]
    assert rtts.get(1, lambda: targets) == {}  # first call: a refresh starts, nothing cached yet
    assert rtts.get(1, lambda: targets) == {}  # one refresh in flight, not two
    await rtts.settled(1)
    assert rtts.get(1, lambda: targets) == {"a": 10.0, "b": 30.0}
    assert admin.requests == 2  # fresh for 60 s: no new requests
    await rtts.close()
    await admin.close()


async def test_a_failed_request_keeps_the_last_value_and_gone_viewers_are_dropped() -> None:
    """A viewer Janus cannot report on keeps its last RTT; viewers no longer listed are dropped."""
    admin = FakeAdmin({1: info(video=(10, 100)), 2: info(video=(30, 100))})
    rtts = ViewerRtts()
    await rtts.refresh(1, [Target("a", admin, 7, 1), Target("b", admin, 7, 2)])
    del admin.infos[1]
    await rtts.refresh(1, [Target("a", admin, 7, 1)])
    assert rtts.values(1) == {"a": 10.0}
    await admin.close()


def test_admin_urls_keep_their_instance_positions() -> None:
    """LIVESHOP_JANUS_ADMIN_URLS pairs with LIVESHOP_JANUS_URLS by position; empty means none."""
    settings = Settings(_env_file=None, janus_admin_urls="http://a:7088/admin, ,http://c/admin")  # type: ignore[call-arg]
    assert settings.janus_admin_url_list == ["http://a:7088/admin", "", "http://c/admin"]
    assert Settings(_env_file=None).janus_admin_url_list == []  # type: ignore[call-arg]
