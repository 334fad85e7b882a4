"""Every piece of aiortc private API the forwarder relies on, in one place.

aiortc is an endpoint library: its receiver decodes and its sender encodes. The SFU needs the
RTP packets themselves, so it reaches into aiortc at a handful of points, all listed here and
checked by :func:`check_internals` (run by the test-suite and at backend start-up). aiortc is
pinned to exactly :data:`AIORTC_VERSION`; upgrading means re-reading aiortc's
``rtcrtpreceiver.py``, ``rtcrtpsender.py`` and ``rtcdtlstransport.py`` and re-running the tests.

Receiver side (publisher):
  * ``RTCRtpReceiver._handle_rtp_packet(packet, arrival_time_ms)`` is wrapped so every RTP packet
    reaches the forwarder before aiortc's own handling;
  * ``RTCRtpReceiver._RTCRtpReceiver__jitter_buffer`` is replaced by a sink that never yields a
    frame, so no frame is assembled or decoded (aiortc still sends RR, NACK and REMB);
  * ``RTCRtpReceiver._handle_rtcp_packet`` is wrapped to see the publisher's RTCP BYE and its
    sender reports (each layer's capture clock, passed on to viewers);
  * ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)`` asks the publisher for a keyframe.

Simulcast publishers (aiortc receives one RTP stream per transceiver; these let it take several):
  * ``RTCRtpTransceiver._headerExtensions`` gets the offered RID / repaired-RID header extensions
    between ``setRemoteDescription`` and ``createAnswer`` (:func:`accept_simulcast`), so the
    answer accepts them and aiortc parses them into ``packet.extensions``; aiortc's router then
    delivers every layer's SSRC to the one video receiver (by payload type);
  * ``RTCRtpReceiver._RTCRtpReceiver__nack_generator`` is replaced by one generator per SSRC
    (aiortc's single one would take the layers' interleaved sequence numbers for loss);
  * ``RTCRtpReceiver._RTCRtpReceiver__rtx_ssrc`` learns each layer's RTX SSRC (:func:`map_rtx`),
    which simulcast offers do not signal, so aiortc unwraps retransmissions for its NACK state.
  * ``RtpRouter.senders`` (``RTCDtlsTransport._rtp_router``) routes RTCP for extra SSRCs to a
    sender (:func:`route_rtcp_to`; the tests' simulcast publisher sends several SSRCs).

Negotiation:
  * ``aiortc.rtcpeerconnection.is_codec_compatible(a, b)`` matches an offered codec to aiortc's.

Sender side (viewers):
  * ``RTCRtpSender._ssrc`` is the SSRC announced in the answer, ``RTCRtpSender._rtx_ssrc`` the
    RTX SSRC (in the answer's ``a=ssrc-group:FID`` when RTX was negotiated);
  * ``RTCRtpSender._handle_rtcp_packet`` is wrapped to take PLI/FIR/NACK from the viewer;
  * ``RTCRtpSender._RTCRtpSender__{ntp_timestamp,rtp_timestamp,packet_count,octet_count}`` are
    kept up to date so aiortc's own RTCP sender reports describe the forwarded stream;
  * ``RTCRtpSender._RTCRtpSender__rtt`` is the round-trip time aiortc derives from the viewer's RR;
  * ``RTCRtpSender._RTCRtpSender__stats`` holds the ``remote-inbound-rtp`` entry aiortc builds from
    the viewer's last RR (its ``fractionLost`` is RFC 3550's 8-bit fraction, 0-255);
  * ``RTCDtlsTransport._send_rtp(data)`` SRTP-protects and sends a serialized packet.

Test peers (not the service):
  * ``RTCRtpSender._RTCRtpSender__encoder`` is made by the sender on its first frame unless set
    before: :func:`set_opus_bitrate` sets an Opus encoder of another bitrate (aiortc's is fixed
    at 96 kb/s; browsers send about 32 kb/s).

ICE (aioice, aiortc's ICE library, pinned with it):
  * ``aioice.ice.get_host_addresses(use_ipv4, use_ipv6)`` is wrapped by
    :func:`restrict_host_addresses` so host candidates are gathered only on the configured
    addresses (``LIVESHOP_MEDIA_ADDRESSES``); aioice itself never offers loopback.

DTLS (publishers on other stacks):
  * ``RTCCertificate._create_ssl_context(srtp_profiles)`` is wrapped to also allow ECDHE-RSA
    cipher suites: aiortc allows only ECDHE-ECDSA ones, so a WHIP client whose certificate is RSA
    (GStreamer's webrtcbin, some OBS builds) fails the handshake against it.
"""

