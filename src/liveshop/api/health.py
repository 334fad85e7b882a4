"""``/api/health`` and ``/api/config``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from liveshop.api.deps import BrokerDep, DbDep, MediaDep, SettingsDep
from liveshop.api.ice import ice_servers_for
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import DiskHealth, Health, MediaHealth, MediaInstanceHealth
from liveshop.media import diskspace

router = APIRouter(prefix="/api", tags=["service"], route_class=ApiRoute)


DISK_LOW_BYTES = 1 << 30  # under 1 GiB free (or 10 % of a smaller disk): hours of recording left


@router.get("/health", response_model=Health)
async def health(db: DbDep, broker: BrokerDep, media: MediaDep, settings: SettingsDep) -> Health:
    """Each dependency's state; ``status`` is ok when every one is. Always 200 (a load balancer
    decides on ``status``): ``database`` ok / down; ``broker`` its name while it works, else
    ``degraded`` (Redis reconnecting: each process serves its own sockets); ``media`` the mode
    and, in janus mode, each instance up / down; ``disk`` the free space where recordings go
    (``low`` under 1 GiB or 10 %, ``full`` when recordings stop — under 32 MiB or 2 % — or while
    a recording is paused for space)."""
    db_ok = await db.ping()
    broker_ok = await broker.ping()
    media_state = media.health()
    disk = disk_health(settings.effective_media_dir, media_state.get("recording") == "paused")
    instances = media_state.get("instances") or []
    media_ok = media_state.get("state", "ok") == "ok"
    return Health(
        status="ok" if db_ok and broker_ok and media_ok and disk.state != "full" else "degraded",
        database="ok" if db_ok else "down",
        broker=broker.name if broker_ok else "degraded",
        media=MediaHealth(
            mode=media.mode,
            state="ok" if media_ok else "degraded",
            instances=[MediaInstanceHealth(url=i["url"], state=i["state"]) for i in instances],
        ),
        disk=disk,
    )


def disk_health(path: Path, recording_paused: bool) -> DiskHealth:
    """Free space on the recordings' filesystem."""
    try:
        usage = shutil.disk_usage(path)
        free, total = usage.free, usage.total
    except OSError:
        free = total = 0
    state: Literal["ok", "low", "full"] = "ok"
    if free < diskspace.reserve(total) or recording_paused or total == 0:
        state = "full"
    elif free < min(DISK_LOW_BYTES, total // 10):
        state = "low"
    return DiskHealth(state=state, freeBytes=free, recording="paused" if recording_paused else "ok")


class ClientConfig(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    mediaMode: str
    iceServers: list[dict[str, Any]]
    embedOrigins: list[str] = []
    simulcast: bool = False
    videoCodec: str = "vp8"


@router.get("/config", response_model=ClientConfig)
async def client_config(settings: SettingsDep, request: Request) -> ClientConfig:
    """What the pages need: the media mode, the ICE servers to use (TURN with a credential
    minted for the caller, valid ``LIVESHOP_TURN_TTL_SECONDS``), the shop sites allowed to
    embed the player (the only origins it posts messages to), whether the studio publishes
    simulcast (``LIVESHOP_SIMULCAST``, ``sfu`` and ``janus`` modes) and the video codec it
    prefers (``LIVESHOP_VIDEO_CODEC``: ``vp8`` or ``h264``)."""
    return ClientConfig(
        mediaMode=settings.media_mode,
        iceServers=ice_servers_for(request),
        embedOrigins=settings.embed_origin_list,
        simulcast=settings.simulcast and settings.media_mode in ("sfu", "janus"),
        videoCodec=settings.video_codec,
    )
