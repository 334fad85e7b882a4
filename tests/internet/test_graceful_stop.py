"""SIGTERM while a show is live: `liveshop serve` exits cleanly and keeps a playable recording."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.internet.netns import namespaces

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SERVER, PUBLISHER = "10.234.1.1", "10.234.1.2"


def test_sigterm_closes_the_recording_cleanly(tmp_path: Path) -> None:
    """After SIGTERM mid-show the server shuts down cleanly and the show's recording is attached and playable."""
    with namespaces() as net:
        srv, pub = net.ns("s"), net.ns("p")
        net.link(srv, SERVER, pub, PUBLISHER)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
        env |= {
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH")) if p
            ),
            "LIVESHOP_DATA_DIR": str(tmp_path / "data"),
            "LIVESHOP_SECRET_KEY": "graceful-stop-" + "k" * 40,
            "LIVESHOP_HOST": "0.0.0.0",
            "LIVESHOP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        }
        subprocess.run(
            [sys.executable, "-m", "liveshop.cli", "create-admin", "--email", ADMIN_EMAIL],
            env=env,
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
        log = tmp_path / "liveshop.log"
        server = subprocess.Popen(
            net.exec(srv, sys.executable, "-m", "liveshop.cli", "serve"),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        publisher = None
        try:
            deadline = time.monotonic() + 60
            while "Application startup complete" not in log.read_text():
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            publisher = subprocess.Popen(
                net.exec(
                    pub,
                    sys.executable,
                    "-m",
                    "tests.internet.turn_peer",
                    "publish",
                    f"http://{SERVER}:8000",
                    ADMIN_EMAIL,
                    ADMIN_PASSWORD,
                ),
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert publisher.stdout is not None
            show = int(publisher.stdout.readline().split()[1])
            # the server's recording takes its thumbnail at the first keyframe after 3 s
            thumbnail = tmp_path / "data" / "media" / "livestreams" / str(show) / "thumbnail.jpg"
            deadline = time.monotonic() + 60
            while not thumbnail.exists():
                assert time.monotonic() < deadline, "nothing recorded"
                time.sleep(0.1)
            server.terminate()
            # uvicorn re-raises SIGTERM once shut down: systemd counts that as a clean exit
            assert server.wait(30) in (0, -signal.SIGTERM), log.read_text()[-3000:]
            assert "Application shutdown complete" in log.read_text()
        finally:
            if publisher is not None:
                assert publisher.stdin is not None
                publisher.stdin.close()
                publisher.terminate()
                publisher.wait(15)
            if server.poll() is None:
                server.kill()
    with sqlite3.connect(tmp_path / "data" / "liveshop.db") as db:
        rows = db.execute(
            "SELECT path, source, size_bytes, duration_seconds FROM recordings WHERE livestream_id = ?",
            (show,),
        ).fetchall()
    assert len(rows) == 1 and rows[0][1] == "server" and rows[0][2] > 0 and rows[0][3] > 1, rows
    with av.open(str(tmp_path / "data" / "media" / rows[0][0])) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 10