from __future__ import annotations

import inspect
import ipaddress
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aioice
import aioice.ice
import aiortc
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs.opus import OpusEncoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsTransport, RtpRouter
from aiortc.rtcpeerconnection import create_media_description_for_transceiver, is_codec_compatible
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters
from aiortc.rtcrtpreceiver import NackGenerator
from aiortc.rtp import RtcpByePacket, RtcpSrPacket, RtpPacket

AIORTC_VERSION = "1.16.0"
AIOICE_VERSION = "0.13.0"

RtpTap = Callable[[RtpPacket], Awaitable[None]]
RtcpTap = Callable[[Any], Awaitable[bool]]

_RECEIVER_ATTRS = (
    "_RTCRtpReceiver__jitter_buffer",
    "_RTCRtpReceiver__nack_generator",
    "_RTCRtpReceiver__rtx_ssrc",
)
_SIMULCAST_URIS = (
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
)
_SENDER_ATTRS = (
    "_ssrc",
    "_rtx_ssrc",
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__packet_count",
    "_RTCRtpSender__octet_count",
    "_RTCRtpSender__rtt",
    "_RTCRtpSender__stats",
    "_RTCRtpSender__encoder",
)
_METHODS: tuple[tuple[type, str, tuple[str, ...]], ...] = (
    (RTCRtpReceiver, "_handle_rtp_packet", ("self", "packet", "arrival_time_ms")),
    (RTCRtpReceiver, "_handle_rtcp_packet", ("self", "packet")),
    (RTCRtpReceiver, "_send_rtcp_pli", ("self", "media_ssrc")),
    (RTCRtpSender, "_handle_rtcp_packet", ("self", "packet")),
    (RTCDtlsTransport, "_send_rtp", ("self", "data")),
)
_FUNCTIONS: tuple[tuple[Any, tuple[str, ...]], ...] = ((is_codec_compatible, ("a", "b")),)


class _NoFrames:
    """Stands in for aiortc's jitter buffer: takes packets, never yields a frame to decode."""

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        return False, None


DTLS_CIPHERS = b":".join(
    [
        b"ECDHE-ECDSA-AES128-GCM-SHA256",
        b"ECDHE-ECDSA-CHACHA20-POLY1305",
        b"ECDHE-ECDSA-AES128-SHA",
        b"ECDHE-ECDSA-AES256-SHA",
        b"ECDHE-RSA-AES128-GCM-SHA256",
        b"ECDHE-RSA-AES256-GCM-SHA384",
        b"ECDHE-RSA-CHACHA20-POLY1305",
        b"ECDHE-RSA-AES128-SHA",
        b"ECDHE-RSA-AES256-SHA",
    ]
)


def accept_rsa_dtls_peers() -> None:
    """Let DTLS handshakes agree on ECDHE-RSA suites too (peers with RSA certificates).

    Idempotent; process-wide (every aiortc peer connection made afterwards). Our own certificate
    stays ECDSA, so what we offer as a server does not change.
    """
    original = RTCCertificate._create_ssl_context
    if getattr(original, "_liveshop_rsa", False):
        return

    def create(self: RTCCertificate, srtp_profiles: Any) -> Any:
        ctx = original(self, srtp_profiles)
        ctx.set_cipher_list(DTLS_CIPHERS)
        return ctx

    create._liveshop_rsa = True  # type: ignore[attr-defined]
    RTCCertificate._create_ssl_context = create  # type: ignore[method-assign]


def prepare() -> None:
    """Called when a backend starts: refuse to run on changed internals, then allow RSA peers.

    Raises ``RuntimeError`` naming every difference :func:`check_internals` finds.
    """
    problems = check_internals()
    if problems:
        raise RuntimeError("aiortc internals changed: " + "; ".join(problems))
    accept_rsa_dtls_peers()


