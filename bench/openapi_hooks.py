"""Schemathesis hooks for liveshop (``SCHEMATHESIS_HOOKS=bench.openapi_hooks``): how to send the
bodies that are not JSON. SDP offers and CSV files are text; recording chunks are bytes."""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias(
    ["application/sdp", "text/csv", "application/vnd.ms-excel"], "text/plain"
)
schemathesis.serializer.alias(
    ["video/webm", "audio/webm", "video/x-matroska"], "application/octet-stream"
)
