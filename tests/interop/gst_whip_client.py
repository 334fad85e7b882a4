"""A WHIP publisher built on GStreamer's webrtcbin (libnice ICE, OpenSSL DTLS): a different WebRTC
stack from aiortc and Chromium. Run with the system Python that has PyGObject + GStreamer:

    /usr/bin/python3 gst_whip_client.py WHIP_URL BEARER_TOKEN

Prints ``location <url>`` after the answer, ``ice <state>`` on ICE changes, and runs until killed.
Full ICE (the offer carries every candidate, as RFC 9725 servers without trickle need).
"""

import sys
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

PIPELINE = (
    "webrtcbin name=w bundle-policy=max-bundle "
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 "
    "! videoconvert ! vp8enc deadline=1 keyframe-max-dist=15 ! rtpvp8pay pt=96 "
    "! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! w. "
    "audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! opusenc "
    "! rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! w."
)


def main() -> None:
    url, token = sys.argv[1], sys.argv[2]
    Gst.init(None)
    pipe = Gst.parse_launch(PIPELINE)
    webrtc = pipe.get_by_name("w")
    loop = GLib.MainLoop()
    posted = False

    def on_offer(promise, element, _):
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None else None
        if offer is None:
            print("offer failed:", reply.to_string() if reply is not None else None, flush=True)
            loop.quit()
            return
        element.emit("set-local-description", offer, Gst.Promise.new())

    def on_negotiation_needed(element):
        for i in range(2):
            transceiver = element.emit("get-transceiver", i)
            if transceiver is not None:
                transceiver.set_property(
                    "direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY
                )
        promise = Gst.Promise.new_with_change_func(on_offer, element, None)
        element.emit("create-offer", None, promise)

    def on_gathering(element, _pspec):
        nonlocal posted
        if (
            posted
            or element.get_property("ice-gathering-state")
            != GstWebRTC.WebRTCICEGatheringState.COMPLETE
        ):
            return
        posted = True
        sdp = element.get_property("local-description").sdp.as_text()
        request = urllib.request.Request(
            url,
            data=sdp.encode(),
            method="POST",
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            answer_text = response.read().decode()
            print("location", response.headers["Location"], flush=True)
        _, message = GstSdp.SDPMessage.new_from_text(answer_text)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        element.emit("set-remote-description", answer, Gst.Promise.new())

    def on_ice(element, _pspec):
        print("ice", element.get_property("ice-connection-state").value_nick, flush=True)

    webrtc.connect("on-negotiation-needed", on_negotiation_needed)
    webrtc.connect("notify::ice-gathering-state", on_gathering)
    webrtc.connect("notify::ice-connection-state", on_ice)
    pipe.set_state(Gst.State.PLAYING)
    try:
        loop.run()
    finally:
        pipe.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main()
