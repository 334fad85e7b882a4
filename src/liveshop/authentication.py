"""Who is calling: a verified token, and for accounts, one that has not been revoked.

Guest identities live in their token alone. An account's token carries the account's token
version; it is accepted only while the account exists with that version, checked against the
database on every use, so a role change, a deletion or ``liveshop token revoke`` takes effect at
once on every process (open sockets are closed by the hub, see ``Hub`` and ``protocol.revoked``).
"""

from __future__ import annotations

import hashlib
import secrets

from liveshop.domain.identity import Identity
from liveshop.security import InvalidToken, TokenService
from liveshop.storage import users
from liveshop.storage.engine import Database

STREAM_KEY_PREFIX = "sk_"


def new_stream_key() -> tuple[str, str, str]:
    """A new publish-only stream key: (key, its SHA-256 to store, a hint of its last 4 chars)."""
    key = STREAM_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, stream_key_hash(key), key[-4:]


def stream_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class Authenticator:
    """Turns a bearer token into an :class:`Identity`. Owned by the app's lifespan."""

    def __init__(self, tokens: TokenService, db: Database) -> None:
        self.tokens, self.db = tokens, db

    async def identify(self, token: str) -> Identity:
        """The caller; raises :class:`InvalidToken` for a bad, expired or revoked token."""
        identity = self.tokens.verify(token)
        if identity.is_guest:
            return identity
        async with self.db.session() as session:
            versions = await users.token_versions(session, [identity.id])
        if versions.get(identity.id) != identity.version:
            raise InvalidToken("revoked")
        return identity

    async def identify_publisher(self, token: str) -> Identity:
        """Who may publish: the identity of a token (the caller checks it is a seller's), or the
        seller whose stream key this is (a key is good for nothing else: every other route
        refuses it). Raises :class:`InvalidToken`."""
        if not token.startswith(STREAM_KEY_PREFIX):
            return await self.identify(token)
        async with self.db.session() as session:
            user = await users.by_stream_key(session, stream_key_hash(token))
        if user is None or user.role != "admin":
            raise InvalidToken("unknown stream key")
        return Identity(id=user.id, name=user.name, role="admin", email=user.email)
