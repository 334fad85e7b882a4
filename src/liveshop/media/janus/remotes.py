"""Remote copies: the publisher re-published on instances other than its origin (cascading).

On instance B, ``add_remote_publisher`` creates a copy of the origin's feed (same feed id) and
returns an RTP port; on the origin, ``publish_remotely`` forwards the feed there (PLIs travel
back over the RTCP port). Viewers on B then subscribe to the copy like to any publisher. A copy
is made once per show, instance and feed over every liveshop process (under a shared lock) and
recorded in the placement.
"""

from __future__ import annotations

import logging

from . import videoroom
from .client import JanusGone
from .instances import Instance, InstancePool
from .placement.base import Placement, RemoteRecord, ShowRecord

logger = logging.getLogger(__name__)


class RemoteCopies:
    """Creates and removes the publisher's copies on other instances (see module doc)."""

    def __init__(self, pool: InstancePool, placement: Placement) -> None:
        self.pool = pool
        self.placement = placement

    async def ensure(self, livestream_id: int, show: ShowRecord, inst: Instance) -> None:
        """Make the publisher (on its origin) available on ``inst`` (VideoRoom remotization),
        once per show, instance and feed over every process (under a shared lock)."""
        if inst.url == show.origin:
            return
        remote = (await self.placement.remotes(livestream_id)).get(inst.url)
        if remote is not None and remote.feed == show.feed:
            return
        async with self.placement.lock(f"remote:{livestream_id}:{inst.url}"):
            remote = (await self.placement.remotes(livestream_id)).get(inst.url)
            if remote is not None and remote.feed == show.feed:
                return
            origin = self.pool.by_url.get(show.origin)
            if origin is None:
                raise JanusGone(0, f"the origin {show.origin} is not in LIVESHOP_JANUS_URLS")
            origin_session = origin.live_session()
            session = inst.live_session()
            assert inst.control is not None and origin.control is not None
            await self.pool.ensure_room(livestream_id, inst)
            admin_key = self.pool.admin_key
            added = await session.request(
                inst.control,
                videoroom.add_remote_publisher(
                    livestream_id, show.feed, show.streams, admin_key=admin_key
                ),
            )
            host = str(added.get("ip") or "")
            if not host or host in ("0.0.0.0", "::"):
                host = inst.host
            remote = RemoteRecord(feed=show.feed, remote_id=f"liveshop-{inst.index}-{show.feed}")
            try:
                forward = videoroom.publish_remotely(
                    livestream_id,
                    show.feed,
                    remote.remote_id,
                    host,
                    int(added["port"]),
                    int(added["rtcp_port"]) if added.get("rtcp_port") else None,
                    admin_key=admin_key,
                )
                await origin_session.request(origin.control, forward)
            except BaseException:
                await self.remove(livestream_id, origin, inst.url, remote, unpublish=False)
                raise
            await self.placement.set_remote(livestream_id, inst.url, remote)
            logger.info(
                "show %s: publisher %s forwarded from %s to %s (%s:%s)",
                livestream_id,
                show.feed,
                origin.url,
                inst.url,
                host,
                added["port"],
            )

    async def unpublish(
        self, livestream_id: int, origin: Instance, feed: int, remote_id: str
    ) -> None:
        """Stop the origin forwarding ``feed`` to ``remote_id`` (errors and a down origin are
        ignored)."""
        await self.pool.control_request(
            origin,
            videoroom.unpublish_remotely(
                livestream_id, feed, remote_id, admin_key=self.pool.admin_key
            ),
        )

    async def remove(
        self,
        livestream_id: int,
        origin: Instance,
        url: str,
        remote: RemoteRecord,
        unpublish: bool = True,
    ) -> None:
        """Stop forwarding (unless ``unpublish`` is False) and drop the copy on ``url`` (errors
        and down instances are ignored; the placement record is the caller's)."""
        if unpublish:
            await self.unpublish(livestream_id, origin, remote.feed, remote.remote_id)
        await self.pool.control_request(
            self.pool.by_url.get(url),
            videoroom.remove_remote_publisher(
                livestream_id, remote.feed, admin_key=self.pool.admin_key
            ),
        )
