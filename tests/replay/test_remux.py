"""PyAV work on kept recordings."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
from PIL import Image

from liveshop.replay.remux import NotAnImage, NotMedia, image_to_jpeg, remux, thumbnail_from_video


def test_remux_adds_duration_and_makes_the_file_seekable(tmp_path: Path, live_webm: bytes) -> None:
    """A live WebM without duration becomes a WebM with its duration that PyAV can seek in."""
    source = tmp_path / "in.webm"
    source.write_bytes(live_webm)
    with av.open(str(source)) as original:
        assert not original.duration
    target, duration = remux(source, tmp_path / "out")
    assert target.suffix == ".webm" and duration == pytest.approx(4.0, abs=0.2)
    with av.open(str(target)) as container:
        assert container.duration and container.duration / av.time_base == pytest.approx(
            4.0, abs=0.2
        )
        container.seek(2 * av.time_base)
        frame = next(container.decode(video=0))
        assert frame.time is not None and 1.0 <= frame.time <= 2.5


def test_remux_refuses_non_media(tmp_path: Path) -> None:
    """Bytes that are not a recording raise NotMedia."""
    junk = tmp_path / "junk.webm"
    junk.write_bytes(b"\x1a\x45\xdf\xa3" + b"nonsense" * 100)
    with pytest.raises(NotMedia):
        remux(junk, tmp_path / "out")


def test_thumbnail_is_a_jpeg(tmp_path: Path, live_webm: bytes) -> None:
    """A keyframe becomes a JPEG thumbnail."""
    source = tmp_path / "in.webm"
    source.write_bytes(live_webm)
    assert thumbnail_from_video(source, tmp_path / "t.jpg", 1.0)
    with Image.open(tmp_path / "t.jpg") as image:
        assert image.format == "JPEG" and image.size == (320, 240)


def test_image_to_jpeg_reencodes_png_and_refuses_junk(tmp_path: Path) -> None:
    """PNG in, JPEG out (shrunk to 640 wide); anything else raises NotAnImage."""
    buffer = io.BytesIO()
    Image.new("RGB", (1280, 720), (10, 200, 30)).save(buffer, "PNG")
    assert image_to_jpeg(buffer.getvalue(), tmp_path / "a.jpg") == (1280, 720)
    with Image.open(tmp_path / "a.jpg") as image:
        assert image.format == "JPEG" and image.width == 640
    with pytest.raises(NotAnImage):
        image_to_jpeg(b"<svg></svg>", tmp_path / "b.jpg")
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    with pytest.raises(NotAnImage):
        image_to_jpeg(gif.getvalue(), tmp_path / "c.jpg")
