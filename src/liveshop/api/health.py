"""``/api/health`` and ``/api/config``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from liveshop.api.deps import BrokerDep, DbDep, SettingsDep
from liveshop.api.ice import ice_servers_for
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import Health

router = APIRouter(prefix="/api", tags=["service"], route_class=ApiRoute)


@router.get("/health", response_model=Health)
async def health(db: DbDep, broker: BrokerDep) -> Health:
    """``status`` is ok when the database and the broker answer."""
    db_ok = await db.ping()
    broker_ok = await broker.ping()
    return Health(
        status="ok" if db_ok and broker_ok else "degraded",
        database="ok" if db_ok else "down",
        broker=broker.name if broker_ok else "down",
    )


class ClientConfig(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    mediaMode: str
    iceServers: list[dict[str, Any]]
    embedOrigins: list[str] = []
    simulcast: bool = False


@router.get("/config", response_model=ClientConfig)
async def client_config(settings: SettingsDep, request: Request) -> ClientConfig:
    """What the pages need: the media mode, the ICE servers to use (TURN with a credential
    minted for the caller, valid ``LIVESHOP_TURN_TTL_SECONDS``), the shop sites allowed to
    embed the player (the only origins it posts messages to) and whether the studio publishes
    simulcast (``LIVESHOP_SIMULCAST``, ``sfu`` mode only)."""
    return ClientConfig(
        mediaMode=settings.media_mode,
        iceServers=ice_servers_for(request),
        embedOrigins=settings.embed_origin_list,
        simulcast=settings.simulcast and settings.media_mode == "sfu",
    )
