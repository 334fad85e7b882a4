"""WHEP on top of VideoRoom: turn a viewer's offer and Janus's subscriber offer into two answers.

WHEP clients send the offer; VideoRoom (1.1.x, and by design) always offers to subscribers and
never accepts a subscriber's offer. liveshop sits in the middle and answers both sides:

* to Janus (``start`` jsep) an answer in Janus's terms — Janus's mids and payload types, the
  viewer's ICE credentials, DTLS fingerprint and candidates, ``a=setup:active`` (the viewer will
  be the DTLS client). The viewer's transport is the one of its BUNDLE-tagged m-line (the first
  mid of its ``a=group:BUNDLE``), and only that m-line's candidates are passed on: aiortc, and
  browsers with the default ``balanced`` bundle policy, gather a socket per m-line for the offer
  and close the others once the bundled answer is applied. Janus starts its checks as soon as it
  has the answer, before the viewer has it, so it could select a pair on such a socket and
  then send DTLS into a closed port (the viewer stayed "connecting" with ICE completed);
* to the viewer (the WHEP ``201`` body) an answer in the viewer's terms — the viewer's mids and
  m-line order (its BUNDLE-tagged mid first in the group, so it keeps that transport), Janus's
  ICE credentials, fingerprint, candidates and SSRCs, ``a=setup:passive``.

A browser viewer's mDNS host candidates (``<uuid>.local``) are not passed on (Janus cannot use
them, see :func:`without_mdns_candidates`); the pair then comes from the viewer's checks.

Both peers believe they are the ICE controlling agent; ICE's role-conflict resolution (RFC 8445
§7.3.1.1, implemented by libnice, aioice and browsers) settles it on the first check. No RTP
header extensions are negotiated (Janus then sends none, so the viewer's extension ids do not
matter) and RTX is declined (Janus retransmits NACKed packets in the main stream). Janus sends its
own payload type numbers (VP8 96, H.264 107, Opus 111 by default), so the viewer's answer
carries those numbers even when the viewer offered different ones: Chrome uses the same numbers
for VP8 and Opus and aiortc adopts the answer's numbers; a client that insists on its own numbers
would be a limitation of this mode (see docs/media.md).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from ..base import MediaError

_SKIP_FB = {"transport-cc"}


@dataclass
class _Section:
    kind: str
    port: str
    proto: str
    formats: list[str]
    lines: list[str] = field(default_factory=list)

    def attrs(self, name: str) -> list[str]:
        prefix = f"a={name}:"
        return [line[len(prefix) :] for line in self.lines if line.startswith(prefix)]

    def attr(self, name: str, session: list[str]) -> str | None:
        values = self.attrs(name) or _attrs(session, name)
        return values[0] if values else None

    def flag(self, name: str) -> bool:
        return f"a={name}" in self.lines

    @property
    def mid(self) -> str | None:
        mids = self.attrs("mid")
        return mids[0] if mids else None

    def candidates(self) -> list[str]:
        return [line for line in self.lines if line.startswith("a=candidate:")]


@dataclass
class _Codec:
    pt: int
    name: str  # "VP8/90000", "opus/48000/2"
    fmtp: str | None
    feedback: list[str]

    @property
    def base(self) -> str:
        return self.name.split("/")[0].lower()

    @property
    def clock(self) -> str:
        parts = self.name.split("/")
        return parts[1] if len(parts) > 1 else ""


def _attrs(lines: list[str], name: str) -> list[str]:
    prefix = f"a={name}:"
    return [line[len(prefix) :] for line in lines if line.startswith(prefix)]


def _split(text: str) -> tuple[list[str], list[_Section]]:
    session: list[str] = []
    sections: list[_Section] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) < 3:
                raise MediaError(400, f"malformed m= line: {line!r}")
            sections.append(_Section(parts[0], parts[1], parts[2], parts[3:]))
        elif sections:
            sections[-1].lines.append(line)
        else:
            session.append(line)
    return session, sections


def _codecs(section: _Section) -> list[_Codec]:
    codecs: dict[int, _Codec] = {}
    for value in section.attrs("rtpmap"):
        pt, _, name = value.partition(" ")
        if pt.isdigit():
            codecs[int(pt)] = _Codec(int(pt), name.strip(), None, [])
    for value in section.attrs("fmtp"):
        pt, _, params = value.partition(" ")
        if pt.isdigit() and int(pt) in codecs:
            codecs[int(pt)].fmtp = params.strip()
    for value in section.attrs("rtcp-fb"):
        pt, _, fb = value.partition(" ")
        if pt.isdigit() and int(pt) in codecs:
            codecs[int(pt)].feedback.append(fb.strip())
    order = [int(f) for f in section.formats if f.isdigit()]
    return [codecs[pt] for pt in order if pt in codecs]


def _fmtp_params(fmtp: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in (fmtp or "").split(";"):
        key, _, value = item.strip().partition("=")
        if key:
            params[key.lower()] = value.strip().lower()
    return params


def _compatible(janus: _Codec, offered: _Codec) -> bool:
    if janus.base != offered.base or janus.clock != offered.clock:
        return False
    if janus.base == "h264":
        mine, theirs = _fmtp_params(janus.fmtp), _fmtp_params(offered.fmtp)
        # VideoRoom 1.1 offers H.264 without fmtp but forwards what WebRTC publishers send:
        # packetization-mode 1 (FU-A), constrained baseline unless the room says otherwise
        mine.setdefault("packetization-mode", "1")
        mine.setdefault("profile-level-id", "42e01f")
        if mine["packetization-mode"] != theirs.get("packetization-mode", "0"):
            return False
        # same profile_idc (the first byte of profile-level-id): 42 baseline, 4d main, 64 high
        if mine["profile-level-id"][:2] != theirs.get("profile-level-id", "42")[:2]:
            return False
    return True


def _main_codec(section: _Section) -> _Codec | None:
    for codec in _codecs(section):
        if codec.base not in ("rtx", "red", "ulpfec", "flexfec-03"):
            return codec
    return None


def main_codec_name(janus_offer: str, kind: str) -> str | None:
    """The codec (``VP8``, ``H264``, ``opus``) of Janus's ``kind`` m-line, if any."""
    _, sections = _split(janus_offer)
    for section in sections:
        if section.kind == kind and section.port != "0":
            codec = _main_codec(section)
            if codec is not None:
                return codec.name.split("/")[0]
    return None