def check_internals() -> list[str]:
    """Return what differs from the aiortc internals this module relies on (empty when fine)."""
    problems: list[str] = []
    if aiortc.__version__ != AIORTC_VERSION:
        problems.append(
            f"aiortc {aiortc.__version__} installed, forwarder written for {AIORTC_VERSION}"
        )
    for cls, name, params in _METHODS:
        method = getattr(cls, name, None)
        if method is None or not inspect.iscoroutinefunction(method):
            problems.append(f"{cls.__name__}.{name} is missing or no longer a coroutine")
            continue
        actual = tuple(inspect.signature(method).parameters)
        if actual != params:
            problems.append(f"{cls.__name__}.{name}{actual} != {params}")
    for func, params in _FUNCTIONS:
        actual = tuple(inspect.signature(func).parameters)
        if actual != params:
            problems.append(f"{func.__name__}{actual} != {params}")
    if "_headerExtensions" not in inspect.getsource(RTCRtpTransceiver.__init__):
        problems.append("RTCRtpTransceiver.__init__ no longer sets _headerExtensions")
    describe = inspect.getsource(create_media_description_for_transceiver)
    if "sender._rtx_ssrc" not in describe or '"FID"' not in describe:
        problems.append("the answer's RTX SSRC (FID group) is no longer sender._rtx_ssrc")
    if not isinstance(getattr(RtpRouter(), "senders", None), dict):
        problems.append("RtpRouter.senders is no longer a dict")
    nack_params = tuple(inspect.signature(NackGenerator.add).parameters)
    if nack_params != ("self", "packet") or "missing" not in inspect.getsource(NackGenerator):
        problems.append("NackGenerator.add(self, packet) / .missing changed")
    for cls, attrs in ((RTCRtpReceiver, _RECEIVER_ATTRS), (RTCRtpSender, _SENDER_ATTRS)):
        init = inspect.getsource(cls.__init__)
        for attr in attrs:
            name = attr.replace(f"_{cls.__name__}", "")
            if not re.search(rf"self\.{name}\b(:[^=]+)?\s*=", init):
                problems.append(f"{cls.__name__}.__init__ no longer sets {attr}")
    handler = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    if "self.__jitter_buffer.add(packet)" not in handler:
        problems.append("RTCRtpReceiver._handle_rtp_packet no longer feeds self.__jitter_buffer")
    create_ctx = getattr(RTCCertificate, "_create_ssl_context", None)
    if create_ctx is None:
        problems.append("RTCCertificate._create_ssl_context is missing")
    elif not getattr(create_ctx, "_liveshop_rsa", False):
        if tuple(inspect.signature(create_ctx).parameters) != ("self", "srtp_profiles"):
            problems.append("RTCCertificate._create_ssl_context(self, srtp_profiles) changed")
        elif "set_cipher_list" not in inspect.getsource(create_ctx):
            problems.append("RTCCertificate._create_ssl_context no longer sets the cipher list")
    if aioice.__version__ != AIOICE_VERSION:
        problems.append(f"aioice {aioice.__version__} installed, written for {AIOICE_VERSION}")
    gather = getattr(aioice.ice, "get_host_addresses", None)
    gather = getattr(gather, "_liveshop_original", gather)
    if gather is None or tuple(inspect.signature(gather).parameters) != ("use_ipv4", "use_ipv6"):
        problems.append("aioice.ice.get_host_addresses(use_ipv4, use_ipv6) changed")
    elif "get_host_addresses(" not in inspect.getsource(aioice.ice.Connection.gather_candidates):
        problems.append("aioice Connection.gather_candidates no longer calls get_host_addresses")
    if "if self.__encoder is None:" not in inspect.getsource(RTCRtpSender._next_encoded_frame):
        problems.append("RTCRtpSender._next_encoded_frame no longer keeps a preset encoder")
    run_rtcp = inspect.getsource(RTCRtpSender._run_rtcp)
    for attr in ("__ntp_timestamp", "__rtp_timestamp", "__packet_count", "__octet_count"):
        if "self." + attr not in run_rtcp:
            problems.append(f"RTCRtpSender._run_rtcp no longer reports self.{attr}")
    return problems


def codecs_compatible(local: Any, remote: Any) -> bool:
    """aiortc's own codec matching (H.264 profile and packetization-mode aware)."""
    return bool(is_codec_compatible(local, remote))


class _NacksPerSsrc:
    """Stands in for aiortc's NACK generator: one generator per SSRC (simulcast layers)."""

    def __init__(self) -> None:
        self.generators: dict[int, NackGenerator] = {}
        self.missing: set[int] = set()

    def add(self, packet: RtpPacket) -> bool:
        generator = self.generators.get(packet.ssrc)
        if generator is None:
            generator = self.generators[packet.ssrc] = NackGenerator()
        missed = bool(generator.add(packet))
        self.missing = generator.missing
        return missed


