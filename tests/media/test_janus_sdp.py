"""The janus mode's offer bridge (``sdp.bridge``) on captured offers: which transport is whose."""

from __future__ import annotations

from liveshop.media.janus.sdp import bridge, without_mdns_candidates

# An aiortc WHEP offer: BUNDLE, but — as aiortc (and browsers with the default "balanced" bundle
# policy) do before the answer settles bundling — every m-line has its own socket and candidates.
VIEWER_OFFER = """v=0
o=- 4004969823 4004969823 IN IP4 0.0.0.0
s=-
t=0 0
a=group:BUNDLE 0 1
a=msid-semantic:WMS *
m=video 46057 UDP/TLS/RTP/SAVPF 97 98
c=IN IP4 192.0.2.2
a=recvonly
a=mid:0
a=rtcp-mux
a=rtpmap:97 VP8/90000
a=rtcp-fb:97 nack
a=rtcp-fb:97 nack pli
a=rtpmap:98 rtx/90000
a=fmtp:98 apt=97
a=candidate:f957a2 1 udp 2130706431 192.0.2.2 46057 typ host
a=candidate:d0bcf3 1 udp 2130706431 fd00::2 34165 typ host
a=end-of-candidates
a=ice-ufrag:9EOA
a=ice-pwd:SYItn04wNXNQDDSu5i4nVZ
a=fingerprint:sha-256 C9:69:3D:57:E5:56:5B:83:F1:BC:5C:AD:5A:0B:2D:B6:73:96:BC:E8:07:B4:88:C6
a=setup:actpass
m=audio 50753 UDP/TLS/RTP/SAVPF 96 0
c=IN IP4 192.0.2.2
a=recvonly
a=mid:1
a=rtcp-mux
a=rtpmap:96 opus/48000/2
a=rtpmap:0 PCMU/8000
a=candidate:f957a2 1 udp 2130706431 192.0.2.2 50753 typ host
a=candidate:d0bcf3 1 udp 2130706431 fd00::2 50311 typ host
a=end-of-candidates
a=ice-ufrag:9EOA
a=ice-pwd:SYItn04wNXNQDDSu5i4nVZ
a=fingerprint:sha-256 C9:69:3D:57:E5:56:5B:83:F1:BC:5C:AD:5A:0B:2D:B6:73:96:BC:E8:07:B4:88:C6
a=setup:actpass
"""

# VideoRoom 1.1.2's subscriber offer for a VP8 + Opus publisher (half trickle: candidates inline)
JANUS_OFFER = """v=0
o=- 1795981023564075 1 IN IP4 192.0.2.2
s=VideoRoom 1
t=0 0
a=group:BUNDLE 0 1
a=ice-options:trickle
a=fingerprint:sha-256 CD:D1:DE:59:F0:2A:EF:4D:7B:4E:A2:22:8A:D8:7F:A4:82:7B:17:87:3C:64:5D
a=msid-semantic: WMS *
m=video 9 UDP/TLS/RTP/SAVPF 96 97
c=IN IP4 192.0.2.2
a=sendonly
a=mid:0
a=rtcp-mux
a=ice-ufrag:mZa2
a=ice-pwd:rzB45RquTHYR8jjeSNN4Mr
a=setup:actpass
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=ssrc-group:FID 84223198 1944738754
a=msid:janus janus0
a=ssrc:84223198 cname:janus
a=ssrc:1944738754 cname:janus
a=candidate:1 1 udp 2015363327 192.0.2.2 42328 typ host
a=end-of-candidates
m=audio 9 UDP/TLS/RTP/SAVPF 111
c=IN IP4 192.0.2.2
a=sendonly
a=mid:1
a=rtcp-mux
a=ice-ufrag:mZa2
a=ice-pwd:rzB45RquTHYR8jjeSNN4Mr
a=setup:actpass
a=rtpmap:111 opus/48000/2
a=msid:janus janus1
a=ssrc:968333359 cname:janus
a=candidate:1 1 udp 2015363327 192.0.2.2 42328 typ host
a=end-of-candidates
"""


def candidate_ports(sdp: str) -> set[str]:
    return {line.split()[5] for line in sdp.splitlines() if line.startswith("a=candidate:")}


def test_janus_gets_only_the_bundle_transports_candidates() -> None:
    """Janus is given only the candidates of the viewer's BUNDLE-tagged m-line, not the others."""
    answers = bridge(VIEWER_OFFER, JANUS_OFFER)
    # 50753/50311 are the audio m-line's own sockets, which the viewer closes once bundled:
    # Janus selecting one of them left the viewer without DTLS (issue 8)
    assert candidate_ports(answers.janus_answer) == {"46057", "34165"}


def test_the_bundle_tag_is_the_groups_first_mid() -> None:
    """The viewer's transport is the first mid of its BUNDLE group, whatever the m-line order."""
    reordered = VIEWER_OFFER.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 1 0")
    answers = bridge(reordered, JANUS_OFFER)
    assert candidate_ports(answers.janus_answer) == {"50753", "50311"}
    assert "a=group:BUNDLE 1 0\r\n" in answers.viewer_answer


# Chromium's host candidates as shoppers' browsers send them: an mDNS name, not an address
MDNS = (
    "a=candidate:1827785122 1 udp 2113937151 b7b44bee-c1fe-4fc5-b4f6-5e91ec93d365.local {} typ host"
)


def test_janus_is_not_given_mdns_candidates_of_a_viewer() -> None:
    """A viewer's `.local` host candidates are left out of Janus's answer; its addresses are kept."""
    offer = VIEWER_OFFER.replace(
        "a=candidate:d0bcf3 1 udp 2130706431 fd00::2 34165 typ host", MDNS.format("49409")
    )
    answers = bridge(offer, JANUS_OFFER)
    assert candidate_ports(answers.janus_answer) == {"46057"}
    assert ".local" not in answers.janus_answer


def test_a_publishers_mdns_candidates_are_dropped_and_nothing_else() -> None:
    """Only the `.local` candidate lines leave a WHIP offer on its way to Janus."""
    offer = VIEWER_OFFER.replace(
        "a=candidate:f957a2 1 udp 2130706431 192.0.2.2 50753 typ host", MDNS.format("56286")
    )
    cleaned = without_mdns_candidates(offer)
    kept = [line for line in offer.splitlines() if "56286" not in line]
    assert cleaned.split("\r\n") == [*kept, ""]  # the same lines, CRLF-terminated
