"""The ``janus`` mode: WHIP/WHEP stay in liveshop, media goes through Janus VideoRoom.

The backend is :class:`liveshop.media.janus.backend.JanusMediaBackend` (see ``docs/media.md``).
Importing this package imports nothing else, so the placement (:mod:`.placement`) can be used
and tested without aiortc.
"""
