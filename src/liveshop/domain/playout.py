"""How much playout delay to ask of a viewer's player, from its path.

Pure: the caller passes what it measured. A frame with a lost packet is complete only when the
retransmission arrives, about a round trip later; a player whose jitter buffer holds less than
that stalls its picture for each such frame (a freeze, on a long lossy path many of them).
Browsers size their buffer from the jitter they see, and a receive-only browser does not know
the round trip, so the sender tells it (WebRTC's playout-delay header extension) to wait at
least a round trip and a margin while packets are being repaired; where repairs are common
enough that some of them are lost too (3 % loss: one lost repair every ~10 s at 100 packets/s,
each a freeze of a round trip), up to two round trips and the margin: the second round trip
grows with the share repaired (full from 2 %), so a share that wanders asks for small changes,
not a jump between one round trip and two.
"""

from __future__ import annotations

import math

MIN_RTT_S = 0.08  # shorter round trips: a repair arrives within the usual buffer
MIN_REPAIRED = 0.005  # share of packets asked for again under which repairs are rare
MARGIN_MS = 100  # beyond the round trips: noticing the gap (up to a frame interval, 33 ms),
# the path's jitter both ways (±30 ms on a 150 ms path) and the server's turn
SECOND_ROUND = 0.02  # from this share of packets repaired, a lost repair's whole second round
MOST_MS = 600  # never ask for more: sub-second latency matters more than the last freezes
STEP_MS = 30  # smaller changes are not worth a new request


def min_playout_delay_ms(rtt_s: float | None, repaired_share: float | None) -> int:
    """The least playout delay (ms, a multiple of 10; 0: none) a viewer's player should keep,
    for a path of round trip ``rtt_s`` where ``repaired_share`` of the packets were asked for
    again (NACK): one round trip and :data:`MARGIN_MS`, and a share of a second round trip
    growing with ``repaired_share`` (all of it from :data:`SECOND_ROUND`).
    Guarantees: 0 when either is unknown, the round trip is under :data:`MIN_RTT_S` or repairs
    are rarer than :data:`MIN_REPAIRED`; never over :data:`MOST_MS`."""
    if rtt_s is None or repaired_share is None:
        return 0
    if rtt_s < MIN_RTT_S or repaired_share < MIN_REPAIRED:
        return 0
    rounds = 1 + min(1.0, repaired_share / SECOND_ROUND)
    return min(MOST_MS, math.ceil((rounds * rtt_s * 1000 + MARGIN_MS) / 10) * 10)


def worth_asking(current_ms: int, wanted_ms: int) -> bool:
    """True when ``wanted_ms`` differs enough from what was last asked for to ask again."""
    return abs(wanted_ms - current_ms) >= STEP_MS or (wanted_ms == 0) != (current_ms == 0)
