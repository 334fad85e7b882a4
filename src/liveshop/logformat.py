"""``LIVESHOP_LOG_FORMAT=json``: one JSON object per line on stderr, for log shippers.

Every record has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; uvicorn's access
lines also carry ``client`` (the address as ``client_address.py`` defines it), ``method``,
``path`` (tokens redacted) and ``status``; an exception adds ``exc``. ``text`` keeps uvicorn's
usual format.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (
            record.name == "uvicorn.access"
            and isinstance(record.args, tuple)
            and len(record.args) == 5
        ):
            client, method, path, _, status = record.args
            entry.update(
                client=str(client).rsplit(":", 1)[0], method=method, path=path, status=status
            )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def uvicorn_log_config(log_format: str, level: str = "info") -> dict[str, Any] | None:
    """The ``log_config`` for uvicorn: None (its default) for text; JSON lines for every logger
    (uvicorn's and the service's own) otherwise."""
    if log_format != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "liveshop.logformat.JsonFormatter"}},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": level.upper()},
    }
