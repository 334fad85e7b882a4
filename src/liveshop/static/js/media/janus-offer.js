// The WHEP offer in janus mode. Janus's VideoRoom (1.1) sends each codec on a fixed payload type,
// whatever the viewer offered: VP8 96, H.264 107, Opus 111 (liveshop's answer says so). A browser
// receives with the numbers of its own offer, so these numbers must mean those codecs there too.
// Chromium gives VP8 and Opus the same numbers, but may put an RTX stream on 107 and H.264 on
// another number: the show's H.264 (OBS and other hardware encoders send it) then never plays.
// Here the codec Janus will send takes its number in the offer; whatever had it takes the old one.

const RULES = [
  { kind: 'video', pt: '96', matches: (c) => c.name === 'vp8' },
  // the H.264 variant liveshop pairs with Janus's: packetization-mode 1, baseline profile family
  {
    kind: 'video',
    pt: '107',
    matches: (c) => c.name === 'h264' && c.params['packetization-mode'] === '1' && (c.params['profile-level-id'] || '42').slice(0, 2).toLowerCase() === '42',
  },
  { kind: 'audio', pt: '111', matches: (c) => c.name === 'opus' },
];

function fmtpParams(value) {
  const params = {};
  for (const item of (value || '').split(';')) {
    const [key, val = ''] = item.trim().split('=');
    if (key) params[key.toLowerCase()] = val.trim();
  }
  return params;
}

/** The codecs of one m-section in offer order: {pt, name (lower case), params}. */
function codecsOf(lines) {
  const [, , , ...formats] = lines[0].split(' ');
  const names = {};
  const fmtps = {};
  for (const line of lines) {
    let m = line.match(/^a=rtpmap:(\d+) ([^/\s]+)/);
    if (m) names[m[1]] = m[2].toLowerCase();
    m = line.match(/^a=fmtp:(\d+) (.*)$/);
    if (m) fmtps[m[1]] = m[2];
  }
  return formats.filter((pt) => pt in names).map((pt) => ({ pt, name: names[pt], params: fmtpParams(fmtps[pt]) }));
}

/** One m-section with payload types `a` and `b` swapped everywhere they appear. */
function swap(lines, a, b) {
  const other = (pt) => (pt === a ? b : pt === b ? a : pt);
  return lines.map((line, i) => {
    if (i === 0) {
      const parts = line.split(' ');
      return [...parts.slice(0, 3), ...parts.slice(3).map(other)].join(' ');
    }
    const m = line.match(/^a=(rtpmap|fmtp|rtcp-fb):(\d+)(.*)$/);
    if (!m) return line;
    let rest = m[3];
    if (m[1] === 'fmtp') {
      // RTX names its codec (apt=N), RED its redundant ones ("N/N")
      rest = /^ \d+(\/\d+)*$/.test(rest) ? ` ${rest.trim().split('/').map(other).join('/')}` : rest.replace(/\bapt=(\d+)/, (_, pt) => `apt=${other(pt)}`);
    }
    return `a=${m[1]}:${other(m[2])}${rest}`;
  });
}

/** `sdp` (the browser's WHEP offer) with Janus's payload type numbers for Janus's codecs. */
export function withJanusPayloadTypes(sdp) {
  const lines = sdp.split('\r\n');
  const out = [];
  let section = null;
  const flush = () => {
    if (!section) return;
    const kind = section[0].slice(2).split(' ')[0];
    for (const rule of RULES) {
      if (rule.kind !== kind) continue;
      const codec = codecsOf(section).find(rule.matches);
      if (codec && codec.pt !== rule.pt) section = swap(section, codec.pt, rule.pt);
    }
    out.push(...section);
    section = null;
  };
  for (const line of lines) {
    if (line.startsWith('m=')) {
      flush();
      section = [line];
    } else if (section) section.push(line);
    else out.push(line);
  }
  flush();
  return out.join('\r\n');
}
