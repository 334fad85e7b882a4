"""Passwords (argon2) and access tokens (JWT, HS256). The only place identities are minted."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from liveshop.domain.identity import ROLES, Identity

ALGORITHM = "HS256"
_hasher = PasswordHasher()
# A real hash to verify against when the e-mail is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("liveshop-dummy-password")


class InvalidToken(Exception):
    """The token is missing, malformed, forged or expired."""


async def hash_password(password: str) -> str:
    """Argon2id hash, computed in a worker thread (it takes tens of milliseconds)."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """True when ``password`` matches; with ``password_hash=None`` does the same work and fails."""

    def check() -> bool:
        try:
            return (
                _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def new_guest_id() -> str:
    return "g_" + uuid.uuid4().hex


class TokenService:
    """Signs and verifies access tokens with the app's secret key. Verifying checks the signature
    and expiry only: whether an account's token was revoked is :mod:`liveshop.authentication`'s."""

    def __init__(
        self,
        secret_key: str,
        *,
        ttl_seconds: int,
        guest_ttl_seconds: int,
        admin_ttl_seconds: int | None = None,
    ) -> None:
        self._key = secret_key
        self.ttl_seconds = ttl_seconds
        self.guest_ttl_seconds = guest_ttl_seconds
        self.admin_ttl_seconds = admin_ttl_seconds or ttl_seconds

    def issue(self, identity: Identity, *, ttl_seconds: int | None = None) -> str:
        """A signed token for ``identity`` (its account's token version included), valid for
        ``ttl_seconds`` or the role's default lifetime."""
        now = int(time.time())
        if ttl_seconds is None:
            ttl_seconds = (
                self.guest_ttl_seconds
                if identity.is_guest
                else self.admin_ttl_seconds
                if identity.is_admin
                else self.ttl_seconds
            )
        claims: dict[str, Any] = {
            "sub": identity.id,
            "name": identity.name,
            "role": identity.role,
            "iat": now,
            "exp": now + ttl_seconds,
        }
        if identity.email:
            claims["email"] = identity.email
        if not identity.is_guest:
            claims["ver"] = identity.version
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> Identity:
        """The identity the token carries; raise :class:`InvalidToken` otherwise."""
        if not token or len(token) > 4096:
            raise InvalidToken("missing token")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={"require": ["sub", "exp", "role"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        role, sub, name = claims.get("role"), claims.get("sub"), claims.get("name", "")
        if role not in ROLES or not isinstance(sub, str) or not isinstance(name, str):
            raise InvalidToken("malformed claims")
        email, version = claims.get("email"), claims.get("ver", 0)
        if not isinstance(version, int):
            raise InvalidToken("malformed claims")
        return Identity(
            id=sub,
            name=name,
            role=role,
            email=email if isinstance(email, str) else None,
            version=version,
        )
