"""MP4 replays made in the background after a show, joined from every recorded part, and the
show's clips (product pins, the seller's highlights)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from sqlalchemy import select, update

from liveshop.config import Settings
from liveshop.storage.models import Livestream, PinnedProduct, Rendition, utcnow
from tests.api.test_media_http import TIMEOUT, Env, answer, offer, post_sdp, publisher, viewer
from tests.conftest import LiveServer, create_admin, make_product, start_server, stop_server
from tests.replay.samples import make_show_webm
from tests.replay.test_rendition import top_level_boxes
from tests.waiting import until

WEBM = {"Content-Type": "video/webm"}


@pytest.fixture(scope="module")
def part_files(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A 3 s and a 2 s recording (VP8 + Opus)."""
    directory = tmp_path_factory.mktemp("parts")
    return [
        make_show_webm(directory / "a.webm", 3.0).read_bytes(),
        make_show_webm(directory / "b.webm", 2.0, colour=(10, 200, 30)).read_bytes(),
    ]


@pytest.fixture
async def mp4_server(
    database_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[LiveServer]:
    """A server that makes MP4 replays."""
    srv, task, live = await start_server(make_settings(database_url=database_url, mp4_replays=True))
    try:
        yield live
    finally:
        await stop_server(srv, task)


@pytest.fixture
async def http(mp4_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=mp4_server.url, timeout=30) as c:
        yield c


async def login(server: LiveServer, http: httpx.AsyncClient) -> dict[str, str]:
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    await create_admin(server)
    r = await http.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    return {"Authorization": f"Bearer {r.json()['accessToken']}"}


async def upload_part(
    http: httpx.AsyncClient, admin: dict[str, str], show: int, data: bytes, offset: float
) -> dict[str, Any]:
    """The studio's way: chunks, then complete (one part of the show's recording)."""
    size = -(-len(data) // 3)
    for seq, start in enumerate(range(0, len(data), size)):
        r = await http.put(
            f"/api/livestreams/{show}/recording/chunks/{seq}",
            content=data[start : start + size],
            headers={**admin, **WEBM},
        )
        assert r.status_code == 201, r.text
    r = await http.post(
        f"/api/livestreams/{show}/recording/complete",
        json={"lastSeq": seq, "startOffsetSeconds": offset},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    livestream: dict[str, Any] = r.json()["livestream"]
    return livestream


async def rendition_done(http: httpx.AsyncClient, show: int) -> dict[str, Any]:
    state: dict[str, Any] = {}

    async def done() -> bool:
        state.update((await http.get(f"/api/livestreams/{show}/rendition")).json())
        assert state["state"] != "failed", state
        return bool(state["state"] == "done")

    await until(done, timeout=60, interval=0.2, message="the MP4 rendition")
    return state


async def two_part_show(
    server: LiveServer, http: httpx.AsyncClient, admin: dict[str, str], parts: list[bytes]
) -> int:
    """A show recorded in two parts: 0–3 s and, after a reconnect, 10–12 s of the show."""
    show = (await http.post("/api/livestreams", json={"title": "Two"}, headers=admin)).json()
    show_id: int = show["livestream"]["id"]
    await upload_part(http, admin, show_id, parts[0], 0.0)
    second = await upload_part(http, admin, show_id, parts[1], 10.0)
    assert second["videoUrl"].endswith("/studio.webm")  # the first part, until the MP4
    return show_id


async def test_two_part_show_replays_whole_as_faststart_mp4(
    mp4_server: LiveServer, http: httpx.AsyncClient, part_files: list[bytes]
) -> None:
    """After the show, the MP4 joins both parts (duration ≈ 3 + 2 s), H.264 + AAC, moov first."""
    admin = await login(mp4_server, http)
    show = await two_part_show(mp4_server, http, admin, part_files)
    assert (await http.get(f"/api/livestreams/{show}/rendition")).json()["state"] == "none"
    await http.post(f"/api/livestreams/{show}/stop", headers=admin)
    rendition = await rendition_done(http, show)
    assert rendition["durationSeconds"] == pytest.approx(5.0, abs=0.4)
    assert [(p["startSeconds"], p["showOffsetSeconds"]) for p in rendition["parts"]] == [
        (0.0, 0.0),
        (pytest.approx(3.0, abs=0.2), 10.0),
    ]
    recs = (await http.get(f"/api/livestreams/{show}/recordings")).json()["recordings"]
    assert [r["source"] for r in recs] == ["part", "part"]
    r = await http.get(rendition["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    path = mp4_server.settings.effective_media_dir / rendition["url"].removeprefix("/media/")
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat")
    with av.open(str(path)) as container:
        assert {s.codec_context.name for s in container.streams} == {"h264", "aac"}
        assert container.duration / av.time_base == pytest.approx(5.0, abs=0.4)


async def test_clips_last_the_pin_intervals(
    mp4_server: LiveServer, http: httpx.AsyncClient, part_files: list[bytes]
) -> None:
    """Each pin becomes a clip of its time on screen, mapped onto the joined MP4 (± 1 s)."""
    admin = await login(mp4_server, http)
    mug = await make_product(http, admin, name="Mug")
    tote = await make_product(http, admin, name="Tote")
    show = await two_part_show(mp4_server, http, admin, part_files)
    for product in (mug, tote):
        await http.post(
            f"/api/livestreams/{show}/pin-product", json={"productId": product["id"]}, headers=admin
        )
        await http.delete(f"/api/livestreams/{show}/pin-product/{product['id']}", headers=admin)
    # the pins' times on the show's clock: the mug 0.5–2.5 s, the tote 1.5–11.5 s (across the
    # unrecorded 3–10 s: 1.5–3 s of the first part, 0–1.5 s of the second)
    async with mp4_server.db.session() as session:
        stream = await session.get(Livestream, show)
        assert stream is not None
        start = stream.start_time
        for product, a, b in ((mug, 0.5, 2.5), (tote, 1.5, 11.5)):
            await session.execute(
                update(PinnedProduct)
                .where(
                    PinnedProduct.livestream_id == show,
                    PinnedProduct.product_id == product["id"],
                )
                .values(
                    pinned_at=start + timedelta(seconds=a),
                    unpinned_at=start + timedelta(seconds=b),
                )
            )
    await http.post(f"/api/livestreams/{show}/stop", headers=admin)
    await rendition_done(http, show)

    async def cut() -> list[dict[str, Any]] | None:
        listed = (await http.get(f"/api/livestreams/{show}/clips")).json()["clips"]
        return listed if listed and all(c["state"] == "done" for c in listed) else None

    clips = await until(cut, timeout=30, interval=0.2, message="the pin clips")
    by_product = {c["productId"]: c for c in clips}
    assert set(by_product) == {mug["id"], tote["id"]} and len(clips) == 2
    assert by_product[mug["id"]]["durationSeconds"] == pytest.approx(2.0, abs=1.0)
    assert by_product[tote["id"]]["durationSeconds"] == pytest.approx(3.0, abs=1.0)
    assert by_product[tote["id"]]["startSeconds"] == pytest.approx(1.5, abs=0.1)
    for product, seconds in ((mug, 2.0), (tote, 3.0)):  # the files themselves last that long
        r = await http.get(by_product[product["id"]]["url"], follow_redirects=True)
        with av.open(io.BytesIO(r.content)) as container:
            assert container.duration / av.time_base == pytest.approx(seconds, abs=1.0)
    clip = by_product[tote["id"]]
    assert clip["url"] == f"/clips/{clip['id']}.mp4" and clip["pageUrl"] == f"/clips/{clip['id']}"
    r = await http.get(clip["url"], follow_redirects=True)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert (await http.get(clip["pageUrl"])).status_code == 200
    assert clip["embedUrl"] == f"/embed/clips/{clip['id']}"  # for a shop's product page
    assert (await http.get(clip["embedUrl"])).status_code == 200
    listed = (await http.get(f"/api/products/{tote['id']}/clips")).json()["clips"]
    assert [c["id"] for c in listed] == [clip["id"]]


async def test_highlight_cut_by_start_and_end(
    mp4_server: LiveServer, http: httpx.AsyncClient, part_files: list[bytes]
) -> None:
    """The seller's highlight between 1 s and 4 s of the replay is a 3 s (± 1 s) MP4 clip."""
    admin = await login(mp4_server, http)
    show = await two_part_show(mp4_server, http, admin, part_files)
    early = await http.post(
        f"/api/livestreams/{show}/clips", json={"startSeconds": 1, "endSeconds": 4}, headers=admin
    )
    assert early.status_code == 409  # still live
    await http.post(f"/api/livestreams/{show}/stop", headers=admin)
    r = await http.post(
        f"/api/livestreams/{show}/clips",
        json={"startSeconds": 4, "endSeconds": 1, "title": "Best bit"},  # either order
        headers=admin,
    )
    assert r.status_code == 201, r.text
    clip_id = r.json()["clip"]["id"]

    async def cut() -> dict[str, Any] | None:
        clip: dict[str, Any] = (await http.get(f"/api/clips/{clip_id}")).json()["clip"]
        return clip if clip["state"] == "done" else None

    clip = await until(cut, timeout=60, interval=0.2, message="the highlight")
    assert clip["kind"] == "highlight" and clip["title"] == "Best bit"
    assert (clip["startSeconds"], clip["endSeconds"]) == (1, 4)
    assert clip["durationSeconds"] == pytest.approx(3.0, abs=1.0)
    data = (await http.get(clip["url"], follow_redirects=True)).content
    path = mp4_server.settings.effective_media_dir / "c.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        assert container.duration / av.time_base == pytest.approx(clip["durationSeconds"], abs=0.2)
    assert (await http.delete(f"/api/clips/{clip_id}", headers=admin)).status_code == 204
    assert (await http.get(f"/api/clips/{clip_id}")).status_code == 404
    assert (await http.get(f"/clips/{clip_id}.mp4")).status_code == 404


async def test_restart_redoes_an_interrupted_rendition(
    database_url: str,
    make_settings: Callable[..., Settings],
    part_files: list[bytes],
    tmp_path: Path,
) -> None:
    """A rendition left running by a process that died is redone by the next one that starts."""
    settings = make_settings(database_url=database_url, mp4_replays=False)
    srv, task, first = await start_server(settings)
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
            admin = await login(first, http)
            show = await two_part_show(first, http, admin, part_files)
            await http.post(f"/api/livestreams/{show}/stop", headers=admin)
        # the process "died" mid-rendition: running, half done, its heartbeat long stopped
        async with first.db.session() as session:
            await session.execute(
                update(Rendition)
                .where(Rendition.livestream_id == show)
                .values(state="running", progress=0.5, updated_at=utcnow() - timedelta(minutes=5))
            )
        half = settings.effective_media_dir / "livestreams" / str(show) / "replay-1.mp4.tmp"
        half.write_bytes(b"half an mp4")
    finally:
        await stop_server(srv, task)
    srv, task, second = await start_server(
        make_settings(database_url=database_url, mp4_replays=True)
    )
    try:
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as http:
            rendition = await rendition_done(http, show)
        assert rendition["durationSeconds"] == pytest.approx(5.0, abs=0.4)
        async with second.db.session() as session:
            row = (
                await session.execute(select(Rendition).where(Rendition.livestream_id == show))
            ).scalar_one()
            assert row.generation == 1 and row.progress == 1.0
    finally:
        await stop_server(srv, task)


async def test_rendition_of_unknown_show_is_404(
    mp4_server: LiveServer, http: httpx.AsyncClient
) -> None:
    """Asking for a show that does not exist answers 404."""
    assert (await http.get("/api/livestreams/999/rendition")).status_code == 404
    assert (await http.get("/api/livestreams/999/clips")).status_code == 404
    assert (await http.get("/api/clips/999")).status_code == 404


@pytest.fixture
async def sfu_mp4(mp4_server: LiveServer, http: httpx.AsyncClient) -> Env:
    """The MP4-making server (sfu mode: the server records) with the seller logged in."""
    headers = await login(mp4_server, http)
    return Env(mp4_server, http, headers["Authorization"].removeprefix("Bearer "))


async def publish_for_two_seconds(env: Env, show: int) -> tuple[Any, str]:
    """A studio's WHIP session whose video has reached a viewer (and the recording) for 2 s;
    returns the publisher and its session URL."""
    pub = publisher()
    r = await post_sdp(env, f"/api/livestreams/{show}/whip", await offer(pub), env.admin)
    assert r.status_code == 201, r.text
    await answer(pub, r.text)
    pc, tracks = viewer()

    async def watching() -> bool:
        w = await post_sdp(env, f"/api/livestreams/{show}/whep", await offer(pc), await env.guest())
        if w.status_code != 201:
            return False  # 409 until the publisher is connected
        await answer(pc, w.text)
        return True

    await until(watching, timeout=TIMEOUT, message="the publisher to be live")
    video = await asyncio.wait_for(tracks["video"], TIMEOUT)
    first = (await asyncio.wait_for(video.recv(), TIMEOUT)).time
    while (await asyncio.wait_for(video.recv(), TIMEOUT)).time - first < 2.0:
        pass
    await pc.close()
    return pub, r.headers["location"]


async def test_sfu_studio_publishing_again_mid_show_appends_a_segment(sfu_mp4: Env) -> None:
    """sfu: the studio's WHIP session ends mid-show and a reopened studio publishes again; the
    server records a second segment and the MP4 joins both (duration ≈ their sum)."""
    env = sfu_mp4
    show = await env.show()
    first, session = await publish_for_two_seconds(env, show)  # the first studio tab
    await env.http.delete(session, headers=env.admin)  # … is closed
    await first.close()
    second, _session = await publish_for_two_seconds(env, show)  # the reopened tab
    await env.http.post(f"/api/livestreams/{show}/stop", headers=env.admin)
    await second.close()

    async def two_segments() -> list[dict[str, Any]] | None:
        r = await env.http.get(f"/api/livestreams/{show}/recordings")
        recs: list[dict[str, Any]] = r.json()["recordings"]
        return recs if len(recs) == 2 else None

    recs = await until(two_segments, timeout=TIMEOUT, message="two segments")
    assert [r["source"] for r in recs] == ["server", "server"]
    assert [r["url"].rsplit("/", 1)[1] for r in recs] == ["recording.webm", "recording-2.webm"]
    rendition = await rendition_done(env.http, show)
    total = sum(r["durationSeconds"] for r in recs)
    assert rendition["durationSeconds"] == pytest.approx(total, abs=1.0)
    assert len(rendition["parts"]) == 2
