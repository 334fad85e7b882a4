"""``/api/auth``: seller and customer log-in, guest tokens, registration, who am I."""

from __future__ import annotations

import asyncio
import math

from fastapi import APIRouter, HTTPException, Request, status

from liveshop.api.deps import (
    DbDep,
    IdentityDep,
    QuotasDep,
    SettingsDep,
    TokensDep,
    bearer_token,
)
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import GuestBody, LoginBody, RegisterBody, TokenOut, UserEnvelope
from liveshop.client_address import client_address
from liveshop.domain.identity import Identity, Role
from liveshop.protocol import UserOut
from liveshop.quota.base import Quotas
from liveshop.security import (
    InvalidToken,
    TokenService,
    hash_password,
    new_guest_id,
    verify_password,
)
from liveshop.storage import users
from liveshop.storage.errors import Conflict
from liveshop.storage.models import User

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=ApiRoute)

BAD_CREDENTIALS = "Invalid e-mail or password"
CANNOT_REGISTER = "This e-mail cannot be registered; log in, or use another e-mail"


def _token_out(tokens: TokenService, user: User) -> TokenOut:
    role: Role = user.role if user.role in ("admin", "moderator") else "customer"  # type: ignore[assignment]
    identity = Identity(
        id=user.id, name=user.name, role=role, email=user.email, version=user.token_version
    )
    return TokenOut(
        access_token=tokens.issue(identity),
        user=UserOut(id=user.id, email=user.email, name=user.name, role=role),
    )


LOGIN_WINDOW = 60.0
ADDRESS_FACTOR = 3  # one address (a family, a carrier NAT) may try several accounts
# log-ins of an e-mail under attack from many addresses wait 50 ms per failure past the limit
SLOWDOWN_STEP, MAX_SLOWDOWN = 0.05, 2.0


def _too_many(wait: float, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, message, {"Retry-After": str(math.ceil(wait))}
    )


async def _spend(quotas: Quotas, key: str, limit: int, message: str) -> None:
    """Count one attempt against ``limit`` a minute (0: no limit); 429 when over it."""
    if limit <= 0:
        return
    wait = await quotas.hit(key, limit, LOGIN_WINDOW)
    if wait > 0:
        raise _too_many(wait, message)


@router.post(
    "/login",
    response_model=TokenOut,
    responses={401: {"description": "Bad credentials"}, 429: {"description": "Too many attempts"}},
)
async def login(
    body: LoginBody,
    request: Request,
    db: DbDep,
    tokens: TokensDep,
    quotas: QuotasDep,
    settings: SettingsDep,
) -> TokenOut:
    """Exchange e-mail and password for a token. Unknown e-mail and wrong password answer the same
    401. Every attempt is counted *before* the password is checked (so concurrent guesses are
    counted too), in every process: more than ``LIVESHOP_LOGIN_ATTEMPTS_PER_MINUTE`` for one
    (e-mail, address), or three times that from one address, answer 429 with ``Retry-After``.
    Failures for an e-mail from other addresses never refuse the right password: they slow every
    log-in of that e-mail down (up to 2 s) instead. A successful log-in clears its (e-mail,
    address) count."""
    address = client_address(request)
    limit = settings.login_attempts_per_minute
    pair = f"login:{body.email}|{address}"
    await _spend(quotas, pair, limit, "Too many log-in attempts; try again later")
    await _spend(quotas, f"login-addr:{address}", limit * ADDRESS_FACTOR, "Too many log-ins")
    failures = await quotas.count(f"login-fail:{body.email}", LOGIN_WINDOW)
    if failures > limit:
        await asyncio.sleep(min(MAX_SLOWDOWN, SLOWDOWN_STEP * (failures - limit)))
    async with db.session() as session:
        user = await users.get_by_email(session, body.email)
    ok = await verify_password(body.password, user.password_hash if user else None)
    if not ok or user is None:
        await quotas.hit(f"login-fail:{body.email}", 1_000_000, LOGIN_WINDOW)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, BAD_CREDENTIALS)
    await quotas.forget(pair)
    return _token_out(tokens, user)


@router.post(
    "/register",
    response_model=TokenOut,
    status_code=201,
    responses={
        409: {"description": "The e-mail cannot be registered"},
        429: {"description": "Too many registrations from this address"},
    },
)
async def register(
    body: RegisterBody,
    request: Request,
    db: DbDep,
    tokens: TokensDep,
    quotas: QuotasDep,
    settings: SettingsDep,
) -> TokenOut:
    """Create a customer account and log it in (answers like ``/login``, with 201). At most
    ``LIVESHOP_REGISTRATIONS_PER_MINUTE`` per client address, in every process. An e-mail that
    is taken answers 409 with the same words whoever holds it, after the same work."""
    await _spend(
        quotas,
        f"register:{client_address(request)}",
        settings.registrations_per_minute,
        "Too many registrations from this address; try again later",
    )
    password_hash = await hash_password(body.password)
    try:
        async with db.session() as session:
            user = await users.create_user(
                session,
                email=body.email,
                name=body.name,
                role="customer",
                password_hash=password_hash,
            )
    except Conflict:
        raise HTTPException(status.HTTP_409_CONFLICT, CANNOT_REGISTER) from None
    return _token_out(tokens, user)


@router.post(
    "/guest",
    response_model=TokenOut,
    responses={429: {"description": "Too many guest tokens from this address"}},
    openapi_extra={"security": [{}, {"bearer": []}]},  # optional: a guest token keeps its id
)
async def guest(
    request: Request,
    tokens: TokensDep,
    quotas: QuotasDep,
    settings: SettingsDep,
    body: GuestBody | None = None,
) -> TokenOut:
    """A token for a shopper without an account, with the chosen name (default "Guest").
    Called with a valid guest token, it keeps that guest id (renaming, not counted); a new guest
    id costs one of ``LIVESHOP_GUEST_TOKENS_PER_MINUTE`` for the client address, in every
    process. Pages keep their guest token and reuse it, so a shopper mints one per device."""
    name = (body.name if body else None) or "Guest"
    guest_id = None
    token = bearer_token(request)
    if token:
        try:
            previous = tokens.verify(token)
        except InvalidToken:
            previous = None
        if previous is not None and previous.is_guest:
            guest_id = previous.id
    if guest_id is None:
        await _spend(
            quotas,
            f"guest:{client_address(request)}",
            settings.guest_tokens_per_minute,
            "Too many new shoppers from this address; try again in a minute",
        )
        guest_id = new_guest_id()
    identity = Identity(id=guest_id, name=name, role="guest")
    return TokenOut(
        access_token=tokens.issue(identity),
        user=UserOut(id=identity.id, name=name, role="guest"),
    )


@router.get("/me", response_model=UserEnvelope, responses={401: {"description": "No valid token"}})
async def me(identity: IdentityDep) -> UserEnvelope:
    """The caller, as their token says."""
    return UserEnvelope(
        user=UserOut(id=identity.id, email=identity.email, name=identity.name, role=identity.role)
    )
