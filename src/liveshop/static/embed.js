/* liveshop player for any web page. Put this where the player should appear:
 *   <script src="https://YOUR-LIVESHOP/static/embed.js" async></script>
 * (data-show="42" for one show instead of whatever is live). The page's origin must be listed in
 * the liveshop server's LIVESHOP_EMBED_ORIGINS. Buy clicks arrive as a cancelable
 * `liveshop:add-to-cart` event on window (event.detail.product); call event.preventDefault() when
 * your cart took the product, otherwise the player opens the product page. `liveshop:state`
 * events say whether the show is live and how many watch. See docs/protocol.md. */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src) return;
  var base = new URL(script.src).origin;
  var show = script.getAttribute('data-show') || 'live';
  var frame = document.createElement('iframe');
  frame.src = base + (/^[0-9]+$/.test(show) ? '/embed/' + show : '/embed/live');
  frame.title = script.getAttribute('data-title') || 'Live shopping';
  frame.allow = 'autoplay; fullscreen; picture-in-picture';
  frame.className = 'liveshop-player';
  frame.style.cssText = 'display:block;width:100%;border:0;border-radius:12px;background:#111;';
  script.parentNode.insertBefore(frame, script.nextSibling);

  // upright on narrow screens (a phone), landscape with the chat beside the video on wide ones
  function size() {
    var width = frame.clientWidth || (frame.parentNode && frame.parentNode.clientWidth) || 360;
    var height = width < 640 ? Math.min(width * 16 / 9, window.innerHeight * 0.9) : Math.max(width * 9 / 16, 420);
    frame.style.height = Math.round(height) + 'px';
  }
  size();
  if ('ResizeObserver' in window) new ResizeObserver(size).observe(frame.parentNode);
  else window.addEventListener('resize', size);

  window.addEventListener('message', function (e) {
    if (e.source !== frame.contentWindow || e.origin !== base) return;
    var data = e.data;
    if (!data || typeof data.type !== 'string' || data.type.indexOf('liveshop:') !== 0) return;
    var event = new CustomEvent(data.type, { detail: data, cancelable: true });
    var taken = !window.dispatchEvent(event);
    if (data.type === 'liveshop:add-to-cart' && taken) {
      frame.contentWindow.postMessage({ type: 'liveshop:ack', id: data.id }, base);
    }
  });
})();
