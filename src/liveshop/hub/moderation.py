"""What a chat message or a like must pass besides the show's own state: the shop's moderation
settings (blocked words, links), the new-shopper wait, and per-address budgets.

Shoppers are anonymous and an identity costs little, so every per-identity rule here has a
per-address twin (several times larger, for families and carrier NAT), counted in the shared
quota store so that neither more identities nor more server processes multiply it.
"""

from __future__ import annotations

from liveshop.domain.identity import Identity
from liveshop.domain.moderation import blocked_word, contains_link
from liveshop.protocol import ProtocolError
from liveshop.quota.base import Quotas
from liveshop.storage.shop_settings import ModerationSettings

# budgets are per minute, counted over 10 s windows (a sixth each) so that none is spent at once
BUDGET_WINDOW = 10.0


def check_text(
    settings: ModerationSettings, identity: Identity, text: str, ref: str | None
) -> None:
    """Refuse (``blocked``) a shopper's message with a blocked word or, unless the seller allows
    them, a link. Staff messages are not checked."""
    if identity.is_staff:
        return
    if not settings.allow_links and contains_link(text):
        raise ProtocolError("blocked", "links are not allowed in this chat", ref=ref)
    if blocked_word(text, settings.blocked_words) is not None:
        raise ProtocolError(
            "blocked", "this message contains a word the shop does not allow", ref=ref
        )


def check_watched(
    identity: Identity, watched: float, wait: float, what: str, ref: str | None = None
) -> None:
    """Refuse (``too_new``) an identity that joined ``watched`` seconds ago when the show asks
    for ``wait``. Staff are exempt."""
    if identity.is_staff or watched >= wait:
        return
    raise ProtocolError(
        "too_new",
        f"new shoppers can {what} after watching for {wait:g} s",
        retry_after=wait - watched,
        ref=ref,
    )


class AddressBudgets:
    """Per-address budgets per minute by kind (``chat``, ``like``, ``signal``), spent at most a
    sixth in any 10 s; a limit of 0 switches one off. Shared by every process through the quota
    store."""

    def __init__(self, quotas: Quotas, per_minute: dict[str, int]) -> None:
        self.quotas, self.per_minute = quotas, per_minute

    async def spend(self, kind: str, address: str, ref: str | None = None) -> None:
        """Count one ``kind`` message from ``address``; ``rate_limited`` past the budget."""
        per_minute = self.per_minute.get(kind, 0)
        if per_minute <= 0:
            return
        limit = max(1, -(-per_minute * int(BUDGET_WINDOW) // 60))  # ceil(per_minute / 6)
        wait = await self.quotas.hit(f"{kind}-addr:{address}", limit, BUDGET_WINDOW)
        if wait > 0:
            raise ProtocolError(
                "rate_limited",
                "too many messages from your network; slow down",
                retry_after=wait,
                ref=ref,
            )
