"""Descriptions between Shopify's Body (HTML) and plain text."""

from __future__ import annotations

from liveshop.domain.plain_text import html_to_text, text_to_html


def test_html_becomes_the_text_a_reader_sees() -> None:
    """Tags go, entities are decoded, paragraphs and list items become lines, scripts vanish."""
    markup = (
        "<h2>Soft&nbsp;linen</h2><p>Cool   &amp; <b>light</b>.<br>Washable.</p>"
        "<ul><li>S</li><li>M</li></ul><script>alert(1)</script><style>p{}</style>"
    )
    assert html_to_text(markup) == "Soft linen\n\nCool & light.\nWashable.\n\n- S\n- M"


def test_text_to_html_escapes_and_reads_back() -> None:
    """Plain text written as HTML is escaped and reads back unchanged."""
    text = "1 < 2 & <b>bold</b>\nsecond line\n\nnew paragraph"
    markup = text_to_html(text)
    assert "<b>" not in markup and "&lt;b&gt;" in markup
    assert html_to_text(markup) == text