def media_mid(janus_offer: str, kind: str) -> str | None:
    """The mid of Janus's first active ``kind`` m-line (what ``configure`` names), if any."""
    _, sections = _split(janus_offer)
    for section in sections:
        if section.kind == kind and section.port != "0" and section.mid is not None:
            return section.mid
    return None


@dataclass
class BridgedAnswers:
    viewer_answer: str
    janus_answer: str
    video_codec: str


def bridge(viewer_offer: str, janus_offer: str) -> BridgedAnswers:
    """Answer the viewer's offer with Janus's media and Janus's offer with the viewer's transport.

    Raises ``MediaError(415)`` when the viewer cannot receive the show's video codec.
    """
    v_session, v_sections = _split(viewer_offer)
    j_session, j_sections = _split(janus_offer)

    j_ufrag = j_pwd = j_fp = None
    j_candidates: list[str] = []
    for section in j_sections:
        if section.port == "0":
            continue
        j_ufrag = j_ufrag or section.attr("ice-ufrag", j_session)
        j_pwd = j_pwd or section.attr("ice-pwd", j_session)
        j_fp = j_fp or section.attr("fingerprint", j_session)
        j_candidates = j_candidates or section.candidates()
    # the viewer's transport is the one of its BUNDLE-tagged m-line: the other m-lines' own
    # candidates (aiortc gathers a socket per m-line before bundling is agreed) are closed by the
    # viewer once it applies the bundled answer, so Janus must not be told about them
    v_transport = _bundle_tagged(v_session, v_sections)
    v_ufrag = v_transport.attr("ice-ufrag", v_session) if v_transport else None
    v_pwd = v_transport.attr("ice-pwd", v_session) if v_transport else None
    v_fp = v_transport.attr("fingerprint", v_session) if v_transport else None
    v_candidates = (
        [c for c in v_transport.candidates() if not is_mdns_candidate(c)] if v_transport else []
    )
    if not (j_ufrag and j_pwd and j_fp):
        raise MediaError(502, "Janus's offer has no ICE credentials or fingerprint")
    if not (v_ufrag and v_pwd and v_fp):
        raise MediaError(400, "malformed SDP offer: ICE ufrag/pwd or fingerprint missing")
    connection_ip = "0.0.0.0"
    if j_candidates:
        parts = j_candidates[0].split()
        if len(parts) > 4 and ":" not in parts[4]:
            connection_ip = parts[4]

    # pair each Janus m-line with the viewer's first unused m-line of the same kind
    used: set[int] = set()
    pairs: list[tuple[_Section, _Section | None, _Codec | None, list[str]]] = []
    offered_fmtp: dict[int, str | None] = {}  # id(viewer section) -> the viewer's fmtp
    video_codec: str | None = None
    for j_section in j_sections:
        j_codec = _main_codec(j_section) if j_section.port != "0" else None
        match: _Section | None = None
        feedback: list[str] = []
        if j_codec is not None and j_section.kind in ("audio", "video"):
            for index, v_section in enumerate(v_sections):
                if index in used or v_section.kind != j_section.kind or v_section.port == "0":
                    continue
                if v_section.flag("sendonly") or v_section.flag("inactive"):
                    continue
                offered = next((c for c in _codecs(v_section) if _compatible(j_codec, c)), None)
                if offered is None:
                    continue
                used.add(index)
                match = v_section
                offered_fmtp[id(v_section)] = offered.fmtp
                feedback = [
                    fb for fb in j_codec.feedback if fb in offered.feedback and fb not in _SKIP_FB
                ]
                break
        if j_section.kind == "video" and j_codec is not None:
            if match is None:
                raise MediaError(
                    415, f"the viewer cannot receive {j_codec.name.split('/')[0]} video"
                )
            video_codec = j_codec.name.split("/")[0]
        pairs.append((j_section, match, j_codec if match else None, feedback))
    if video_codec is None:
        raise MediaError(502, "Janus offered no video")

    # the answer for Janus ------------------------------------------------------------------------
    janus: list[str] = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=liveshop", "t=0 0"]
    mids = [j.mid for j, v, _, _ in pairs if v is not None and j.mid is not None]
    janus.append("a=group:BUNDLE " + " ".join(mids))
    for j_section, match, codec, feedback in pairs:
        if match is None or codec is None:
            formats = " ".join(j_section.formats) or "0"
            janus += [f"m={j_section.kind} 0 {j_section.proto} {formats}", "c=IN IP4 0.0.0.0"]
            janus += [f"a=mid:{j_section.mid}"] if j_section.mid else []
            janus.append("a=inactive")
            continue
        janus += [
            f"m={j_section.kind} 9 {j_section.proto} {codec.pt}",
            "c=IN IP4 0.0.0.0",
            "a=recvonly",
            f"a=mid:{j_section.mid}",
            "a=rtcp-mux",
            f"a=ice-ufrag:{v_ufrag}",
            f"a=ice-pwd:{v_pwd}",
            f"a=fingerprint:{v_fp}",
            "a=setup:active",
            f"a=rtpmap:{codec.pt} {codec.name}",
        ]
        if codec.fmtp:
            janus.append(f"a=fmtp:{codec.pt} {codec.fmtp}")
        janus += [f"a=rtcp-fb:{codec.pt} {fb}" for fb in feedback]
        janus += v_candidates
        janus.append("a=end-of-candidates")

    # the answer for the viewer -------------------------------------------------------------------
    by_viewer = {id(v): (j, c, fb) for j, v, c, fb in pairs if v is not None}
    version = secrets.randbelow(1 << 31)
    viewer: list[str] = ["v=0", f"o=- {version} 2 IN IP4 0.0.0.0", "s=liveshop (janus)", "t=0 0"]
    # the tagged m-line first (RFC 8843 §7.3.1): the viewer keeps the transport Janus was told of
    bundle = [v.mid for v in v_sections if v.mid is not None]
    if v_transport is not None and v_transport.mid in bundle:
        bundle.remove(v_transport.mid)
        bundle.insert(0, v_transport.mid)
    if bundle:
        viewer.append("a=group:BUNDLE " + " ".join(bundle))
    viewer.append("a=msid-semantic: WMS *")
    # also at session level: rejected m-lines then still carry credentials (aiortc wants them)
    viewer += [
        f"a=ice-ufrag:{j_ufrag}",
        f"a=ice-pwd:{j_pwd}",
        f"a=fingerprint:{j_fp}",
        "a=setup:passive",
    ]
    for v_section in v_sections:
        paired = by_viewer.get(id(v_section))
        if paired is None:
            viewer += _inactive(v_section, connection_ip)
            continue
        j_section, codec, feedback = paired
        assert codec is not None
        viewer += [
            f"m={v_section.kind} 9 {v_section.proto} {codec.pt}",
            f"c=IN IP4 {connection_ip}",
            "a=sendonly",
        ]
        viewer += [f"a=mid:{v_section.mid}"] if v_section.mid else []
        viewer += [
            "a=rtcp-mux",
            f"a=ice-ufrag:{j_ufrag}",
            f"a=ice-pwd:{j_pwd}",
            f"a=fingerprint:{j_fp}",
            "a=setup:passive",
            f"a=rtpmap:{codec.pt} {codec.name}",
        ]
        fmtp = codec.fmtp or (offered_fmtp.get(id(v_section)) if codec.base == "h264" else None)
        if fmtp:
            viewer.append(f"a=fmtp:{codec.pt} {fmtp}")
        viewer += [f"a=rtcp-fb:{codec.pt} {fb}" for fb in feedback]
        viewer += [f"a=msid:{m}" for m in j_section.attrs("msid")]
        viewer += _primary_ssrc_lines(j_section)
        viewer += j_candidates
        viewer.append("a=end-of-candidates")
    return BridgedAnswers(
        viewer_answer="\r\n".join(viewer) + "\r\n",
        janus_answer="\r\n".join(janus) + "\r\n",
        video_codec=video_codec,
    )


