"""Chat moderation rules as pure functions: links, blocked words, names that impersonate staff."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# a scheme, "www.", or a host with a common top-level domain ("shop.example.com/x", "evil.io")
LINK = re.compile(
    r"(?i)(\b[a-z][a-z0-9+.-]*://|\bwww\.|\b[a-z0-9-]+(\.[a-z0-9-]+)*\."
    r"(com|net|org|io|co|me|ly|gg|app|shop|store|xyz|info|biz|tv|link|site|online|ru|cn|de|uk)\b)"
)
# names a shopper may not take: they would read as the shop's own staff
RESERVED_WORDS = ("admin", "seller", "moderator", "mod", "staff", "official", "liveshop", "support")


def fold(text: str) -> str:
    """Lower-case letters and digits only, compatibility-normalised: how text is compared
    (``"S.H.O.P A-d-m-i-n"`` folds to ``"shopadmin"``; full-width letters to ASCII)."""
    normal = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in normal if c.isalnum())


def contains_link(text: str) -> bool:
    """True when ``text`` has something a browser or a reader would follow as a link."""
    return LINK.search(unicodedata.normalize("NFKC", text)) is not None


def blocked_word(text: str, words: Iterable[str]) -> str | None:
    """The first of ``words`` that ``text`` contains (compared folded, so spacing, case and
    punctuation do not hide it), or None."""
    folded = fold(text)
    for word in words:
        key = fold(word)
        if key and key in folded:
            return word
    return None


def is_reserved_name(name: str) -> bool:
    """True when a shopper's display name would pass for staff: it contains a reserved word once
    folded ("Shop Admin", "the_seller", "ＡＤＭＩＮ"), or is "mod"/"mods"."""
    folded = fold(name)
    return any(word in folded for word in RESERVED_WORDS if len(word) > 3) or folded in (
        "mod",
        "mods",
    )