def accept_simulcast(
    transceiver: RTCRtpTransceiver, offered: Sequence[RTCRtpHeaderExtensionParameters]
) -> None:
    """Accept the offered RID / repaired-RID header extensions on ``transceiver``.

    Call between ``setRemoteDescription`` and ``createAnswer``: the answer then lists them and
    incoming packets carry ``extensions.rtp_stream_id`` / ``repaired_rtp_stream_id``.
    """
    accept_extensions(transceiver, offered, _SIMULCAST_URIS)


def accept_extensions(
    transceiver: RTCRtpTransceiver,
    offered: Sequence[RTCRtpHeaderExtensionParameters],
    uris: Sequence[str],
) -> None:
    """Accept those of the offered header extensions whose URI is in ``uris`` (aiortc answers
    only those it implements), between ``setRemoteDescription`` and ``createAnswer``."""
    target: Any = transceiver
    current: list[RTCRtpHeaderExtensionParameters] = target._headerExtensions
    have = {x.uri for x in current}
    for ext in offered:
        if ext.uri in uris and ext.uri not in have:
            current.append(RTCRtpHeaderExtensionParameters(id=ext.id, uri=ext.uri))
            have.add(ext.uri)


def map_rtx(receiver: RTCRtpReceiver, rtx_ssrc: int, media_ssrc: int) -> None:
    """Tell aiortc that ``rtx_ssrc`` retransmits ``media_ssrc`` (unsignalled in simulcast)."""
    target: Any = receiver
    target._RTCRtpReceiver__rtx_ssrc[rtx_ssrc] = media_ssrc


def route_rtcp_to(sender: RTCRtpSender, ssrcs: Sequence[int]) -> None:
    """Deliver RTCP feedback about ``ssrcs`` (PLI, NACK, receiver reports) to ``sender``."""
    router: Any = sender.transport._rtp_router
    for ssrc in ssrcs:
        router.senders[ssrc] = sender


def tap_receiver(
    receiver: RTCRtpReceiver,
    on_rtp: RtpTap,
    on_bye: Callable[[], None],
    *,
    feedback: bool = True,
    simulcast: bool = False,
    on_sender_report: Callable[[int, int, int], None] | None = None,
) -> None:
    """Send every incoming RTP packet to ``on_rtp`` and never decode.

    With ``feedback`` aiortc keeps its RTCP duties (receiver reports, NACKs, REMB) because its
    handler still runs after ``on_rtp``; only frame assembly/decoding is cut off. Without it the
    packet goes to ``on_rtp`` only (the benchmark's counting viewers). With ``simulcast`` NACKs
    are tracked per SSRC. ``on_sender_report(ssrc, ntp, rtp)`` hears each RTCP sender report
    the publisher sends, after aiortc has handled it.
    """
    target: Any = receiver
    target._RTCRtpReceiver__jitter_buffer = _NoFrames()
    if simulcast and target._RTCRtpReceiver__nack_generator is not None:
        target._RTCRtpReceiver__nack_generator = _NacksPerSsrc()
    original_rtp = receiver._handle_rtp_packet
    original_rtcp = receiver._handle_rtcp_packet

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        await on_rtp(packet)
        if feedback:
            await original_rtp(packet, arrival_time_ms=arrival_time_ms)

    async def handle_rtcp_packet(packet: Any) -> None:
        await original_rtcp(packet)
        if isinstance(packet, RtcpByePacket):
            on_bye()
        elif isinstance(packet, RtcpSrPacket) and on_sender_report is not None:
            info = packet.sender_info
            on_sender_report(packet.ssrc, info.ntp_timestamp, info.rtp_timestamp)

    target._handle_rtp_packet = handle_rtp_packet
    target._handle_rtcp_packet = handle_rtcp_packet


def set_jitter_capacity(receiver: RTCRtpReceiver, packets: int) -> None:
    """Give a (test) viewer's video receiver a jitter buffer of ``packets`` (a power of two).

    aiortc's 128-packet buffer waits for 128 further packets before it gives up on a lost one:
    at a low layer's ~15 packets/s that is 8 s of frozen picture after every loss that is not
    repaired. Browsers drop incomplete frames once a keyframe arrives; tests that watch a lossy
    link with aiortc viewers shorten the wait with this.
    """
    target: Any = receiver
    target._RTCRtpReceiver__jitter_buffer = JitterBuffer(capacity=packets, is_video=True)


