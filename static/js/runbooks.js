/* The runbook editor: add a step row (from <template id="steps-empty">), move rows up
 * and down (renumbering their order inputs), and show only the inputs that apply:
 * a manual step's command and target, an automated step's action and the parameters
 * of the action chosen. Without JavaScript every input shows and the order numbers
 * decide. No inline handlers: the pages run under a Content-Security-Policy. */
(function () {
  "use strict";

  function rows() { return document.querySelector('[data-rows="steps"]'); }

  function renumber() {
    var list = rows();
    if (!list) return;
    var n = 1;
    list.querySelectorAll(":scope > .step-row").forEach(function (row) {
      var order = row.querySelector('input[name$="-ORDER"]');
      if (order) order.value = String(n++);
    });
  }

  function sync(row) {
    var kind = row.querySelector('select[name$="-kind"]');
    var action = row.querySelector('select[name$="-action"]');
    row.setAttribute("data-kind", kind ? kind.value : "manual");
    row.setAttribute("data-action", action ? action.value : "");
    row.querySelectorAll("[data-params-for]").forEach(function (group) {
      group.hidden = !action || group.getAttribute("data-params-for") !== action.value;
    });
    row.querySelectorAll("[data-js-only]").forEach(function (el) { el.hidden = false; });
  }

  function setUp(root) {
    root.querySelectorAll(".step-row").forEach(sync);
    document.documentElement.classList.add("js-editor");
  }

  document.addEventListener("change", function (evt) {
    var row = evt.target.closest ? evt.target.closest(".step-row") : null;
    if (row && /-(kind|action)$/.test(evt.target.name || "")) sync(row);
  });

  document.addEventListener("click", function (evt) {
    var add = evt.target.closest ? evt.target.closest('[data-add-row="steps"]') : null;
    if (add) {
      var template = document.getElementById("steps-empty");
      var total = document.querySelector('input[name="steps-TOTAL_FORMS"]');
      var list = rows();
      if (!template || !total || !list) return;
      var index = parseInt(total.value, 10) || 0;
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
      var row = holder.firstElementChild;
      list.appendChild(row);
      total.value = String(index + 1);
      sync(row);
      renumber();
      var first = row.querySelector('input[name$="-title"]');
      if (first) first.focus();
      return;
    }
    var move = evt.target.closest ? evt.target.closest("[data-move]") : null;
    if (move) {
      var current = move.closest(".step-row");
      if (move.getAttribute("data-move") === "up" && current.previousElementSibling) {
        current.parentNode.insertBefore(current, current.previousElementSibling);
      } else if (move.getAttribute("data-move") === "down" && current.nextElementSibling) {
        current.parentNode.insertBefore(current.nextElementSibling, current);
      }
      renumber();
      move.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
})();
