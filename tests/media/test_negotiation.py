"""Simulcast in SDP: the RIDs a publisher's offer sends and the answer that receives them."""

from __future__ import annotations

import pytest

from liveshop.media.base import MediaError
from liveshop.media.negotiation import answer_simulcast, simulcast_rids

OFFER = "\r\n".join(
    [
        "v=0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=mid:0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=mid:1",
        "a=rid:f send",
        "a=rid:h send",
        "a=rid:q send",
        "{simulcast}",
        "",
    ]
)


def test_rids_in_offer_order() -> None:
    """The simulcast line's RIDs come back in its order."""
    assert simulcast_rids(OFFER.format(simulcast="a=simulcast:send f;h;q")) == ["f", "h", "q"]


def test_no_simulcast_line_is_single_layer() -> None:
    """An offer without a=simulcast is a one-layer publisher."""
    assert simulcast_rids(OFFER.format(simulcast="a=sendonly")) == []


def test_alternatives_and_paused_layers() -> None:
    """The first alternative of a layer is taken; paused (~) RIDs are skipped."""
    offer = OFFER.format(simulcast="a=simulcast:send f,h;~q")
    assert simulcast_rids(offer) == ["f"]


@pytest.mark.parametrize(
    "line", ["a=simulcast:send f;x", "a=simulcast:send f;f", "a=simulcast:recv f;h", "a=simulcast:"]
)
def test_bad_simulcast_lines_are_400(line: str) -> None:
    """Undeclared or repeated RIDs and a wrong direction are refused with 400."""
    with pytest.raises(MediaError) as caught:
        simulcast_rids(OFFER.format(simulcast=line))
    assert caught.value.status == 400


def test_answer_receives_the_rids_in_the_video_section_only() -> None:
    """The answer's video section (not the audio one) gets a=rid recv lines and a=simulcast."""
    answer = "v=0\r\nm=audio 9 X 111\r\na=mid:0\r\nm=video 9 X 96\r\na=mid:1\r\n"
    out = answer_simulcast(answer, ["f", "h"])
    audio, video = out.split("m=video")
    assert "a=rid" not in audio
    assert video.endswith("a=mid:1\r\na=rid:f recv\r\na=rid:h recv\r\na=simulcast:recv f;h\r\n")
    assert answer_simulcast(answer, []) == answer
