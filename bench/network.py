"""Viewers on impaired links: ``python -m bench.network [--seconds 20] [--links ...]``.

One publisher (``liveshop.media.synthetic_simulcast``: aiortc signalling, three VP8 layers
encoded with libvpx, or with ``--codec h264`` three H.264 layers (libx264, Constrained
Baseline, packetization mode 1), as a studio set to ``LIVESHOP_VIDEO_CODEC=h264`` sends: f 640×360 900 kb/s, h 320×180 250 kb/s, q 160×90 80 kb/s, 15 fps by
default (``--fps``), plus Opus at 32 kb/s, with RTCP sender reports as a browser sends them), in a
process of its own (``bench._network_publisher``, as a seller's browser is on a machine of its
own), sends to an in-process ``sfu`` backend; one viewer
per link, in its own network namespace joined to this one by a veth pair: Debian's Chromium
(``bench.chromium_viewer``, the default: a browser's jitter buffer and its own statistics) or,
with ``--viewer aiortc``, an aiortc process (``liveshop.media.probe_viewer``, which shows each
frame as soon as it is decoded, with no playout delay). Links: rate {unlimited, 2.5 Mb/s,
800 kb/s, 400 kb/s} (``tc tbf`` on the server side of the veth; the publisher's top layer is
900 kb/s, so 2.5 Mb/s is there for the issue's matrix and behaves as unlimited) × {clean, 3 % loss} (nftables in the
viewer's namespace) × {no added delay, 150 ms RTT ± 30 ms jitter}, and a step (unlimited →
400 kb/s for ``--step-seconds`` → unlimited). netem is not available here: the delay is
``liveshop.media.delaylink``, a userspace bridge process in a namespace between the server's
and the viewer's (75 ms ± 15 ms each way, uniform per packet, order kept, so packets of a burst
bunch towards the top of the range; after the rate limit, like a path's propagation delay).
``--links`` picks the rows (default: those without delay; ``all``: every row); ``--step-seconds 0``
leaves the step out; ``--no-audio`` gives the Chromium viewers video only, so no lip sync holds
the picture back to the browser's audio jitter buffer (glass-to-glass is then the video path's
own: the fair way to compare the two modes' latency). The same run
measures the reference: today's single-layer forwarding (the same publisher offering only its f
layer, no simulcast).

Per viewer, over the measurement window: fps, the most common width, freeze ratio (share of the
window inside freezes; a freeze is a gap between presented frames longer than
max(3 × mean interval, mean + 150 ms), as WebRTC's freezeCount; with Chromium also the
browser's own ``totalFreezesDuration``), time to first frame, glass-to-glass latency p50/p95
(Chromium: from the encoding of the frame whose index it shows to its presentation), the mean
jitter buffer delay, its target (``tgt``), the part of that the network's jitter alone needed
(``min``) and the audio's jitter buffer delay (``aud``: lip sync holds the picture back to it,
so a target far over ``min`` and near ``aud`` is the audio's doing); for the step, the time
from the limit to the server's switch down and
to the first lower-layer frame shown, and from lifting it to the first 640-wide frame; the
median RTT the server measured for the viewer (its sender's RTCP). Below the table, what each
delay bridge did (delay per direction as it happened, lateness, drops).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._network_publisher import PublisherProcess
from bench.chromium_viewer import ChromiumViewer, available
from liveshop.media import aiortc_internals as internals
from liveshop.media import create_media_backend
from liveshop.media.base import MediaEvent
from liveshop.media.delaylink import Delay
from liveshop.media.netns import Namespace, problem
from liveshop.media.probe_viewer import ProbeViewer
from liveshop.media.sfu import SfuMediaBackend

WARMUP_S = 8.0
PUBLISHER_FPS = [15]  # the publisher's frame rate (--fps): a stream decoding far less than this
# is judged against it (a viewer that decodes 4 frames in 40 s is frozen, not smooth)
TOP_WIDTH = 640
DELAY = Delay(ms=75, jitter_ms=15)  # each way: 150 ms ± 30 ms round trip


@dataclass
class Link:
    name: str
    rate: str | None  # tbf rate, None: unlimited
    loss: int  # percent
    delayed: bool = False  # DELAY on the link
    step: bool = False
    ns: Namespace | None = None
    viewer: ProbeViewer | ChromiumViewer | None = None
    result: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # server's view
    bridge: dict[str, Any] | None = None  # the delay bridge's summary


LINKS = [  # name, tbf rate, loss %, 150 ms RTT ± 30 ms
    ("unlimited", None, 0, False),
    ("2.5M", "2500kbit", 0, False),
    ("800k", "800kbit", 0, False),
    ("400k", "400kbit", 0, False),
    ("unlimited 3%", None, 3, False),
    ("800k 3%", "800kbit", 3, False),
    ("400k 3%", "400kbit", 3, False),
    ("150ms", None, 0, True),
    ("2.5M 3% 150ms", "2500kbit", 3, True),
    ("800k 150ms", "800kbit", 0, True),
    ("400k 150ms", "400kbit", 0, True),
    ("3% 150ms", None, 3, True),
    ("800k 3% 150ms", "800kbit", 3, True),
    ("400k 3% 150ms", "400kbit", 3, True),
]
DEFAULT_LINKS = [name for name, _, _, delayed in LINKS if not delayed]


def run(*argv: str, check: bool = True) -> None:
    subprocess.run(list(argv), check=check, capture_output=True, timeout=10)


def limit(link: Link, rate: str | None) -> None:
    assert link.ns is not None
    dev = link.ns.near_dev
    run("tc", "qdisc", "del", "dev", dev, "root", check=False)
    if rate:
        run("tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate, "burst", "20kb",
            "latency", "300ms")  # fmt: skip


def lose(link: Link) -> None:
    assert link.ns is not None
    inside = ("ip", "netns", "exec", link.ns.name, "nft")
    run(*inside, "add", "table", "inet", "bench")
    run(*inside, "add", "chain", "inet", "bench", "c",
        "{ type filter hook input priority 0 ; }")  # fmt: skip
    run(*inside, "add", "rule", "inet", "bench", "c", "meta", "l4proto", "udp", "numgen",
        "random", "mod", "100", "lt", str(link.loss), "drop")  # fmt: skip


def freeze_ratio(times: list[float], start: float, end: float) -> float:
    """Share of [start, end] inside freezes (see the module doc); 1.0 with under two frames."""
    frames = [t for t in times if start <= t <= end]
    if len(frames) < 2:
        return 1.0
    gaps = [b - a for a, b in itertools.pairwise(frames)]
    gaps.append(end - frames[-1])
    gaps.insert(0, frames[0] - start)
    mean = min((frames[-1] - frames[0]) / (len(frames) - 1), 1 / PUBLISHER_FPS[0])
    threshold = max(3 * mean, mean + 0.150)
    return sum(g for g in gaps if g > threshold) / (end - start)


def freezes(times: list[float], start: float, end: float) -> list[tuple[float, float]]:
    """The freezes inside [start, end] as (offset from start, length) pairs."""
    frames = [t for t in times if start <= t <= end]
    if len(frames) < 2:
        return [(0.0, end - start)]
    mean = min((frames[-1] - frames[0]) / (len(frames) - 1), 1 / PUBLISHER_FPS[0])
    threshold = max(3 * mean, mean + 0.150)
    edges = [start, *frames, end]
    return [(a - start, b - a) for a, b in itertools.pairwise(edges) if b - a > threshold]


def timeline(link: Link, start: float, end: float) -> str:
    """What one viewer got, second by second: width decoded, and the server's layer, budget
    (kb/s), reported loss and RTT (ms), glass-to-glass median (ms; Chromium); then its
    freezes."""
    assert link.viewer is not None
    lines = [f"{link.name}:"]
    for second in range(int(end - start)):
        a, b = start + second, start + second + 1
        widths = [r["width"] for r in link.viewer.reports if a <= r["t"] < b and r["frames"]]
        seen = [v for t, v in link.links if a <= t < b]
        view = seen[-1] if seen else {}
        late = sorted(x for t, x in getattr(link.viewer, "latencies", []) if a <= t < b)
        g2g = f"{1000 * late[len(late) // 2]:.0f}" if late else "-"
        browser = (
            link.viewer.stats_between(a, b) if isinstance(link.viewer, ChromiumViewer) else None
        )
        jb = f" tgt {browser['targetMs']:4.0f} aud {browser['audioMs']:4.0f}" if browser else ""
        lines.append(
            f"  {second:>3}s width {widths[-1] if widths else 0:>4}  layer {view.get('layer')!s:<4}"
            f" budget {view.get('bandwidthKbps')!s:>7}  remb {view.get('rembKbps')!s:>7}"
            f"  loss {view.get('loss')!s:>5}  rtt {view.get('rttMs')!s:>6}"
            f"  switches {view.get('switches')}  g2g {g2g:>5}{jb}"
        )
    times = [t for r in link.viewer.reports for t in r.get("times", [])]
    gaps = ", ".join(f"{at:.1f}s+{length:.2f}" for at, length in freezes(times, start, end))
    lines.append(f"  freezes: {gaps or 'none'}")
    return "\n".join(lines)


def measure(link: Link, start: float, end: float) -> dict[str, Any]:
    assert link.viewer is not None
    reports = link.viewer.reports
    times = [t for r in reports for t in r.get("times", [])]
    window = [t for t in times if start <= t <= end]
    widths = collections.Counter(
        r["width"] for r in reports if start <= r["t"] <= end and r["frames"]
    )
    first = times[0] - link.viewer.started if times else None
    rtts = [v["rttMs"] for t, v in link.links if start <= t <= end and v.get("rttMs") is not None]
    result = {
        "fps": len(window) / (end - start),
        "width": widths.most_common(1)[0][0] if widths else 0,
        "freeze": freeze_ratio(times, start, end),
        "ttff": first,
        "rtt": statistics.median(rtts) if rtts else None,
    }
    if isinstance(link.viewer, ChromiumViewer):
        browser = link.viewer.stats_between(start, end)
        if browser is not None:
            result["webrtc_freeze"] = browser["totalFreezesDuration"] / (end - start)
            result["jitter_ms"] = browser["jitterBufferMs"]
            result["target_ms"] = browser["targetMs"]
            result["minimum_ms"] = browser["minimumMs"]
            result["audio_ms"] = browser["audioMs"]
        late = sorted(s for t, s in link.viewer.latencies if start <= t <= end)
        if late:
            result["g2g_p50"] = 1000 * late[len(late) // 2]
            result["g2g_p95"] = 1000 * late[min(len(late) - 1, int(0.95 * len(late)))]
    return result


def first_report(link: Link, after: float, wanted: Any) -> float | None:
    assert link.viewer is not None
    for report in link.viewer.reports:
        if report["t"] >= after and report["frames"] and wanted(report["width"]):
            return float(report["t"]) - after
    return None


def first_switch(link: Link, after: float) -> float | None:
    """Seconds from ``after`` to the first sample of the server's view with the viewer off the
    top layer (a lower layer, or video paused): when the server switched, before the viewer
    has the new layer's keyframe and its jitter buffer lets the first frame out."""
    for t, view in link.links:
        if t >= after and (view.get("paused") or view.get("layer") not in (None, "f")):
            return t - after
    return None


