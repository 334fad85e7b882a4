"""Moderation rules: links, blocked words and reserved names, as pure functions."""

from __future__ import annotations

import pytest

from liveshop.domain.moderation import blocked_word, contains_link, is_reserved_name


@pytest.mark.parametrize(
    "text",
    [
        "see https://evil.example",
        "www.cheap-stuff.biz",
        "go to evil.io now",
        "HTTP://X.Y",
        "shop.example.com/deal",
    ],
)
def test_links_are_found(text: str) -> None:
    """Schemes, www. and bare hosts with a common top-level domain count as links."""
    assert contains_link(text)


@pytest.mark.parametrize("text", ["love this mug!", "is it 12.50?", "size M.L please", "3.5 stars"])
def test_ordinary_chat_is_not_a_link(text: str) -> None:
    """Prices, sizes and sentences are not links."""
    assert not contains_link(text)


def test_blocked_words_survive_spacing_case_and_punctuation() -> None:
    """``S.P.A.M`` and ``sPaM`` are caught by ``spam``; unrelated text is not."""
    assert blocked_word("buy S.P.A.M now", ["spam"]) == "spam"
    assert blocked_word("sPaM", ["spam"]) == "spam"
    assert blocked_word("lovely mug", ["spam", ""]) is None


@pytest.mark.parametrize(
    "name", ["Shop Admin", "the_seller", "ＡＤＭＩＮ", "Moderator Team", "mod", "Official Store"]
)
def test_names_that_pass_for_staff_are_reserved(name: str) -> None:
    """Names containing a staff word, however written, are reserved."""
    assert is_reserved_name(name)


@pytest.mark.parametrize("name", ["Ana", "Modesto", "Guest", "Sam"])
def test_ordinary_names_are_free(name: str) -> None:
    """Everyday names (even ones starting with "mod") are allowed."""
    assert not is_reserved_name(name)
