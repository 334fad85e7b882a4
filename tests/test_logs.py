"""Log hygiene."""

from __future__ import annotations


def test_tokens_are_redacted_from_log_lines() -> None:
    """A WebSocket URL's token never reaches a log line."""
    import logging

    from liveshop.logs import RedactTokens

    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        "",
        0,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/ws?token=eyJabc.def&x=1"),
        None,
    )
    RedactTokens().filter(record)
    assert "eyJ" not in record.getMessage() and "token=***&x=1" in record.getMessage()
