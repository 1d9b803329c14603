/* Live updates of the public status page over a websocket.
 *
 * The server pushes {"type": "snapshot", "version": N, ...} after every public
 * change. On every (re)connect the page says which version it shows, and the
 * server answers with the current one if it is newer, so nothing is lost while
 * the connection was down. Reconnects back off from 0.5 s to 30 s with jitter.
 *
 * The version is the time the snapshot was built (microseconds since the epoch),
 * and the server publishes a new one at least every minute while its rebuilds
 * work: the page says how long ago that was, and flags itself as possibly out of
 * date once that is longer than the server's limit (data-stale-after, seconds).
 */
(function () {
  "use strict";
  var body = document.body;
  var version = parseInt(body.getAttribute("data-snapshot-version"), 10) || 0;
  var path = body.getAttribute("data-ws-path") || "/ws/public/";
  var connection = document.querySelector('[data-field="connection"]');
  var freshness = document.querySelector('[data-field="freshness"]');
  var staleAfter = freshness ? parseInt(freshness.getAttribute("data-stale-after"), 10) || 0 : 0;
  var applied = {};
  var delay = 500;
  var MAX_DELAY = 30000;
  var socket = null;
  var timer = null;

  function setConnection(text) { if (connection) connection.textContent = text; }

  function ago(seconds) {
    var minutes = Math.floor(seconds / 60);
    if (minutes < 1) return "just now";
    if (minutes < 60) return minutes + (minutes === 1 ? " minute ago" : " minutes ago");
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + (hours === 1 ? " hour ago" : " hours ago");
    return Math.floor(hours / 24) + " days ago";
  }

  function showFreshness() {
    if (!freshness || !version) return;
    var built = new Date(version / 1000);
    var age = Math.max(0, (Date.now() - built.getTime()) / 1000);
    var time = freshness.querySelector('[data-field="built-at"]');
    time.setAttribute("datetime", built.toISOString());
    time.setAttribute("title", built.toLocaleString());
    time.textContent = ago(age);
    var stale = staleAfter > 0 && age > staleAfter;
    freshness.className = stale ? "freshness stale" : "freshness";
    freshness.querySelector('[data-field="stale-notice"]').hidden = !stale;
  }

  function setStatusClass(el, prefix, value) {
    el.className = el.className.split(" ").filter(function (c) { return c.indexOf(prefix) !== 0; }).concat([prefix + value]).join(" ");
  }

  function apply(msg) {
    if (msg.type !== "snapshot" || !(msg.version > version)) return;
    version = msg.version;
    body.setAttribute("data-snapshot-version", String(version));
    showFreshness();
    var overall = document.querySelector("[data-overall]");
    if (overall && msg.overall) {
      setStatusClass(overall, "ind-", msg.overall.indicator);
      overall.setAttribute("data-indicator", msg.overall.indicator);
      overall.querySelector('[data-field="overall-status"]').textContent = msg.overall.description;
    }
    if (msg.html) {
      Object.keys(msg.html).forEach(function (name) {
        var region = document.querySelector('[data-live="' + name + '"]');
        // A refresh of unchanged content sends the same HTML: leave the region be.
        if (region && applied[name] !== msg.html[name]) region.innerHTML = msg.html[name];
        applied[name] = msg.html[name];
      });
    }
    function paint(selector, field, states) {
      Object.keys(states || {}).forEach(function (id) {
        var el = document.querySelector("[" + selector + '="' + id + '"] [data-field="' + field + '"]');
        if (!el) return;
        el.textContent = states[id].label;
        el.setAttribute("data-status", states[id].status);
        setStatusClass(el, "st-", states[id].status);
      });
    }
    paint("data-component-id", "component-status", msg.components);
    paint("data-group-id", "group-status", msg.groups);
  }

  function connect() {
    if (!("WebSocket" in window)) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + path);
    socket.onopen = function () {
      delay = 500;
      setConnection("live updates on");
      socket.send(JSON.stringify({ type: "hello", version: version }));
    };
    socket.onmessage = function (event) {
      try { apply(JSON.parse(event.data)); } catch (e) { /* a bad frame must not stop later ones */ }
    };
    socket.onclose = function () {
      setConnection("live updates reconnecting…");
      var wait = delay / 2 + Math.random() * delay / 2;
      delay = Math.min(MAX_DELAY, delay * 2);
      timer = setTimeout(connect, wait);
    };
  }

  // A tab woken from sleep may hold a dead socket: reconnect at once if so.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && socket && socket.readyState === WebSocket.CLOSED) {
      clearTimeout(timer);
      delay = 500;
      connect();
    }
  });
  showFreshness();
  setInterval(showFreshness, 15000);
  connect();
})();