def is_mdns_candidate(line: str) -> bool:
    """True for an ``a=candidate`` line whose address is an mDNS name (``<uuid>.local``)."""
    parts = line.split()
    return len(parts) > 4 and parts[4].lower().rstrip(".").endswith(".local")


def without_mdns_candidates(sdp: str) -> str:
    """``sdp`` without its mDNS host candidates, for Janus.

    Browsers hide their host addresses behind ``<uuid>.local`` names (Chromium does unless the
    page may use the camera). Janus's libnice cannot use them: Janus tries to resolve each name
    through the system resolver (a unicast DNS query that fails, or hangs, on a server and tells
    the resolver the name) and then drops it. Connectivity comes from the browser's checks
    instead: Janus answers them and pairs the peer-reflexive candidate they reveal.
    """
    lines = sdp.replace("\r\n", "\n").split("\n")
    kept = [
        line for line in lines if not (line.startswith("a=candidate:") and is_mdns_candidate(line))
    ]
    return "\r\n".join(kept)


def _bundle_tagged(session: list[str], sections: list[_Section]) -> _Section | None:
    """The m-line whose transport a bundled session uses (RFC 8843 §7.2: the first mid of the
    offer's BUNDLE group), else the first m-line that is not rejected."""
    groups = [g.split() for g in _attrs(session, "group")]
    by_mid = {s.mid: s for s in sections if s.mid is not None and s.port != "0"}
    for group in groups:
        if group and group[0] == "BUNDLE":
            for mid in group[1:]:
                if mid in by_mid:
                    return by_mid[mid]
    return next((s for s in sections if s.port != "0"), None)


