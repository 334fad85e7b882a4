"""``bench.media``'s ``sfu-simulcast`` mode in a short run (``python -m bench.media --modes
sfu,sfu-simulcast`` is the full one): its pre-encoded layers and what the server makes of them."""

from __future__ import annotations

import multiprocessing as mp
import tempfile

import pytest
from bench import media
from bench.media import LOOP_FRAMES, encode_layers, kbps

from liveshop.media.packetize import vp8_payloads
from liveshop.media.rtputil import VP8, keyframe_start
from liveshop.media.synthetic_simulcast import default_layers

pytestmark = pytest.mark.slow


def keyframes(loop: list[bytes]) -> list[int]:
    return [i for i, frame in enumerate(loop) if keyframe_start(VP8, vp8_payloads(frame, 0)[0])]


def test_simulcast_layers_are_loops_at_their_bitrates_with_keyframes_together() -> None:
    """Each pre-encoded layer is one loop near its default_layers bitrate, keyframes every second
    at the same frames in every layer (a viewer can switch at any of them)."""
    layers = encode_layers()
    assert list(layers) == [x.rid for x in default_layers()]
    for layer in default_layers():
        loop = layers[layer.rid]
        assert len(loop) == LOOP_FRAMES
        assert 0.8 < kbps(loop) * 1000 / layer.bitrate < 1.25, (layer.rid, kbps(loop))
    assert keyframes(layers["f"]) == [0, 30, 60, 90, 120]
    assert keyframes(layers["h"]) == keyframes(layers["f"]) == keyframes(layers["q"])


def test_simulcast_mode_receives_three_layers_and_forwards_the_top_one() -> None:
    """In sfu-simulcast the server receives the f/h/q layers (by RID) and the unlimited
    loopback viewers are forwarded the top one, at its rate."""
    layers = encode_layers()
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        ctx = mp.get_context("spawn")
        result = media.run_config(ctx, media.SIMULCAST, 2, 1.0, layers, tmp)
    assert result["connected"] == 2
    assert {rid: height for rid, (height, _) in result["in_layers"].items()} == {
        "q": 90,
        "h": 180,
        "f": 360,
    }
    # the two counting viewers (and, on a quiet machine, the sample viewer) are on f
    assert result["layers"].get("f", 0) >= 2, result["layers"]
    assert sum(result["layers"].values()) == 3
    assert result["out_kbps"] > 600, result  # f's 900 kb/s, not h's 250
    assert result["loss_pct"] < 5
    assert result["in_loss_pct"] is not None and result["fwd_pps"] > 50  # the server's counts
