"""The MP4 rendition (H.264 + AAC, faststart) of recorded parts, and clips cut from it."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import pytest

from liveshop.replay.rendition import (
    Cancelled,
    RenditionError,
    cut_clip,
    render_in_subprocess,
    render_mp4,
)
from tests.replay.samples import make_show_webm


def top_level_boxes(path: Path) -> list[str]:
    """The types of an MP4's top-level boxes, in file order."""
    data = path.read_bytes()
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        pos += size
    return boxes


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("parts")
    return [
        make_show_webm(directory / "a.webm", 3.0),
        make_show_webm(directory / "b.webm", 2.0, colour=(10, 200, 30)),
    ]


def test_rendition_is_h264_aac_with_moov_before_mdat(tmp_path: Path, parts: list[Path]) -> None:
    """One part becomes an MP4 with H.264 video, AAC audio and its index before the media."""
    target = tmp_path / "replay.mp4"
    render_mp4(parts[:1], target)
    boxes = top_level_boxes(target)
    assert "moov" in boxes and "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    with av.open(str(target)) as container:
        assert [s.codec_context.name for s in container.streams.video] == ["h264"]
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
        assert container.duration / av.time_base == pytest.approx(3.0, abs=0.3)


def test_two_parts_are_joined_in_order(tmp_path: Path, parts: list[Path]) -> None:
    """Two parts make one MP4 as long as both, the second starting where the first ends."""
    target = tmp_path / "replay.mp4"
    placed = render_mp4(parts, target)
    assert [p.start for p in placed] == [0.0, pytest.approx(3.0, abs=0.2)]
    assert [p.duration for p in placed] == [
        pytest.approx(3.0, abs=0.2),
        pytest.approx(2.0, abs=0.2),
    ]
    with av.open(str(target)) as container:
        assert container.duration / av.time_base == pytest.approx(5.0, abs=0.3)
        audio = container.streams.audio[0]
        last_audio = max(float(p.pts * p.time_base) for p in container.demux(audio) if p.size)
        assert last_audio == pytest.approx(5.0, abs=0.3)  # sound all the way, in step
    with av.open(str(target)) as container:
        # the second part's green picture is there at 4 s
        container.seek(4 * av.time_base)
        frame = next(f for f in container.decode(video=0) if f.time is not None and f.time >= 4)
        red, green, _blue = frame.to_image().getpixel((160, 120))
        assert green > red


def test_progress_reaches_one_and_cancel_leaves_nothing(tmp_path: Path, parts: list[Path]) -> None:
    """Progress rises to 1.0; a callback raising Cancelled stops it with no file left."""
    seen: list[float] = []
    render_mp4(parts, tmp_path / "ok.mp4", seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen)

    def cancel(fraction: float) -> None:
        if fraction > 0.2:
            raise Cancelled

    with pytest.raises(Cancelled):
        render_mp4(parts, tmp_path / "cancelled.mp4", cancel)
    assert list(tmp_path.glob("cancelled*")) == []


def test_unreadable_source_is_a_rendition_error(tmp_path: Path) -> None:
    """A file that is not media raises RenditionError."""
    junk = tmp_path / "junk.webm"
    junk.write_bytes(b"\x1a\x45\xdf\xa3" + b"junk" * 100)
    with pytest.raises(RenditionError):
        render_mp4([junk], tmp_path / "out.mp4")


def test_clip_is_cut_at_the_nearest_keyframes(tmp_path: Path, parts: list[Path]) -> None:
    """A clip of 1.4–3.6 s starts at the nearest keyframe (± 0.6 s) and lasts the span ± 1 s."""
    source = tmp_path / "replay.mp4"
    render_mp4(parts, source)
    start, length = cut_clip(source, tmp_path / "clip.mp4", 1.4, 3.6)
    assert start == pytest.approx(1.4, abs=0.6) and length == pytest.approx(2.2, abs=1.0)
    boxes = top_level_boxes(tmp_path / "clip.mp4")
    assert boxes.index("moov") < boxes.index("mdat")
    with av.open(str(tmp_path / "clip.mp4")) as container:
        assert {s.codec_context.name for s in container.streams} == {"h264", "aac"}
        assert container.duration / av.time_base == pytest.approx(length, abs=0.2)
        first = next(container.demux(video=0))
        assert first.is_keyframe


def test_render_in_a_child_process_reports_progress_and_stops_when_cancelled(
    tmp_path: Path, parts: list[Path]
) -> None:
    """The child-process render gives the same parts; cancelled, it stops and leaves no file."""
    seen: list[float] = []
    placed = render_in_subprocess(parts, tmp_path / "ok.mp4", seen.append)
    assert [p.start for p in placed] == [0.0, pytest.approx(3.0, abs=0.2)]
    assert seen[-1] == 1.0
    with av.open(str(tmp_path / "ok.mp4")) as container:
        assert container.duration / av.time_base == pytest.approx(5.0, abs=0.3)

    def cancel(_fraction: float) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        render_in_subprocess(parts, tmp_path / "cancelled.mp4", cancel)
    assert list(tmp_path.glob("cancelled*")) == []
