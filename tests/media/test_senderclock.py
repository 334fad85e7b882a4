"""A publisher's capture clock from its sender reports: the NTP time of any RTP timestamp."""

from __future__ import annotations

from liveshop.media.senderclock import NTP_ONE_SECOND, SenderClock

NTP = 3_900_000_000 * NTP_ONE_SECOND  # a sender report's NTP time (2023)


def test_nothing_is_known_before_a_report() -> None:
    """Without a sender report no timestamp has a capture time."""
    assert SenderClock(90000).ntp_at(1234) is None


def test_a_later_timestamp_maps_to_its_capture_time() -> None:
    """A timestamp one second of 90 kHz ticks after the report's maps one second later."""
    clock = SenderClock(90000)
    clock.report(NTP, 1_000)
    assert clock.ntp_at(91_000) == NTP + NTP_ONE_SECOND
    assert clock.ntp_at(1_000 - 45_000) == NTP - NTP_ONE_SECOND // 2


def test_timestamps_map_across_the_32_bit_wrap() -> None:
    """A timestamp that wrapped past 2**32 since the report still maps after it."""
    clock = SenderClock(48000)
    clock.report(NTP, 0xFFFFFFFF - 47_999)
    assert clock.ntp_at(0) == NTP + NTP_ONE_SECOND


def test_a_report_without_a_clock_is_ignored() -> None:
    """A sender report with NTP time zero (the sender has no clock yet) changes nothing."""
    clock = SenderClock(90000)
    clock.report(NTP, 0)
    clock.report(0, 90_000)
    assert clock.ntp_at(90_000) == NTP + NTP_ONE_SECOND
