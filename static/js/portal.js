/* Responder pages: ticking timers, live updates, form resets and severity colours.
 * No build step; loaded with defer. No inline script anywhere: the
 * Content-Security-Policy allows scripts from this origin only.
 *
 * Live updates: an element with hx-ext="ws" ws-connect="..." data-live-event="NAME"
 * opens a websocket (the htmx ws extension reconnects with backoff). Messages are
 * typed JSON ({"event", "payload"}), not HTML: on each change the page fires NAME
 * on <body>, and the regions listening for it (hx-trigger="NAME from:body") re-fetch
 * their fragment through their own authenticated request. After a reconnect the
 * same event fires once, so whatever was missed while away is caught up.
 */
(function () {
  "use strict";

  function compact(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + (seconds % 60) + "s";
    return (seconds % 60) + "s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var t = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(t)) el.textContent = compact((now - t) / 1000);
    });
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) return;
      var left = (due - now) / 1000;
      if (left >= 0) {
        el.textContent = "respond within " + compact(left);
        el.classList.remove("breached");
      } else {
        el.textContent = "response overdue by " + compact(-left);
        el.classList.add("breached");
      }
    });
  }

  function setLiveStatus(root, state, text) {
    root.querySelectorAll("[data-live-status]").forEach(function (el) {
      el.textContent = text;
      el.setAttribute("data-state", state);
    });
    root.setAttribute("data-live-state", state);
  }

  function liveRoot(evt) {
    var el = evt.target;
    return el && el.closest ? el.closest("[data-live-event]") : null;
  }

  document.addEventListener("htmx:wsBeforeMessage", function (evt) {
    var root = liveRoot(evt);
    if (!root) return;
    evt.preventDefault(); // JSON events, not HTML to swap
    var message;
    try { message = JSON.parse(evt.detail.message); } catch (e) { return; }
    if (!message || message.event === "hello" || message.event === "pong") return;
    root.setAttribute("data-last-event", message.event);
    htmx.trigger(document.body, root.getAttribute("data-live-event"), message);
  });

  document.addEventListener("htmx:wsOpen", function (evt) {
    var root = liveRoot(evt);
    if (!root) return;
    setLiveStatus(root, "live", "Live");
    // Re-fetch once on every (re)connection: changes made between the page render
    // (or the drop) and this moment reached no socket of ours.
    htmx.trigger(document.body, root.getAttribute("data-live-event"), { event: "connected" });
  });

  document.addEventListener("htmx:wsClose", function (evt) {
    var root = liveRoot(evt);
    if (!root) return;
    var code = evt.detail && evt.detail.event ? evt.detail.event.code : 0;
    if (code >= 4000) setLiveStatus(root, "denied", "Not live: sign in again");
    else setLiveStatus(root, "offline", "Reconnecting…");
  });

  // Severity colours come from the severity table; the Content-Security-Policy
  // allows no style attributes, so they are set through the CSSOM instead.
  function paintSeverities() {
    document.querySelectorAll("[data-sev-colour]").forEach(function (el) {
      el.style.setProperty("--sev-colour", el.getAttribute("data-sev-colour"));
    });
    // Bars placed by percentage (the on-call schedule's shifts), for the same reason.
    document.querySelectorAll("[data-bar-left]").forEach(function (el) {
      el.style.left = parseFloat(el.getAttribute("data-bar-left")) + "%";
      el.style.width = parseFloat(el.getAttribute("data-bar-width")) + "%";
    });
  }

  // A fragment swapped in after a reconnect carries its own status badge: keep it truthful.
  document.addEventListener("htmx:afterSwap", function () {
    paintSeverities();
    document.querySelectorAll("[data-live-event]").forEach(function (root) {
      var state = root.getAttribute("data-live-state");
      if (state === "live") setLiveStatus(root, "live", "Live");
      else if (state === "offline") setLiveStatus(root, "offline", "Reconnecting…");
    });
    tick();
  });

  // Plain (non-htmx) forms that destroy something ask first: data-confirm="Delete this probe?".
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!form || !form.matches || !form.matches("form[data-confirm]") || form.hasAttribute("hx-post")) return;
    if (!window.confirm(form.getAttribute("data-confirm"))) evt.preventDefault();
  });

  // After a change made in place (an htmx POST that succeeded), the page's flashed
  // messages describe an earlier moment ("INC-7 declared."): take them away. A form
  // marked data-reset-on-success is emptied, and data-clear-on-success names an
  // element to empty with it (the preview). No inline handlers: the pages run
  // under a Content-Security-Policy without inline scripts.
  document.addEventListener("htmx:afterRequest", function (evt) {
    var detail = evt.detail || {};
    var verb = detail.requestConfig ? detail.requestConfig.verb : "";
    if (!detail.successful || !verb || verb === "get") return;
    document.querySelectorAll("main > .messages").forEach(function (el) { el.remove(); });
    var form = detail.elt;
    if (!form || form.tagName !== "FORM" || !form.hasAttribute("data-reset-on-success")) return;
    form.reset();
    var clear = form.getAttribute("data-clear-on-success");
    if (clear) document.querySelectorAll(clear).forEach(function (el) { el.innerHTML = ""; });
  });

  document.addEventListener("DOMContentLoaded", function () { paintSeverities(); tick(); });
  setInterval(tick, 1000);
})();
