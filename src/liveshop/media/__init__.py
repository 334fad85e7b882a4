"""Live media: WHIP publish / WHEP watch backends (``sfu`` forwards RTP, ``p2p`` refuses).

The app talks to :class:`~liveshop.media.base.MediaBackend` only; see ``docs/media.md``.
"""

from .base import MediaBackend, MediaError, MediaEvent, MediaSession
from .factory import create_media_backend

__all__ = ["MediaBackend", "MediaError", "MediaEvent", "MediaSession", "create_media_backend"]
