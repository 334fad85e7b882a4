"""Reusable field types: every string a client sends is checked to be storable text."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints

from liveshop.domain.money import InvalidPrice, parse_price
from liveshop.domain.text import is_encodable


def _storable(value: str) -> str:
    if not is_encodable(value):
        raise ValueError("text contains NUL or invalid Unicode (lone surrogates)")
    return value


def _single_line(value: str) -> str:
    if any(ord(c) < 32 for c in value):
        raise ValueError("control characters are not allowed")
    return value


def _url(value: str) -> str:
    if value and not (re.match(r"^https?://[^\s]+$", value, re.I) or re.match(r"^/[^/\s]", value)):
        raise ValueError("must be an http(s) URL or a path starting with /")
    return value


def _price(value: Any) -> Decimal:
    try:
        return parse_price(value)
    except InvalidPrice as exc:
        raise ValueError(str(exc)) from exc


def _email(value: str) -> str:
    value = value.strip().lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError("not a valid e-mail address")
    return value


def line(min_length: int, max_length: int) -> Any:
    """A one-line string, trimmed, ``min_length``..``max_length`` characters, storable."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_storable),
        AfterValidator(_single_line),
    ]


def text(max_length: int) -> Any:
    """Free text (newlines allowed), at most ``max_length`` characters, storable."""
    return Annotated[str, StringConstraints(max_length=max_length), AfterValidator(_storable)]


Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2048),
    AfterValidator(_storable),
    AfterValidator(_url),
]
Price = Annotated[Decimal, BeforeValidator(_price)]
Email = Annotated[
    str, StringConstraints(max_length=254), AfterValidator(_storable), AfterValidator(_email)
]
Password = Annotated[
    str, StringConstraints(min_length=1, max_length=1024), AfterValidator(_storable)
]
NewPassword = Annotated[
    str, StringConstraints(min_length=8, max_length=1024), AfterValidator(_storable)
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
