"""When a publisher captured an RTP timestamp, on its own wall clock, from its sender reports.

An RTCP sender report (SR) pairs an NTP time with the RTP timestamp of media captured at that
moment. Receivers line audio up with video through these pairs (lip sync): a browser delays
whichever stream looks ahead. A forwarder that describes the streams it sends with its own
clock at forwarding time (rather than the capture time) makes each stream look as late as the
publisher's encoder and pacer made it, so the browser delays the other one by the difference:
video (encoded, then paced out) would hold audio back, or be held back, by tens to hundreds of
milliseconds for nothing. A forwarder therefore passes the publisher's mapping on (translated to
the timestamps it rewrites): :class:`SenderClock` keeps it for one incoming RTP stream.
"""

from __future__ import annotations

NTP_ONE_SECOND = 1 << 32  # NTP timestamps count 2**-32 s
_HALF = 1 << 31


class SenderClock:
    """The last sender report of one RTP stream (clock rate ``clock_rate`` Hz)."""

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self.ntp: int | None = None  # the report's NTP time (64-bit) ...
        self.rtp = 0  # ... and the RTP timestamp captured then

    def report(self, ntp: int, rtp: int) -> None:
        """Take a sender report's pair; a zero NTP time (a sender that does not know its
        clock yet) is ignored."""
        if ntp:
            self.ntp, self.rtp = ntp, rtp & 0xFFFFFFFF

    def ntp_at(self, ts: int) -> int | None:
        """The NTP time (64-bit) at which the media of RTP timestamp ``ts`` was captured,
        or None before the first report. Guarantees: timestamps up to 2**31 ticks either
        side of the report's (over 6 hours at 90 kHz) map correctly across the 32-bit
        wrap, and a later timestamp never maps to an earlier time."""
        if self.ntp is None:
            return None
        delta = ((ts - self.rtp + _HALF) & 0xFFFFFFFF) - _HALF
        return max(0, self.ntp + delta * NTP_ONE_SECOND // self.clock_rate)
