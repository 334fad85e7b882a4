"""Real Janus processes for the ``janus`` media mode tests (see LocalJanus).

The instances run inside one network namespace the fixture creates (tests/medianet.py): their
APIs and ICE candidates are on its ``far`` address; this process's aiortc peers (test peers, the
recording monitor) use its ``near`` address only for as long as the fixture lives. Skipped with a
clear reason when Janus is not installed (``make janus`` installs it) or namespaces cannot be
made, failed under ``CI=true``.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from liveshop.media.janus.process import LocalJanus, find_janus, find_lib_dir
from liveshop.media.netns import Namespace
from tests.medianet import media_namespace

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_ranges = itertools.count()


def require_janus() -> None:
    problem = None
    if find_janus() is None:
        problem = "janus is not installed (run `make janus`: Debian's janus + janus-tools)"
    elif find_lib_dir() is None:
        problem = "Janus's VideoRoom plugin / HTTP transport (.so) were not found"
    if problem is None:
        return
    if CI:
        pytest.fail(f"CI=true: {problem}")
    pytest.skip(problem)


class JanusCluster:
    """N local Janus instances sharing an API secret, a VideoRoom admin key and an Admin API
    secret (each with its own Admin API port)."""

    def __init__(self, root: Path, count: int, namespace: Namespace) -> None:
        self.namespace = namespace
        self.api_secret = secrets.token_hex(8)
        self.admin_key = secrets.token_hex(8)
        self.admin_secret = secrets.token_hex(8)
        self.instances: list[LocalJanus] = []
        for i in range(count):
            # a private 150-port RTP/ICE block per instance, distinct within this test run
            start = 20000 + ((os.getpid() * 7 + next(_ranges)) % 250) * 150
            janus = LocalJanus(
                root / f"janus{i}",
                rtp_ports=(start, start + 149),
                api_secret=self.api_secret,
                admin_key=self.admin_key,
                admin_secret=self.admin_secret,
                host=namespace.far,
                command_prefix=namespace.command(),
            )
            self.instances.append(janus)

    @property
    def urls(self) -> list[str]:
        return [j.url for j in self.instances]

    @property
    def admin_urls(self) -> list[str]:
        return [j.admin_url for j in self.instances]

    def start(self) -> None:
        for janus in self.instances:
            janus.start()

    def stop(self) -> None:
        for janus in self.instances:
            janus.stop()


@pytest.fixture
def janus_pair(tmp_path: Path) -> Iterator[JanusCluster]:
    """Two Janus instances (index 0 becomes the origin of the first show)."""
    require_janus()
    with media_namespace() as namespace:
        cluster = JanusCluster(tmp_path / "janus", 2, namespace)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