async def run_mode(
    simulcast: bool,
    seconds: float,
    step_s: float,
    names: list[str],
    show_timeline: bool = False,
    playwright: Any = None,
    audio: bool = True,
    codec: str = "VP8",
) -> list[Link]:
    """One publisher, one viewer per link (Chromium ones with ``playwright``; video only
    without ``audio``); returns the links with their results."""
    links = [Link(*row) for row in LINKS if row[0] in names]
    if step_s > 0:
        links.append(Link("step 400k", None, 0, step=True))
    connected = asyncio.Event()

    async def on_event(event: MediaEvent) -> None:
        if event.kind == "publisher_connected":
            connected.set()

    with tempfile.TemporaryDirectory() as media_dir:
        namespaces = [Namespace(DELAY if link.delayed else None) for link in links]
        try:
            for link, ns in zip(links, namespaces, strict=True):
                link.ns = ns.create()
            internals.restrict_host_addresses([ns.near for ns in namespaces])
            backend = create_media_backend(
                "sfu", media_dir=Path(media_dir), ice_servers=[], public_ip="", on_event=on_event,
            )  # fmt: skip
            await backend.start()
            publisher = PublisherProcess(
                simulcast, PUBLISHER_FPS[0], [namespaces[0].near], codec=codec
            )
            await publisher.start(backend)
            await asyncio.wait_for(connected.wait(), 30)
            for link in links:
                if link.rate:
                    limit(link, link.rate)
                if link.loss:
                    lose(link)
                assert link.ns is not None
                if playwright is not None:
                    link.viewer = ChromiumViewer(
                        link.ns, playwright, publisher.sent_at, audio=audio
                    )
                else:
                    link.viewer = ProbeViewer(link.ns)
                await link.viewer.start(backend)

            async def sample() -> None:
                """Each viewer's link as the stats route shows it, found by its session (the
                route's list shifts when a viewer leaves)."""
                assert isinstance(backend, SfuMediaBackend)
                while True:
                    await asyncio.sleep(0.5)
                    room = backend.rooms.get(1)
                    now = time.monotonic()
                    for link in links:
                        assert link.viewer is not None
                        viewer = room.viewers.get(link.viewer.session_id) if room else None
                        sink = viewer.sinks.get("video") if viewer else None
                        link.links.append((now, sink.describe() if sink else {}))

            sampler = asyncio.ensure_future(sample())
            await asyncio.sleep(WARMUP_S)  # benchmark timeline, not test synchronisation
            start = time.monotonic()
            step = next((link for link in links if link.step), None)
            await asyncio.sleep(3)
            if step is not None:
                limit(step, "400kbit")
            limited = time.monotonic()
            await asyncio.sleep(step_s)
            if step is not None:
                limit(step, None)
            lifted = time.monotonic()
            await asyncio.sleep(max(0.0, seconds - (lifted - start)) + 15)
            end = time.monotonic()
            sampler.cancel()
            if show_timeline:
                print("simulcast:" if simulcast else "single:", flush=True)
                for link in links:
                    print(timeline(link, start - WARMUP_S, end), flush=True)  # from the join
            for link in links:
                link.result = measure(link, start, end) if not link.step else {}
            if step is not None:
                step.result = measure(step, start, end)
                step.result["down"] = first_report(step, limited, lambda w: 0 < w < TOP_WIDTH)
                step.result["switch"] = first_switch(step, limited)
                step.result["up"] = first_report(step, lifted, lambda w: w == TOP_WIDTH)
            for link in links:
                if link.viewer is not None:
                    await link.viewer.close()
            await publisher.close()
            await backend.close()
        finally:
            internals.restrict_host_addresses([])
            for link, ns in zip(links, namespaces, strict=True):
                ns.delete()
                link.bridge = ns.delay_summary
    return links


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def bridge_lines(link: Link, mode: str) -> list[str]:
    """What ``link``'s delay bridge did, one line per direction (none without a bridge)."""
    if not link.bridge or link.ns is None:
        return []
    lines = []
    a, b = link.ns.bridge_devs
    for name, key in (("to viewer", f"{a}>{b}"), ("to server", f"{b}>{a}")):
        d = link.bridge[key]
        held, late = d["held_ms"], d["late_ms"]
        lines.append(
            f"  {link.name:<14} {mode:<10} {name:<10} {d['frames']:>7} "
            f"{fmt(held.get('p5'), '5.1f')} {fmt(held.get('p50'), '5.1f')} "
            f"{fmt(held.get('p95'), '5.1f')} {fmt(held.get('max'), '6.1f')} "
            f"{fmt(late.get('p99'), '5.1f')} {fmt(late.get('max'), '6.1f')} "
            f"{d['dropped'] + (d['kernel_drops'] or 0):>5}"
        )
    return lines


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=15.0,
        help="400 kb/s step length (0: no step viewer; with --links unlimited, the clean-link "
        "latency comparison with nothing else decoding, as the reference's frozen viewers "
        "on narrow links leave its run more CPU than simulcast's)",
    )
    parser.add_argument(
        "--links",
        default=",".join(DEFAULT_LINKS),
        help="which links beside the step, comma-separated, or 'all' (each is one decoding "
        "viewer process: on a small machine run a few at a time); rows: "
        + ", ".join(name for name, *_ in LINKS).replace("%", "%%"),  # argparse formats help
    )
    parser.add_argument("--fps", type=int, default=15, help="the publisher's frame rate")
    parser.add_argument(
        "--no-audio",
        action="store_true",
        help="Chromium viewers take video only: glass-to-glass is then the video path's own. "
        "With audio the browser holds the picture back to its audio jitter buffer (lip sync), "
        "which on this machine wanders between ~20 and ~250 ms from one browser to the next "
        "whatever the video went through",
    )
    parser.add_argument(
        "--codec",
        choices=("vp8", "h264"),
        default="vp8",
        help="the publisher's video codec (both modes): VP8 (libvpx) or H.264 (libx264)",
    )
    parser.add_argument(
        "--timeline", action="store_true", help="print each viewer's seconds and freezes"
    )
    parser.add_argument(
        "--viewer",
        choices=("chromium", "aiortc"),
        default="chromium",
        help="what watches: Debian's Chromium (a browser's jitter buffer and its own freeze "
        "statistics; glass-to-glass latency) or an aiortc process (decodes on arrival, no "
        "playout delay)",
    )
    args = parser.parse_args(argv)
    PUBLISHER_FPS[0] = args.fps
    if args.viewer == "chromium" and (why := available()):
        print(f"Chromium viewers cannot run: {why} (or pass --viewer aiortc)", file=sys.stderr)
        return 2
    reason = problem()
    if reason:
        print(f"bench.network needs network namespaces: {reason}", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.links.split(",") if n.strip()]
    if names == ["all"]:
        names = [name for name, *_ in LINKS]
    unknown = set(names) - {name for name, *_ in LINKS}
    if unknown:
        print(f"unknown links: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    print("links: rate by tc tbf, loss by nftables, delay (150 ms RTT ± 30 ms, order kept) by a "
          "userspace bridge (liveshop.media.delaylink; netem is not available here).",
          flush=True)  # fmt: skip
    results: dict[str, list[Link]] = {}
    async with contextlib.AsyncExitStack() as stack:
        playwright = None
        if args.viewer == "chromium":
            from playwright.async_api import async_playwright

            playwright = await stack.enter_async_context(async_playwright())
        for mode in ("single", "simulcast"):
            print(f"running {mode} ({args.viewer} viewers) ...", flush=True)
            results[mode] = await run_mode(
                mode == "simulcast", args.seconds, args.step_seconds, names, args.timeline,
                playwright, audio=not args.no_audio, codec=args.codec.upper(),
            )  # fmt: skip
    print()
    print(f"viewers: {args.viewer}; publisher {args.codec.upper()} {args.fps} fps. freeze %: gaps between presented "
          "frames (see above); webrtc %: the browser's own totalFreezesDuration; switch: s from "
          "the limit to the server's switch down; down: ... to the first lower-layer frame the "
          "viewer shows; g2g: glass-to-glass ms (encode start to presentation); jb: mean jitter "
          "buffer delay ms")  # fmt: skip
    print(f"{'link':<14} {'mode':<10} {'fps':>5} {'width':>6} {'freeze %':>9} {'webrtc %':>9} "
          f"{'ttff s':>7} {'switch':>6} {'down s':>7} {'up s':>6} {'rtt ms':>7} {'g2g p50':>8} "
          f"{'g2g p95':>8} {'jb ms':>6} {'tgt ms':>6} {'min ms':>6} {'aud ms':>6}")  # fmt: skip
    print("-" * 141)
    for i, link in enumerate(results["single"]):
        for mode in ("single", "simulcast"):
            r = results[mode][i].result
            webrtc = r.get("webrtc_freeze")
            print(
                f"{link.name:<14} {mode:<10} {fmt(r.get('fps'), '5.1f')} {r.get('width', 0):>6} "
                f"{fmt(100 * r['freeze'] if 'freeze' in r else None, '9.1f')} "
                f"{fmt(100 * webrtc if webrtc is not None else None, '9.1f')} "
                f"{fmt(r.get('ttff'), '7.1f')} {fmt(r.get('switch'), '6.1f')}"
                f" {fmt(r.get('down'), '7.1f')} {fmt(r.get('up'), '6.1f')}"
                f" {fmt(r.get('rtt'), '7.0f')} {fmt(r.get('g2g_p50'), '8.0f')}"
                f" {fmt(r.get('g2g_p95'), '8.0f')} {fmt(r.get('jitter_ms'), '6.0f')}"
                f" {fmt(r.get('target_ms'), '6.0f')} {fmt(r.get('minimum_ms'), '6.0f')}"
                f" {fmt(r.get('audio_ms'), '6.0f')}"
            )
    print()
    print("ratios simulcast / single (fps; freeze ratio; glass-to-glass p95):")
    for i, link in enumerate(results["single"]):
        single, multi = results["single"][i].result, results["simulcast"][i].result
        fps = multi["fps"] / single["fps"] if single.get("fps") else None
        frz = (multi["freeze"] + 1e-3) / (single["freeze"] + 1e-3)
        g2g = (
            multi["g2g_p95"] / single["g2g_p95"]
            if multi.get("g2g_p95") and single.get("g2g_p95")
            else None
        )
        print(
            f"  {link.name:<14} fps {fmt(fps, '.2f')}  freeze {frz:.2f}  g2g p95 {fmt(g2g, '.2f')}"
        )
    bridges = [
        line
        for i in range(len(results["single"]))
        for mode in ("single", "simulcast")
        for line in bridge_lines(results[mode][i], mode)
    ]
    if bridges:
        print()
        print(f"delay bridges, one way, ms ({DELAY.ms:g} ± {DELAY.jitter_ms:g} drawn per packet):")
        print(f"  {'link':<14} {'mode':<10} {'direction':<10} {'frames':>7} {'p5':>5} {'p50':>5} "
              f"{'p95':>5} {'max':>6} {'late99':>5} {'latemax':>6} {'drops':>5}")  # fmt: skip
        print("\n".join(bridges))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
