"""Who is acting: identities come from verified tokens only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "moderator", "customer", "guest"]
ROLES: tuple[Role, ...] = ("admin", "moderator", "customer", "guest")
STAFF: frozenset[str] = frozenset({"admin", "moderator"})


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified actor. ``id`` is a user id or a guest id (``g_…``); both are stable."""

    id: str
    name: str
    role: Role
    email: str | None = None
    version: int = 0  # the account's token version when the token was issued (guests: 0)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_staff(self) -> bool:
        """The seller or a moderator: may delete messages, ban, unban and set chat modes."""
        return self.role in STAFF

    @property
    def is_guest(self) -> bool:
        return self.role == "guest"

    def public(self) -> dict[str, str]:
        """The identity as others see it in chat: id, name, role (never the e-mail)."""
        return {"id": self.id, "name": self.name, "role": self.role}
