#!/bin/sh
# ensure-gstreamer.sh: Debian's GStreamer webrtcbin + PyGObject for the WHIP interop test
# (a publisher on another WebRTC stack). Installed with apt when the system Python cannot load it.
PROBE="import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstWebRTC', '1.0'); from gi.repository import Gst; Gst.init(None); assert Gst.ElementFactory.find('webrtcbin') and Gst.ElementFactory.find('vp8enc')"
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "$PROBE" >/dev/null 2>&1; then exit 0; fi
exec sh "$(dirname "$0")/ensure-apt.sh" /nonexistent gstreamer1.0-plugins-bad gstreamer1.0-plugins-good \
    gstreamer1.0-plugins-base gstreamer1.0-nice gir1.2-gst-plugins-bad-1.0 gir1.2-gst-plugins-base-1.0 \
    python3-gi python3-gst-1.0
