"""The studio's recording upload, thumbnails, and serving the files."""

from __future__ import annotations

import io
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from tests.conftest import LiveServer

WEBM = {"Content-Type": "video/webm"}


async def _ended_show(client: httpx.AsyncClient, admin: dict[str, str]) -> int:
    r = await client.post("/api/livestreams", json={"title": "Rec"}, headers=admin)
    show: int = r.json()["livestream"]["id"]
    return show


def _split(data: bytes, n: int) -> list[bytes]:
    size = -(-len(data) // n)
    return [data[i : i + size] for i in range(0, len(data), size)]


async def _put(
    client: httpx.AsyncClient, admin: dict[str, str], show: int, seq: int, body: bytes
) -> httpx.Response:
    return await client.put(
        f"/api/livestreams/{show}/recording/chunks/{seq}", content=body, headers={**admin, **WEBM}
    )


async def test_chunks_out_of_order_and_duplicated_assemble_into_a_seekable_replay(
    client: httpx.AsyncClient, admin: dict[str, str], live_webm: bytes, server: LiveServer
) -> None:
    """Chunks sent out of order and twice become the exact bytes, remuxed with a duration."""
    show = await _ended_show(client, admin)
    chunks = _split(live_webm, 5)
    for seq in [3, 0, 4, 1, 1, 2, 3]:
        r = await _put(client, admin, show, seq, chunks[seq])
        assert r.status_code in (200, 201), r.text
    r = await client.post(
        f"/api/livestreams/{show}/recording/complete", json={"lastSeq": 4}, headers=admin
    )
    assert r.status_code == 200, r.text
    stream = r.json()["livestream"]
    assert stream["isRecorded"] is True and stream["durationSeconds"] == pytest.approx(4.0, abs=0.2)
    assert stream["videoUrl"].endswith("/studio.webm") and stream["thumbnailUrl"].endswith(
        "thumbnail.jpg"
    )
    media = await client.get(stream["videoUrl"])
    path = server.settings.effective_media_dir / stream["videoUrl"].removeprefix("/media/")
    assert media.content == path.read_bytes()
    with av.open(io.BytesIO(media.content)) as container:
        assert container.duration and container.duration / av.time_base == pytest.approx(
            4.0, abs=0.2
        )
        packets = [p for p in av.open(io.BytesIO(live_webm)).demux(video=0) if p.size]
        remuxed = [p for p in container.demux(video=0) if p.size]
        assert [bytes(p) for p in remuxed] == [
            bytes(p) for p in packets
        ]  # stream copy, same frames
    assert (await client.get(stream["thumbnailUrl"])).content[:3] == b"\xff\xd8\xff"


async def test_duplicate_chunk_is_idempotent(
    client: httpx.AsyncClient, admin: dict[str, str], live_webm: bytes
) -> None:
    """The first PUT of a seq is 201, the same seq again 200 with the same size."""
    show = await _ended_show(client, admin)
    first = await _put(client, admin, show, 0, live_webm[:1000])
    again = await _put(client, admin, show, 0, live_webm[:1000])
    assert (first.status_code, again.status_code) == (201, 200)
    assert (
        first.json()["size"] == again.json()["size"] == 1000
        and again.json()["receivedBytes"] == 1000
    )


async def test_complete_with_missing_chunks_reports_them(
    client: httpx.AsyncClient, admin: dict[str, str], live_webm: bytes
) -> None:
    """Missing chunks are listed in a 409; after resending them the upload completes."""
    show = await _ended_show(client, admin)
    chunks = _split(live_webm, 4)
    for seq in (0, 2):
        await _put(client, admin, show, seq, chunks[seq])
    r = await client.post(
        f"/api/livestreams/{show}/recording/complete", json={"lastSeq": 3}, headers=admin
    )
    assert r.status_code == 409 and r.json()["missing"] == [1, 3]
    for seq in (1, 3):  # the interrupted upload resumes from the first chunk not acknowledged
        await _put(client, admin, show, seq, chunks[seq])
    r = await client.post(
        f"/api/livestreams/{show}/recording/complete", json={"lastSeq": 3}, headers=admin
    )
    assert r.status_code == 200


async def test_non_webm_is_415(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """A first chunk that is not WebM, or a wrong content type, is 415."""
    show = await _ended_show(client, admin)
    assert (await _put(client, admin, show, 0, b"GIF89a....")).status_code == 415
    r = await client.put(
        f"/api/livestreams/{show}/recording/chunks/0",
        content=b"\x1a\x45\xdf\xa3",
        headers={**admin, "Content-Type": "text/plain"},
    )
    assert r.status_code == 415


async def test_over_the_limit_is_413(
    make_settings: Any, live_webm: bytes, database_url: str
) -> None:
    """Past LIVESHOP_MAX_RECORDING_BYTES a chunk is refused with 413 and earlier chunks stay."""
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, create_admin, start_server, stop_server

    srv, task, live = await start_server(
        make_settings(database_url=database_url, max_recording_bytes=3000)
    )
    try:
        async with httpx.AsyncClient(base_url=live.url) as client:
            await create_admin(live)
            token = (
                await client.post(
                    "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
                )
            ).json()["accessToken"]
            admin = {"Authorization": f"Bearer {token}"}
            show = await _ended_show(client, admin)
            assert (await _put(client, admin, show, 0, live_webm[:2000])).status_code == 201
            assert (await _put(client, admin, show, 1, live_webm[2000:4000])).status_code == 413
            assert (await _put(client, admin, show, 1, live_webm[2000:2900])).status_code == 201
    finally:
        await stop_server(srv, task)


async def test_only_the_shows_seller_may_upload(
    client: httpx.AsyncClient, admin: dict[str, str], guest: dict[str, str], server: LiveServer
) -> None:
    """Guests get 403, another seller gets 403, an unknown show 404."""
    from tests.conftest import ADMIN_PASSWORD, create_admin

    show = await _ended_show(client, admin)
    assert (await _put(client, guest, show, 0, b"\x1a\x45\xdf\xa3")).status_code == 403
    await create_admin(server, "other@example.com")
    token = (
        await client.post(
            "/api/auth/login", json={"email": "other@example.com", "password": ADMIN_PASSWORD}
        )
    ).json()["accessToken"]
    other = {"Authorization": f"Bearer {token}"}
    assert (await _put(client, other, show, 0, b"\x1a\x45\xdf\xa3")).status_code == 403
    assert (await _put(client, admin, 999, 0, b"\x1a\x45\xdf\xa3")).status_code == 404


async def test_one_shot_multipart_upload(
    client: httpx.AsyncClient, admin: dict[str, str], live_webm: bytes
) -> None:
    """The seed's POST /upload with field ``video`` makes the replay; junk is 415; no file 422."""
    show = await _ended_show(client, admin)
    r = await client.post(
        f"/api/livestreams/{show}/upload",
        files={"video": ("r.webm", live_webm, "video/webm")},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["livestream"]["durationSeconds"] == pytest.approx(4.0, abs=0.2)
    bad = await client.post(
        f"/api/livestreams/{show}/upload",
        files={"video": ("r.webm", b"not video", "video/webm")},
        headers=admin,
    )
    assert bad.status_code == 415
    none = await client.post(
        f"/api/livestreams/{show}/upload", files={"other": ("x", b"x")}, headers=admin
    )
    assert none.status_code == 422


async def test_thumbnail_upload(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """A PNG becomes the show's JPEG thumbnail; a non-image is 422; a wrong type 415."""
    show = await _ended_show(client, admin)
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 0, 0)).save(png, "PNG")
    url = f"/api/livestreams/{show}/thumbnail"
    r = await client.put(
        url, content=png.getvalue(), headers={**admin, "Content-Type": "image/png"}
    )
    assert r.status_code == 200 and r.json()["livestream"]["thumbnailUrl"].endswith("thumbnail.jpg")
    image = await client.get(r.json()["livestream"]["thumbnailUrl"])
    assert image.content[:3] == b"\xff\xd8\xff"
    assert (
        await client.put(
            url, content=b"not an image", headers={**admin, "Content-Type": "image/jpeg"}
        )
    ).status_code == 422
    assert (
        await client.put(
            url, content=png.getvalue(), headers={**admin, "Content-Type": "text/plain"}
        )
    ).status_code == 415


async def test_media_range_requests(client: httpx.AsyncClient, server: LiveServer) -> None:
    """First bytes, middle, suffix → 206 with Content-Range; an unsatisfiable range → 416."""
    directory = server.settings.effective_media_dir / "livestreams" / "1"
    directory.mkdir(parents=True)
    data = bytes(range(256)) * 40
    (directory / "recording.webm").write_bytes(data)
    url = "/media/livestreams/1/recording.webm"
    full = await client.get(url)
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    assert full.headers["etag"] and full.headers["last-modified"] and full.headers["cache-control"]
    first = await client.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and first.content == data[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{len(data)}"
    middle = await client.get(url, headers={"Range": "bytes=5000-5099"})
    assert middle.status_code == 206 and middle.content == data[5000:5100]
    suffix = await client.get(url, headers={"Range": "bytes=-10"})
    assert suffix.status_code == 206 and suffix.content == data[-10:]
    bad = await client.get(url, headers={"Range": f"bytes={len(data) + 10}-"})
    assert bad.status_code == 416


async def test_media_paths_cannot_escape(client: httpx.AsyncClient, server: LiveServer) -> None:
    """../ in a media path does not reach files outside the media directory."""
    (server.settings.data_dir / "secret.txt").write_text("secret")
    for path in ["/media/../secret.txt", "/media/..%2fsecret.txt", "/media/%2e%2e/secret.txt"]:
        r = await client.get(path)
        assert r.status_code == 404 and b"secret" not in r.content


async def test_delete_show_deletes_its_files(
    client: httpx.AsyncClient, admin: dict[str, str], live_webm: bytes, server: LiveServer
) -> None:
    """Deleting an ended show removes its rows and files; a live show is 409."""
    show = await _ended_show(client, admin)
    await client.post(
        f"/api/livestreams/{show}/upload",
        files={"video": ("r.webm", live_webm, "video/webm")},
        headers=admin,
    )
    assert (await client.delete(f"/api/livestreams/{show}", headers=admin)).status_code == 409
    await client.post(f"/api/livestreams/{show}/stop", headers=admin)
    assert (await client.delete(f"/api/livestreams/{show}", headers=admin)).status_code == 204
    assert not (server.settings.effective_media_dir / "livestreams" / str(show)).exists()
    assert (await client.get(f"/api/livestreams/{show}")).status_code == 404


async def test_recorded_filter_lists_replays(
    client: httpx.AsyncClient, admin: dict[str, str], live_webm: bytes
) -> None:
    """status=ended&recorded=true lists only recorded, ended shows."""
    show = await _ended_show(client, admin)
    await client.post(
        f"/api/livestreams/{show}/upload",
        files={"video": ("r.webm", live_webm, "video/webm")},
        headers=admin,
    )
    await client.post(f"/api/livestreams/{show}/stop", headers=admin)
    other = await _ended_show(client, admin)
    await client.post(f"/api/livestreams/{other}/stop", headers=admin)
    listed = (await client.get("/api/livestreams?status=ended&recorded=true")).json()["livestreams"]
    assert [s["id"] for s in listed] == [show]
    recs = (await client.get(f"/api/livestreams/{show}/recordings")).json()["recordings"]
    assert len(recs) == 1 and recs[0]["source"] == "upload"
