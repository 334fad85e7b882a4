"""Reusable field types: every string a client sends is checked to be storable text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path as PathParam
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from liveshop.domain.handles import HANDLE, MAX_HANDLE
from liveshop.domain.moderation import RESERVED_WORDS, is_reserved_name
from liveshop.domain.money import MAX_PRICE, InvalidPrice, parse_price
from liveshop.domain.text import is_encodable


def _storable(value: str) -> str:
    if not is_encodable(value):
        raise ValueError("text contains NUL or invalid Unicode (lone surrogates)")
    return value


@dataclass(frozen=True)
class Pattern:
    """Field metadata: the value must match ``regex`` in full (else ``message``), and the field's
    JSON Schema states that ``pattern``, so /openapi.json says exactly what the server accepts."""

    regex: str
    message: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.regex
        return json_schema

    def _check(self, value: str) -> str:
        if not re.fullmatch(self.regex, value):
            raise ValueError(self.message)
        return value


# Character classes are spelled out (no ``\s``, ``\S``, ``\d``): Python and ECMA (JSON Schema)
# regexes read those differently; explicit classes mean the same everywhere.
_CONTROLS = r"\x00-\x1f\x7f-\x9f"  # C0 and C1 control characters, DEL
# what ``str.strip()`` removes apart from controls
_SPACES = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL = r"^[^\x00]*$"
# one line, with at least one character that is not a space (surrounding spaces are trimmed)
LINE = rf"^[^{_CONTROLS}]*[^{_CONTROLS}{_SPACES}][^{_CONTROLS}]*$"
# An absolute http(s) URL or a same-site path. Browsers read ``\`` as ``/``, so ``/\evil.example``
# would be scheme-relative (another site): no backslash anywhere, no space or control, and a path
# may not start with ``//``. Empty means none.
_URL_CHAR = rf"[^\\{_CONTROLS}{_SPACES}]"
URL = rf"^(|[hH][tT][tT][pP][sS]?://[^/\\{_CONTROLS}{_SPACES}]{_URL_CHAR}*|/([^/\\{_CONTROLS}{_SPACES}]{_URL_CHAR}*)?)$"
_ADDRESS_CHAR = rf"[^@{_CONTROLS}{_SPACES}]"
EMAIL = rf"^{_ADDRESS_CHAR}+@{_ADDRESS_CHAR}+\.{_ADDRESS_CHAR}+$"
# a positive decimal string with at most 2 places, at most MAX_PRICE, no leading zeros
PRICE = r"^([1-9][0-9]{0,7}(\.[0-9]{1,2})?|0\.(0[1-9]|[1-9][0-9]?))$"
PRICE_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": PRICE, "examples": ["19.99"]},
        {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": float(MAX_PRICE),
            "multipleOf": 0.01,
        },
    ],
    "description": 'A positive decimal with at most 2 places, at most 99999999.99: "19.99" (or '
    "the JSON number 19.99)",
}


def _price(value: Any) -> Decimal:
    """A decimal string in the wire form (``PRICE``), or a JSON number; both > 0, ≤ 2 places."""
    if isinstance(value, str) and not re.fullmatch(PRICE, value):
        raise ValueError(
            'price must be a decimal string such as "19.99": positive, at most 2 places, '
            f"at most {MAX_PRICE}, no leading zeros or spaces"
        )
    if not isinstance(value, str | int | float | Decimal):
        raise ValueError('price must be a decimal string such as "19.99"')
    try:
        return parse_price(value)
    except InvalidPrice as exc:
        raise ValueError(str(exc)) from exc


def _strip(value: str) -> str:
    return value.strip()


def line(min_length: int, max_length: int) -> Any:
    """One line of ``min_length``..``max_length`` characters, no control characters, not blank;
    surrounding spaces are trimmed after the checks."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        Pattern(LINE, "must be one line without control characters, and not blank"),
        AfterValidator(_storable),
        AfterValidator(_strip),
    ]


def _not_staff_like(value: str) -> str:
    if is_reserved_name(value):
        raise ValueError("this name is reserved for the shop's staff")
    return value


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


@dataclass(frozen=True)
class _StatesReservedNames:
    """JSON Schema for :func:`shopper_name`: the plain spellings of the reserved words (the server
    also folds case, width and punctuation, which a ``pattern`` cannot)."""

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        words = "|".join(_any_case(w) for w in RESERVED_WORDS if len(w) > 3)
        mod = rf"^[^a-zA-Z0-9]*{_any_case('mod')}[sS]?[^a-zA-Z0-9]*$"
        json_schema["not"] = {"anyOf": [{"pattern": words}, {"pattern": mod}]}
        json_schema["description"] = (
            "Not a name that reads as the shop's staff: none of "
            + ", ".join(w for w in RESERVED_WORDS if len(w) > 3)
            + ' in it (ignoring case, width and punctuation), and not "mod" or "mods"'
        )
        return json_schema


def shopper_name(max_length: int) -> Any:
    """A shopper's display name: a :func:`line` that cannot pass for the shop's staff."""
    return Annotated[line(1, max_length), AfterValidator(_not_staff_like), _StatesReservedNames()]


def text(max_length: int) -> Any:
    """Free text (newlines allowed, no NUL), at most ``max_length`` characters, storable."""
    return Annotated[
        str,
        StringConstraints(max_length=max_length),
        Pattern(NO_NUL, "must not contain NUL characters"),
        AfterValidator(_storable),
    ]


Url = Annotated[
    str,
    StringConstraints(max_length=2048),
    Pattern(
        URL,
        "must be an http(s) URL or a path starting with a single /, without backslashes, "
        "spaces or control characters",
    ),
    AfterValidator(_storable),
]
Price = Annotated[Decimal, BeforeValidator(_price), WithJsonSchema(PRICE_SCHEMA)]
Email = Annotated[
    str,
    StringConstraints(max_length=254),
    Pattern(EMAIL, "not a valid e-mail address"),
    AfterValidator(_storable),
    AfterValidator(str.lower),
]
Password = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1024),
    Pattern(NO_NUL, "must not contain NUL characters"),
    AfterValidator(_storable),
]
NewPassword = Annotated[
    str,
    StringConstraints(min_length=8, max_length=1024),
    Pattern(NO_NUL, "must not contain NUL characters"),
    AfterValidator(_storable),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# Shopify's product handle: lowercase ASCII letters and digits joined by single hyphens
Handle = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_HANDLE),
    Pattern(HANDLE, "must be lowercase letters, digits and single hyphens, e.g. linen-shirt"),
]
# a stock-keeping unit: one line (or empty: none), trimmed
SKU_PATTERN = rf"^[^{_CONTROLS}]*$"
Sku = Annotated[
    str,
    StringConstraints(max_length=100),
    Pattern(SKU_PATTERN, "must be one line without control characters"),
    AfterValidator(_storable),
    AfterValidator(_strip),
]


def _whole_number(value: Any) -> Any:
    """JSON has one number type: ``3.0`` is the integer 3 (JSON Schema agrees), ``3.5`` is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def integer(ge: int, le: int) -> Any:
    """A JSON integer in ``ge``..``le``: no strings, booleans or fractions."""
    return Annotated[int, Field(ge=ge, le=le, strict=True), BeforeValidator(_whole_number)]


# Row ids are the databases' 32-bit integers (SQLite and PostgreSQL alike): an id outside that range
# cannot exist, and is refused (422) before it reaches a query that would overflow.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, PathParam(ge=1, le=MAX_ID)]
IdBody = integer(1, MAX_ID)
