"""Go live over HTTPS: deploy/Caddyfile (`tls internal`) in front of `liveshop serve` on the name
shop.test, a seller's and a shopper's Chromium each in its own network namespace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_pages import seller_goes_live, video_plays
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.internet.netns import Net, chromium_in, namespaces, need, need_tool

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SERVER_SELLER, SELLER = "10.231.1.1", "10.231.1.2"
SERVER_SHOPPER, SHOPPER = "10.231.2.1", "10.231.2.2"


@dataclass
class Site:
    net: Net
    seller_ns: str
    shopper_ns: str
    ca: Path
    log: Path


def wait_file(path: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"{what} exited"
        assert time.monotonic() < deadline, f"{what} did not get ready"
        time.sleep(0.1)


def wait_log(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in (path.read_text() if path.exists() else ""):
        assert proc.poll() is None, f"liveshop exited:\n{path.read_text()}"
        assert time.monotonic() < deadline, "liveshop did not start"
        time.sleep(0.1)


# the shopper's page asks for the first 10 bytes of the live show's thumbnail until it exists
RANGE_OF_THE_THUMBNAIL = """async () => {
  const show = (await (await fetch('/api/livestreams/active')).json()).livestream;
  const url = `/media/livestreams/${show.id}/thumbnail.jpg`;
  for (let i = 0; i < 300; i++) {
    const r = await fetch(url, { headers: { Range: 'bytes=0-9' }, cache: 'no-store' });
    if (r.status === 206) {
      return [r.status, r.headers.get('content-range'), (await r.arrayBuffer()).byteLength];
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  return null;
}"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """liveshop + Caddy in a server namespace, reachable as shop.test from two client namespaces."""
    caddy = need_tool("caddy", "caddy")
    need(CHROMIUM.exists(), f"{CHROMIUM} is missing (`make chromium`)")
    with namespaces() as net:
        srv, seller, shopper = net.ns("s"), net.ns("a"), net.ns("b")
        net.link(srv, SERVER_SELLER, seller, SELLER)
        net.link(srv, SERVER_SHOPPER, shopper, SHOPPER)
        net.default_route(seller, SERVER_SELLER)
        net.default_route(shopper, SERVER_SHOPPER)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
        env |= {
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p
            ),
            "LIVESHOP_DATA_DIR": str(tmp_path / "data"),
            "LIVESHOP_SECRET_KEY": "https-e2e-" + "k" * 40,
            "LIVESHOP_FORWARDED_ALLOW_IPS": "127.0.0.1",  # as deploy/liveshop.env
            "LIVESHOP_LOG_FORMAT": "json",
            "LIVESHOP_PORT": "8000",
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
        liveshop = subprocess.Popen(
            net.exec(srv, sys.executable, "-m", "liveshop.cli", "serve"),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        caddy_env = {
            "PATH": env["PATH"],
            "HOME": str(tmp_path / "caddy"),
            "XDG_DATA_HOME": str(tmp_path / "caddy" / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "caddy" / "config"),
            "LIVESHOP_DOMAIN": "shop.test",
            "LIVESHOP_TLS": "internal",
            "LIVESHOP_UPSTREAM": "127.0.0.1:8000",
        }
        proxy = subprocess.Popen(
            net.exec(
                srv,
                caddy,
                "run",
                "--config",
                str(ROOT / "deploy" / "Caddyfile"),
                "--adapter",
                "caddyfile",
            ),
            env=caddy_env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "caddy.log").open("wb"),
        )
        try:
            pki = tmp_path / "caddy" / "data" / "caddy"
            wait_file(
                pki / "certificates" / "local" / "shop.test" / "shop.test.crt", proxy, "caddy"
            )
            wait_log(log, "Application startup complete", liveshop)
            yield Site(
                net, seller, shopper, pki / "pki" / "authorities" / "local" / "root.crt", log
            )
        finally:
            for proc in (proxy, liveshop):
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()


def trusting_home(directory: Path, ca: Path) -> Path:
    """A HOME whose NSS database (what Chromium checks certificates against) trusts ``ca``."""
    certutil = need_tool("certutil", "libnss3-tools")
    db = directory / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run([certutil, "-d", f"sql:{db}", "-N", "--empty-password"], check=True)
    subprocess.run(
        [certutil, "-d", f"sql:{db}", "-A", "-t", "C,,", "-n", "caddy-local", "-i", str(ca)],
        check=True,
    )
    return directory


@pytest.fixture
async def browsers(site: Site, tmp_path: Path) -> AsyncIterator[tuple[Any, Any, list[str]]]:
    """A seller's and a shopper's page, each in a Chromium in its own namespace."""
    errors: list[str] = []
    async with async_playwright() as pw:
        pages = []
        launched = []
        for name, ns, server in (
            ("seller", site.seller_ns, SERVER_SELLER),
            ("shopper", site.shopper_ns, SERVER_SHOPPER),
        ):
            home = trusting_home(tmp_path / f"home-{name}", site.ca)
            browser = await pw.chromium.launch(
                executable_path=str(chromium_in(ns, tmp_path)),
                args=[
                    *CHROMIUM_ARGS,
                    f"--host-resolver-rules=MAP shop.test {server}",
                    "--disable-features=WebRtcHideLocalIpsWithMdns",
                ],
                env={**os.environ, "HOME": str(home)},
            )
            launched.append(browser)
            page = await (await browser.new_context()).new_page()
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda exc, n=name: errors.append(f"{n}: {exc}"))
            page.on(
                "console",
                lambda msg, n=name: (
                    errors.append(f"{n}: {msg.text}")
                    if msg.type == "error" and "/whep" not in (msg.location or {}).get("url", "")
                    else None
                ),
            )
            pages.append(page)
        try:
            yield pages[0], pages[1], errors
        finally:
            for browser in launched:
                await browser.close()


async def test_go_live_over_https_behind_caddy(
    site: Site, browsers: tuple[Any, Any, list[str]]
) -> None:
    """https://shop.test: secure context, live with the fake camera, watched over wss + WebRTC, chat crosses, real shopper address."""
    seller, shopper, errors = browsers
    await seller.goto("https://shop.test/studio")
    assert await seller.evaluate("() => window.isSecureContext && !!navigator.mediaDevices")
    await seller.get_by_label("E-mail", exact=True).fill(ADMIN_EMAIL)
    await seller.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    await seller.get_by_role("button", name="Log in").click()
    await expect(seller.locator("#studio-view")).to_be_visible()
    await seller_goes_live(seller, "Over HTTPS")
    await expect(seller.locator("#publish-status")).to_have_text(
        "Your video is live.", timeout=30_000
    )

    await shopper.goto("https://shop.test/")
    assert await shopper.evaluate("() => window.isSecureContext")
    await expect(shopper.locator("#show-title")).to_have_text("Over HTTPS")
    await video_plays(shopper, 30_000)
    await shopper.get_by_label("Pick a display name to chat").fill("Ana")
    await shopper.get_by_role("button", name="Join chat").click()
    await shopper.get_by_label("Message", exact=True).fill("Hello over TLS")
    await shopper.get_by_role("button", name="Send").click()
    await expect(seller.locator(".chat-msg", has_text="Hello over TLS")).to_have_count(1)
    assert errors == []

    lines = [json.loads(line) for line in site.log.read_text().splitlines() if line.startswith("{")]
    sockets = [e["message"] for e in lines if '"WebSocket /ws' in e["message"]]
    assert any(m.startswith(f"{SHOPPER}:") for m in sockets), sockets
    assert not any(m.startswith("127.0.0.1:") for m in sockets), sockets
    whep = [e for e in lines if e.get("path", "").endswith("/whep") and e.get("status") == 201]
    assert whep and all(e["client"] == SHOPPER for e in whep), whep

    # /media comes through Caddy with Range: part of the show's thumbnail (the server's recording
    # takes it about 3 s in) is answered 206 with its Content-Range
    part = await shopper.evaluate(RANGE_OF_THE_THUMBNAIL)
    assert part is not None, "no thumbnail within 30 s"
    status, content_range, length = part
    assert status == 206 and content_range.startswith("bytes 0-9/") and length == 10, part
