"""Rules for text that users type: what is accepted, what is cleaned."""

from __future__ import annotations

import unicodedata

# Characters removed from chat text: C0/C1 controls except none (newlines are flattened too),
# plus bidi overrides that could disguise a message.
_BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_encodable(text: str) -> bool:
    """True when ``text`` is valid Unicode that can be stored (no lone surrogates, no NUL)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def strip_controls(text: str) -> str:
    """Remove control characters (Unicode category Cc/Cs), bidi overrides and lone surrogates.

    Newlines and tabs become spaces. The result is safe to store and to render as text.
    """
    out: list[str] = []
    for ch in text:
        if ch in "\n\r\t":
            out.append(" ")
            continue
        if ch in _BIDI_OVERRIDES:
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs"):
            continue
        out.append(ch)
    return "".join(out)


def clean_chat_text(text: str, max_length: int = 500) -> str | None:
    """Clean a chat message: controls removed, whitespace trimmed.

    Returns the cleaned text, or ``None`` when it is empty or longer than ``max_length`` characters
    after cleaning.
    """
    cleaned = strip_controls(text).strip()
    if not cleaned or len(cleaned) > max_length:
        return None
    return cleaned
