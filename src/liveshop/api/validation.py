"""Reusable field types: every string a client sends is checked to be storable text."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path as PathParam
from pydantic import AfterValidator, BeforeValidator, StringConstraints

from liveshop.domain.moderation import is_reserved_name
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
    """An absolute http(s) URL or a same-site path. Browsers read ``\\`` as ``/``, so
    ``/\\evil.example`` would be scheme-relative (another site): no backslash anywhere, and a path
    may not start with ``//``."""
    if not value:
        return value
    if "\\" in value:
        raise ValueError("must not contain a backslash")
    if not (re.match(r"^https?://[^\s/]+[^\s]*$", value, re.I) or re.match(r"^/(?!/)\S*$", value)):
        raise ValueError("must be an http(s) URL or a path starting with a single /")
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


def _not_staff_like(value: str) -> str:
    if is_reserved_name(value):
        raise ValueError("this name is reserved for the shop's staff")
    return value


def shopper_name(max_length: int) -> Any:
    """A shopper's display name: a :func:`line` that cannot pass for the shop's staff."""
    return Annotated[line(1, max_length), AfterValidator(_not_staff_like)]


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


# Row ids are the databases' 32-bit integers (SQLite and PostgreSQL alike): an id outside that range
# cannot exist, and is refused (422) before it reaches a query that would overflow.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, PathParam(ge=1, le=MAX_ID)]
