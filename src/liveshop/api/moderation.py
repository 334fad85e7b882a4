"""Moderation over REST: the shop's moderation settings, a show's bans, the seller's team of
moderators, and the seller's publish-only stream key for OBS."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import Field

from liveshop import protocol
from liveshop.api.deps import (
    ADMIN_ONLY,
    AdminDep,
    AnnouncerDep,
    DbDep,
    Responses,
    StaffDep,
    not_found,
)
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import Body
from liveshop.api.validation import Email, IdPath, NewPassword, line
from liveshop.authentication import new_stream_key
from liveshop.protocol import Out
from liveshop.security import hash_password
from liveshop.storage import bans, livestreams, shop_settings, users
from liveshop.storage.models import User
from liveshop.storage.shop_settings import ModerationSettings

router = APIRouter(prefix="/api", tags=["moderation"], route_class=ApiRoute)

STAFF_ONLY: Responses = {401: {"description": "No valid token"}, 403: {"description": "Not staff"}}
NOT_YOURSELF: Responses = {409: {"description": "You cannot change your own account here"}}
BlockedWord = line(1, 100)


# --- shop moderation settings ---------------------------------------------------------------


class ModerationBody(Body):
    blocked_words: Annotated[list[BlockedWord], Field(max_length=500, default_factory=list)]  # type: ignore[valid-type]
    allow_links: Annotated[bool, Field(strict=True)] = False


class ModerationOut(Out):
    blocked_words: list[str]
    allow_links: bool


@router.get("/moderation", response_model=ModerationOut, responses=STAFF_ONLY)
async def get_moderation(_: StaffDep, db: DbDep) -> ModerationOut:
    """The shop's chat rules: blocked words (matched ignoring case, spacing and punctuation) and
    whether shoppers may post links (off by default)."""
    async with db.session() as session:
        current = ModerationSettings.from_stored(await shop_settings.get_all(session))
    return ModerationOut(blocked_words=list(current.blocked_words), allow_links=current.allow_links)


@router.put("/moderation", response_model=ModerationOut, responses=ADMIN_ONLY)
async def put_moderation(
    body: ModerationBody, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> ModerationOut:
    """Replace the chat rules; every process applies them to the next message."""
    words: tuple[str, ...] = tuple(dict.fromkeys(body.blocked_words))  # trimmed, not blank
    new = ModerationSettings(blocked_words=words, allow_links=body.allow_links)
    async with db.session() as session:
        for key, value in new.to_stored().items():
            await shop_settings.put(session, key, value)
    await announcer.to_everyone(protocol.moderation_changed())
    return ModerationOut(blocked_words=list(words), allow_links=new.allow_links)


# --- a show's bans --------------------------------------------------------------------------


class BanOut(Out):
    user_id: str
    created_at: datetime
    addresses: list[str]


class BanList(Out):
    bans: list[BanOut]


@router.get(
    "/livestreams/{livestream_id:int}/bans",
    response_model=BanList,
    responses={**STAFF_ONLY, **not_found("livestream")},
)
async def list_bans(livestream_id: IdPath, _: StaffDep, db: DbDep) -> BanList:
    """Who is banned from the show, oldest first, with the addresses banned along."""
    async with db.session() as session:
        await livestreams.get(session, livestream_id)
        rows = await bans.listing(session, livestream_id)
    return BanList(bans=[BanOut(user_id=u, created_at=t, addresses=a) for u, t, a in rows])


@router.delete(
    "/livestreams/{livestream_id:int}/bans/{user_id}",
    status_code=204,
    responses={**STAFF_ONLY, **not_found("ban")},
)
async def lift_ban(
    livestream_id: IdPath,
    user_id: Annotated[str, Field(max_length=40)],
    _: StaffDep,
    db: DbDep,
    announcer: AnnouncerDep,
) -> Response:
    """Lift a ban (and the address bans that came with it) in every process."""
    async with db.session() as session:
        await livestreams.get(session, livestream_id)
        lifted = await bans.unban(session, livestream_id, user_id)
    if not lifted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such ban")
    await announcer.to_show(livestream_id, protocol.unbanned(livestream_id, user_id))
    return Response(status_code=204)


# --- the seller's team ----------------------------------------------------------------------


class StaffOut(Out):
    id: str
    email: str
    name: str
    role: Literal["admin", "moderator"]


class StaffList(Out):
    staff: list[StaffOut]


class ModeratorBody(Body):
    email: Email
    name: line(1, 100)  # type: ignore[valid-type]
    password: NewPassword


class RoleBody(Body):
    role: Literal["moderator", "customer"]


def _staff_out(user: User) -> StaffOut:
    role: Literal["admin", "moderator"] = "admin" if user.role == "admin" else "moderator"
    return StaffOut(id=user.id, email=user.email, name=user.name, role=role)


@router.get("/staff", response_model=StaffList, responses=ADMIN_ONLY)
async def list_staff(_: AdminDep, db: DbDep) -> StaffList:
    """The seller accounts and moderators."""
    async with db.session() as session:
        return StaffList(staff=[_staff_out(u) for u in await users.staff(session)])


@router.post(
    "/staff",
    response_model=StaffOut,
    status_code=201,
    responses={**ADMIN_ONLY, 409: {"description": "The e-mail cannot be registered"}},
)
async def add_moderator(body: ModeratorBody, _: AdminDep, db: DbDep) -> StaffOut:
    """Create a moderator account (they log in like the seller; they may delete messages, ban,
    unban and set slow mode or the new-shopper wait, and nothing else)."""
    password_hash = await hash_password(body.password)
    async with db.session() as session:
        user = await users.create_user(
            session, email=body.email, name=body.name, role="moderator", password_hash=password_hash
        )
    return _staff_out(user)


async def _staff_member(db: DbDep, user_id: str, me: str) -> User:
    if user_id == me:
        raise HTTPException(status.HTTP_409_CONFLICT, "You cannot change your own account here")
    async with db.session() as session:
        user = await users.get(session, user_id)
    if user is None or user.role != "moderator":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such moderator")
    return user


@router.patch(
    "/staff/{user_id}",
    response_model=StaffOut | None,
    responses={**ADMIN_ONLY, **not_found("moderator"), **NOT_YOURSELF},
)
async def change_role(
    user_id: Annotated[str, Field(max_length=40)],
    body: RoleBody,
    me: AdminDep,
    db: DbDep,
    announcer: AnnouncerDep,
) -> StaffOut | None:
    """Make a moderator a plain customer again: their tokens and open sockets end at once."""
    await _staff_member(db, user_id, me.id)
    async with db.session() as session:
        user = await users.get(session, user_id)
        assert user is not None
        await users.set_role(session, user, body.role)
        out = _staff_out(user) if body.role == "moderator" else None
    await announcer.account_revoked(user_id)
    return out


@router.delete(
    "/staff/{user_id}",
    status_code=204,
    responses={**ADMIN_ONLY, **not_found("moderator"), **NOT_YOURSELF},
)
async def remove_moderator(
    user_id: Annotated[str, Field(max_length=40)], me: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> Response:
    """Delete a moderator account: their tokens and open sockets end at once."""
    await _staff_member(db, user_id, me.id)
    async with db.session() as session:
        user = await users.get(session, user_id)
        if user is not None:
            await users.delete(session, user)
    await announcer.account_revoked(user_id)
    return Response(status_code=204)


# --- the seller's stream key ----------------------------------------------------------------


class StreamKeyOut(Out):
    hint: str | None = Field(description="the key's last 4 characters, or null when none is set")
    key: str | None = Field(
        default=None, description="the whole key: only in the answer that created it"
    )


@router.get("/stream-key", response_model=StreamKeyOut, responses=ADMIN_ONLY)
async def get_stream_key(me: AdminDep, db: DbDep) -> StreamKeyOut:
    """Whether the seller has a stream key (its hint only; the key is shown once)."""
    async with db.session() as session:
        user = await users.get(session, me.id)
    return StreamKeyOut(hint=user.stream_key_hint if user else None)


@router.post("/stream-key", response_model=StreamKeyOut, status_code=201, responses=ADMIN_ONLY)
async def rotate_stream_key(me: AdminDep, db: DbDep) -> StreamKeyOut:
    """A new publish-only stream key for OBS (WHIP bearer token); the previous one stops working.
    The key can publish the seller's live show over WHIP and nothing else."""
    key, key_hash, hint = new_stream_key()
    async with db.session() as session:
        user = await users.get(session, me.id)
        if user is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "No such account")
        await users.set_stream_key(session, user, key_hash, hint)
    return StreamKeyOut(hint=hint, key=key)


@router.delete("/stream-key", status_code=204, responses=ADMIN_ONLY)
async def revoke_stream_key(me: AdminDep, db: DbDep) -> Response:
    """Revoke the stream key: OBS can no longer publish with it."""
    async with db.session() as session:
        user = await users.get(session, me.id)
        if user is not None:
            await users.set_stream_key(session, user, None, None)
    return Response(status_code=204)
