"""``bench.media``'s report: the table of every run and the ratios of CPU per viewer between
modes (``sfu-simulcast`` / ``sfu`` per N, from the runs in which the server was not starved)."""

from __future__ import annotations

import statistics
from typing import Any

SIMULCAST = "sfu-simulcast"
LOSSY_PCT = 1.0  # more loss on the way in than this: the server was starved of CPU


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def starved(result: dict[str, Any]) -> bool | None:
    """True when the server lost packets on the way in: it had no CPU time for them (the machine
    was overloaded) and did less work than the run asked for (None: not known, not the SFU).
    Loss at the viewers alone is their worker processes' and does not change the server's work."""
    in_loss = result.get("in_loss_pct")
    return None if in_loss is None else in_loss > LOSSY_PCT


def simulcast_ratios(results: list[dict[str, Any]]) -> None:
    """Per N: CPU per viewer sfu-simulcast / sfu, from the medians of each side's runs in which
    the server was not starved (:func:`starved`); also per packet forwarded, and the layer the
    viewers were on."""
    ns = sorted({r["viewers"] for r in results if r["mode"] == SIMULCAST})
    ns = [n for n in ns if any(r["mode"] == "sfu" and r["viewers"] == n for r in results)]
    if ns:
        print("\nCPU per viewer, sfu-simulcast / sfu (same run):")
    for n in ns:
        sides = []
        for mode in ("sfu", SIMULCAST):
            runs = [r for r in results if r["mode"] == mode and r["viewers"] == n]
            clean = [r for r in runs if starved(r) is False]
            sides.append((clean or runs, f"{len(clean)}/{len(runs)}"))
        (one, one_clean), (three, three_clean) = sides
        cpu = [statistics.median(r["cpu_per_viewer_pct"] for r in rs) for rs in (one, three)]
        per_packet = [
            statistics.median(
                r["cpu_per_viewer_pct"] / max(r["fwd_pps"] or r["pps"], 1e-9) for r in rs
            )
            for rs in (one, three)
        ]
        note = f"runs without loss on the way in: sfu {one_clean}, sfu-simulcast {three_clean}"
        if one_clean.startswith("0/") or three_clean.startswith("0/"):
            note += " [the server was starved of CPU: not comparable]"
        layers = [r["layers"] for r in results if r["mode"] == SIMULCAST and r["viewers"] == n]
        print(
            f"  N={n:3}: {cpu[1] / cpu[0]:.2f}x ({cpu[1]:.2f}% vs {cpu[0]:.2f}% of a core); "
            f"per packet forwarded {per_packet[1] / per_packet[0]:.2f}x; viewers per layer "
            f"{', '.join(map(str, layers))}; {note}"
        )


def report(results: list[dict[str, Any]]) -> None:
    """The table, and the ratios of CPU per viewer between modes."""
    header = (
        f"{'backend':13} {'N':>4} {'conn':>4} {'srv cores':>9} {'cpu/viewer':>10} "
        f"{'viewers/core':>12} {'loss %':>7} {'lat p50':>8} {'lat p95':>8} {'in kb/s':>8} "
        f"{'out kb/s':>8} {'pkt/s':>6} {'in loss':>7} {'fwd/s':>6}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['mode']:13} {r['viewers']:>4} {r['connected']:>4} {r['cores']:>9.3f} "
            f"{r['cpu_per_viewer_pct']:>9.2f}% {r['viewers_per_core']:>12.0f} "
            f"{r['loss_pct']:>7.2f} {fmt(r['lat_p50'], '>6.0f')}ms {fmt(r['lat_p95'], '>6.0f')}ms "
            f"{fmt(r['kbps'], '>8.0f')} {r['out_kbps']:>8.0f} {r['pps']:>6.0f} "
            f"{fmt(r['in_loss_pct'], '>6.2f')}% {fmt(r['fwd_pps'], '>6.0f')}"
        )
    print(
        "(out kb/s, pkt/s: what each viewer received, video; video + audio. in loss: the\n"
        " server's incoming loss (over 1 %: it was starved of CPU, the run is not comparable);\n"
        " fwd/s: packets the server forwarded per second per viewer served)"
    )
    simulcast_ratios(results)
    sfu = [r for r in results if r["mode"] == "sfu"]
    if not sfu:
        return
    best_sfu = min(r["cpu_per_viewer_pct"] for r in sfu)
    for mode, name, spec in (("janus", "janus", ".2f"), ("janus2", "janus2", ".2f"),
                             ("relay", "MediaRelay", ".0f")):  # fmt: skip
        same = [r for r in results if r["mode"] == mode]
        if same:
            best = min(r["cpu_per_viewer_pct"] for r in same)
            print(
                f"\nCPU per viewer, {name} / SFU: {best / best_sfu:{spec}}x "
                f"({best:.2f}% vs {best_sfu:.2f}% of a core)"
            )
