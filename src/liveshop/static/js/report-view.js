// The show report on the studio's after-show screen (GET /api/livestreams/{id}/report): the figures,
// a small inline-SVG chart of viewers over time (no library) and the product table.
import { formatCount, formatDuration, h, svg } from './dom.js';

const W = 320;
const H = 120;
const PAD = { left: 28, right: 8, top: 8, bottom: 20 };

/** Inline SVG line+area chart of [{offsetSeconds, viewers}] over `duration` seconds. */
export function viewersChart(points, duration) {
  const data = (points || []).filter((p) => Number.isFinite(p.offsetSeconds) && Number.isFinite(p.viewers));
  const maxT = Math.max(1, duration || 0, ...data.map((p) => p.offsetSeconds));
  const maxV = Math.max(1, ...data.map((p) => p.viewers));
  const x = (t) => PAD.left + (t / maxT) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / maxV) * (H - PAD.top - PAD.bottom);
  // a step line: the viewer count holds until the next point, and the last one until the end
  const steps = [];
  data.forEach((p, i) => {
    const until = i + 1 < data.length ? data[i + 1].offsetSeconds : maxT;
    steps.push([x(p.offsetSeconds), y(p.viewers)], [x(until), y(p.viewers)]);
  });
  const line = steps.map(([px, py], i) => `${i ? 'L' : 'M'}${px.toFixed(1)} ${py.toFixed(1)}`).join(' ');
  const area = steps.length ? `${line} L${steps[steps.length - 1][0].toFixed(1)} ${y(0)} L${steps[0][0].toFixed(1)} ${y(0)} Z` : '';
  const peak = data.length ? Math.max(...data.map((p) => p.viewers)) : 0;
  const label = data.length ? `Viewers over time: from ${formatCount(data[0].viewers)} to ${formatCount(data[data.length - 1].viewers)}, peak ${formatCount(peak)}, over ${formatDuration(maxT)}` : 'Viewers over time: no data';
  return svg(
    'svg',
    { class: 'viewers-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label },
    svg('title', { text: label }),
    svg('line', { class: 'axis', x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0) }),
    svg('line', { class: 'axis', x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: y(0) }),
    svg('text', { class: 'tick', x: PAD.left - 4, y: PAD.top + 8, 'text-anchor': 'end', text: formatCount(maxV) }),
    svg('text', { class: 'tick', x: PAD.left - 4, y: y(0), 'text-anchor': 'end', text: '0' }),
    svg('text', { class: 'tick', x: PAD.left, y: H - 4, text: '0:00' }),
    svg('text', { class: 'tick', x: W - PAD.right, y: H - 4, 'text-anchor': 'end', text: formatDuration(maxT) }),
    area ? svg('path', { class: 'area', d: area }) : null,
    line ? svg('path', { class: 'line', d: line }) : null,
  );
}

function figure(label, value) {
  return h('div', { class: 'stat' }, h('dt', { text: label }), h('dd', { text: value }));
}

function percent(value) {
  return `${(Number(value || 0) * 100).toFixed(Number(value) > 0 && Number(value) < 0.1 ? 1 : 0)} %`;
}

export function renderReport(container, report) {
  const rows = (report.products || []).map((p) =>
    h(
      'tr',
      { dataset: { productId: String(p.product.id) } },
      h('th', { scope: 'row', text: p.product.name }),
      h('td', { text: formatDuration(p.secondsOnScreen) }),
      h('td', { text: formatCount(p.clicks) }),
      h('td', { text: percent(p.clickThrough) }),
    ),
  );
  container.replaceChildren(
    h(
      'dl',
      { class: 'stats' },
      figure('Duration', formatDuration(report.durationSeconds)),
      figure('Peak viewers', formatCount(report.peakViewers)),
      figure('Average viewers', (Number(report.averageViewers) || 0).toFixed(1)),
      figure('Chat messages', formatCount(report.chatMessages)),
      figure('Likes', formatCount(report.likes)),
      figure('Unique addresses', formatCount(report.uniqueAddresses)),
    ),
    h('p', {
      class: 'muted report-rules',
      text:
        'Likes and Buy clicks count only from shoppers who had watched for a few seconds; viewers are ' +
        'shoppers who joined the show. Unique addresses counts the networks they watched from: many ' +
        'viewers from few addresses can be one person with many identities.',
    }),
    h('h3', { text: 'Viewers over time' }),
    h('figure', { class: 'chart' }, viewersChart(report.viewersOverTime, report.durationSeconds)),
    h('h3', { text: 'Products' }),
    rows.length
      ? h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'report-table' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Product' }), h('th', { scope: 'col', text: 'On screen' }), h('th', { scope: 'col', text: 'Clicks' }), h('th', { scope: 'col', text: 'Click-through' }))),
            h('tbody', {}, rows),
          ),
        )
      : h('p', { class: 'muted', text: 'No products were pinned in this show.' }),
  );
}