def observe_rtp(receiver: RTCRtpReceiver, on_rtp: Callable[[RtpPacket], None]) -> None:
    """Show every incoming RTP packet to ``on_rtp`` before aiortc handles it as usual
    (decoding included): tests use it to check what a viewer is sent."""
    target: Any = receiver
    original = receiver._handle_rtp_packet

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        on_rtp(packet)
        await original(packet, arrival_time_ms=arrival_time_ms)

    target._handle_rtp_packet = handle_rtp_packet


async def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the remote sender of ``media_ssrc`` for a keyframe (RTCP PLI)."""
    await receiver._send_rtcp_pli(media_ssrc)


def sender_ssrc(sender: RTCRtpSender) -> int:
    ssrc: int = sender._ssrc
    return ssrc


def sender_rtx_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC of the sender's RTX stream (what the answer's FID group names, if any)."""
    ssrc: int = sender._rtx_ssrc
    return ssrc


def tap_sender_rtcp(sender: RTCRtpSender, on_rtcp: RtcpTap) -> None:
    """Offer each RTCP packet for this sender to ``on_rtcp`` first; aiortc handles it when
    ``on_rtcp`` returns False (receiver reports → RTT)."""
    target: Any = sender
    original = sender._handle_rtcp_packet

    async def handle_rtcp_packet(packet: Any) -> None:
        if not await on_rtcp(packet):
            await original(packet)

    target._handle_rtcp_packet = handle_rtcp_packet


def record_sent(
    sender: RTCRtpSender, ntp_time: int, rtp_timestamp: int, packets: int, octets: int
) -> None:
    """Let aiortc's sender reports (SR) describe the packets we sent on its behalf."""
    target: Any = sender
    target._RTCRtpSender__ntp_timestamp = ntp_time
    target._RTCRtpSender__rtp_timestamp = rtp_timestamp
    target._RTCRtpSender__packet_count = packets
    target._RTCRtpSender__octet_count = octets


def sender_rtt(sender: RTCRtpSender) -> float | None:
    """Smoothed round-trip time in seconds from the viewer's receiver reports, if known."""
    target: Any = sender
    rtt: float | None = target._RTCRtpSender__rtt
    return rtt


def sender_fraction_lost(sender: RTCRtpSender) -> float | None:
    """The share (0-1) of packets the viewer reported lost in its last receiver report's
    interval, if one arrived."""
    target: Any = sender
    for entry in target._RTCRtpSender__stats.values():
        if getattr(entry, "type", None) == "remote-inbound-rtp":
            fraction = getattr(entry, "fractionLost", None)
            return float(fraction) / 256 if isinstance(fraction, int | float) else None
    return None


def set_opus_bitrate(sender: RTCRtpSender, bps: int) -> None:
    """Make ``sender`` (an audio sender that has not sent yet, negotiated to Opus) encode at
    ``bps`` instead of aiortc's fixed 96 kb/s."""
    encoder = OpusEncoder()
    encoder.codec.bit_rate = bps
    sender._RTCRtpSender__encoder = encoder  # type: ignore[attr-defined]


def rtp_sink(sender: RTCRtpSender) -> Callable[[bytes], Awaitable[None]]:
    """The coroutine that SRTP-protects and sends one serialized RTP packet for ``sender``."""
    send: Callable[[bytes], Awaitable[None]] = sender.transport._send_rtp
    return send


def restrict_host_addresses(addresses: Sequence[str]) -> None:
    """Gather ICE host candidates only on ``addresses`` (IPv4/IPv6 literals; loopback allowed).

    Process-wide: every aiortc peer connection that gathers afterwards, in this process, offers
    only these addresses (plus STUN/TURN candidates). An empty sequence restores aioice's own
    choice (every non-loopback interface address). Addresses are used as given: one that is not
    on this machine yields no candidate.
    """
    original = getattr(aioice.ice.get_host_addresses, "_liveshop_original", None)
    if original is None:
        original = aioice.ice.get_host_addresses
    if not addresses:
        aioice.ice.get_host_addresses = original
        return
    allowed = [str(ipaddress.ip_address(a.strip())) for a in addresses]

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in allowed if (use_ipv4 and ":" not in a) or (use_ipv6 and ":" in a)]

    get_host_addresses._liveshop_original = original  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = get_host_addresses


def host_addresses() -> list[str] | None:
    """The addresses set by :func:`restrict_host_addresses`, or None (aioice's own choice)."""
    current = aioice.ice.get_host_addresses
    if getattr(current, "_liveshop_original", None) is None:
        return None
    result: list[str] = current(True, True)
    return result