def _primary_ssrc_lines(section: _Section) -> list[str]:
    """``a=ssrc`` lines of the media SSRC (the RTX SSRC of an FID group is left out)."""
    ssrc_lines = [line for line in section.lines if line.startswith("a=ssrc:")]
    groups = section.attrs("ssrc-group")
    rtx: set[str] = set()
    for group in groups:
        parts = group.split()
        if parts and parts[0] == "FID" and len(parts) >= 3:
            rtx.update(parts[2:])
    return [line for line in ssrc_lines if line[len("a=ssrc:") :].split()[0] not in rtx]


def _inactive(section: _Section, connection_ip: str) -> list[str]:
    """An ``inactive`` answer to a viewer m-line the show has nothing for (e.g. no audio).

    Not a port-0 rejection: aiortc (and so aiortc-based clients) insist on a common codec and
    transport attributes in every audio/video m-line of an answer; inactive is valid everywhere.
    """
    codec = _main_codec(section)
    lines = [f"m={section.kind} 9 {section.proto} {codec.pt if codec else 0}"]
    lines.append(f"c=IN IP4 {connection_ip}")
    lines.append("a=inactive")
    lines += [f"a=mid:{section.mid}"] if section.mid else []
    lines.append("a=rtcp-mux")
    if codec is not None:
        lines.append(f"a=rtpmap:{codec.pt} {codec.name}")
        if codec.fmtp:
            lines.append(f"a=fmtp:{codec.pt} {codec.fmtp}")
    return lines
