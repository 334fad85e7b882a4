"""The ``janus`` media mode: WHIP/WHEP stay in liveshop, media goes through Janus VideoRoom.

See :mod:`liveshop.media.janus.backend` and ``docs/media.md``.
"""

from .backend import JanusMediaBackend

__all__ = ["JanusMediaBackend"]
