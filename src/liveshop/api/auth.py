"""``/api/auth``: seller and customer log-in, guest tokens, registration, who am I."""

from __future__ import annotations

import math
import time

from fastapi import APIRouter, HTTPException, Request, status

from liveshop.api.deps import DbDep, FailedLoginsDep, IdentityDep, TokensDep, bearer_token
from liveshop.api.schemas import GuestBody, LoginBody, RegisterBody, TokenOut, UserEnvelope
from liveshop.client_address import client_address
from liveshop.domain.identity import Identity, Role
from liveshop.protocol import UserOut
from liveshop.security import (
    InvalidToken,
    TokenService,
    hash_password,
    new_guest_id,
    verify_password,
)
from liveshop.storage import users
from liveshop.storage.models import User

router = APIRouter(prefix="/api/auth", tags=["auth"])

BAD_CREDENTIALS = "Invalid e-mail or password"


def _token_out(tokens: TokenService, user: User) -> TokenOut:
    role: Role = "admin" if user.role == "admin" else "customer"
    identity = Identity(id=user.id, name=user.name, role=role, email=user.email)
    return TokenOut(
        access_token=tokens.issue(identity),
        user=UserOut(id=user.id, email=user.email, name=user.name, role=role),
    )


@router.post(
    "/login",
    response_model=TokenOut,
    responses={401: {"description": "Bad credentials"}, 429: {"description": "Too many failures"}},
)
async def login(
    body: LoginBody,
    request: Request,
    db: DbDep,
    tokens: TokensDep,
    failed_logins: FailedLoginsDep,
) -> TokenOut:
    """Exchange e-mail and password for a token. Unknown e-mail and wrong password answer the same
    401; more than ``LIVESHOP_LOGIN_ATTEMPTS_PER_MINUTE`` failures per e-mail or per client address
    in a minute answer 429 with ``Retry-After``."""
    now = time.monotonic()
    keys = (f"email:{body.email}", f"addr:{client_address(request)}")
    wait = max(failed_logins.retry_after(k, now) for k in keys)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "Too many failed log-ins; try again later",
            {"Retry-After": str(math.ceil(wait))},
        )
    async with db.session() as session:
        user = await users.get_by_email(session, body.email)
    ok = await verify_password(body.password, user.password_hash if user else None)
    if not ok or user is None:
        for key in keys:
            failed_logins.hit(key, now)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, BAD_CREDENTIALS)
    return _token_out(tokens, user)


@router.post(
    "/register",
    response_model=TokenOut,
    status_code=201,
    responses={409: {"description": "E-mail already registered"}},
)
async def register(body: RegisterBody, db: DbDep, tokens: TokensDep) -> TokenOut:
    """Create a customer account and log it in (answers like ``/login``, with 201)."""
    password_hash = await hash_password(body.password)
    async with db.session() as session:
        user = await users.create_user(
            session, email=body.email, name=body.name, role="customer", password_hash=password_hash
        )
    return _token_out(tokens, user)


@router.post("/guest", response_model=TokenOut)
async def guest(request: Request, tokens: TokensDep, body: GuestBody | None = None) -> TokenOut:
    """A token for a shopper without an account, with the chosen name (default "Guest").

    Called with a valid guest token, it keeps that guest id (renaming); otherwise a new id."""
    name = (body.name if body else None) or "Guest"
    guest_id = new_guest_id()
    token = bearer_token(request)
    if token:
        try:
            previous = tokens.verify(token)
        except InvalidToken:
            previous = None
        if previous is not None and previous.is_guest:
            guest_id = previous.id
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
