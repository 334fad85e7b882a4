"""Who is calling: a verified token, and for accounts, one that has not been revoked.

Guest identities live in their token alone. An account's token carries the account's token
version; it is accepted only while the account exists with that version, checked against the
database on every use, so a role change, a deletion or ``liveshop token revoke`` takes effect at
once on every process (open sockets are closed by the hub, see ``Hub`` and ``protocol.revoked``).
"""

from __future__ import annotations

from liveshop.domain.identity import Identity
from liveshop.security import InvalidToken, TokenService
from liveshop.storage import users
from liveshop.storage.engine import Database


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
