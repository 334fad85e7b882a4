"""Pure rules: prices, text cleaning, rate limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from liveshop.domain.money import InvalidPrice, format_price, parse_price
from liveshop.domain.ratelimit import SlidingWindow, TokenBucket
from liveshop.domain.text import clean_chat_text, is_encodable


@pytest.mark.parametrize(
    ("raw", "expected"), [("19.99", "19.99"), (5, "5.00"), (19.9, "19.90"), ("0.01", "0.01")]
)
def test_valid_prices(raw: object, expected: str) -> None:
    """Positive decimals with ≤ 2 places parse and format with two places."""
    assert format_price(parse_price(raw)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["0", "-3", "1.001", "x", "nan", "inf", True, "100000000"])
def test_invalid_prices(raw: object) -> None:
    """Zero, negatives, three places, junk, non-finite and too large are refused."""
    with pytest.raises(InvalidPrice):
        parse_price(raw)  # type: ignore[arg-type]


def test_parse_price_returns_decimal() -> None:
    """The parsed value is an exact Decimal."""
    assert parse_price("0.10") == Decimal("0.10")


def test_chat_text_is_trimmed_and_controls_removed() -> None:
    """Controls and bidi overrides go, newlines flatten, surrounding spaces trimmed."""
    assert clean_chat_text("  hi\x00\x07 there\u202e\n ") == "hi there"
    assert clean_chat_text("\x01\x02   ") is None
    assert clean_chat_text("x" * 501) is None
    assert clean_chat_text("x" * 500) == "x" * 500


def test_is_encodable_rejects_surrogates_and_nul() -> None:
    """Lone surrogates and NUL cannot be stored."""
    assert is_encodable("ok ✓")
    assert not is_encodable("a\ud800")
    assert not is_encodable("a\x00")


def test_token_bucket_burst_then_rate() -> None:
    """Five at once, then one per second."""
    bucket = TokenBucket(rate=1.0, burst=5)
    assert [bucket.take(0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.take(0.0) == pytest.approx(1.0)
    assert bucket.take(1.0) == 0.0
    assert bucket.take(1.5) == pytest.approx(0.5)


def test_sliding_window_limits_and_expires() -> None:
    """Ten in a minute, the eleventh waits until the first leaves the window."""
    window = SlidingWindow(limit=10, window=60.0)
    assert all(window.hit(float(i)) == 0.0 for i in range(10))
    assert window.hit(30.0) == pytest.approx(30.0)
    assert window.hit(60.5) == 0.0
