"""Prices: positive decimals with at most two places, exchanged as strings ("19.99")."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MAX_PRICE = Decimal("99999999.99")


class InvalidPrice(ValueError):
    """The value is not a positive decimal with at most two places."""


def parse_price(value: str | int | float | Decimal) -> Decimal:
    """Parse a price; raise :class:`InvalidPrice` unless it is > 0, finite, ≤ 2 places, ≤ MAX_PRICE.

    Floats are accepted through their shortest string form (``19.99`` stays ``19.99``); booleans are
    rejected.
    """
    if isinstance(value, bool):
        raise InvalidPrice('price must be a decimal string such as "19.99"')
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidPrice('price must be a decimal string such as "19.99"') from exc
    if not amount.is_finite():
        raise InvalidPrice("price must be a finite number")
    if amount <= 0:
        raise InvalidPrice("price must be positive")
    if amount > MAX_PRICE:
        raise InvalidPrice(f"price must be at most {MAX_PRICE}")
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidPrice("price has at most 2 decimal places")
    return amount.quantize(Decimal("0.01"))


def format_price(amount: Decimal) -> str:
    """The wire form of a price: always two places, e.g. ``"19.90"``."""
    return f"{amount.quantize(Decimal('0.01')):f}"
