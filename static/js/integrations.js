/* The routing editor's "Add a rule" / "Add a value" buttons: a new row from the
 * formset's empty form (<template id="NAME-empty">), numbered with the formset's
 * TOTAL_FORMS. Without JavaScript a blank row is always there. No inline handlers:
 * the pages run under a Content-Security-Policy without inline scripts. */
(function () {
  "use strict";
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest ? evt.target.closest("[data-add-row]") : null;
    if (!button) return;
    var name = button.getAttribute("data-add-row");
    var template = document.getElementById(name + "-empty");
    var total = document.querySelector('input[name="' + name + '-TOTAL_FORMS"]');
    var rows = document.querySelector('[data-rows="' + name + '"]');
    if (!template || !total || !rows) return;
    var index = parseInt(total.value, 10) || 0;
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
    var row = holder.firstElementChild;
    rows.appendChild(row);
    total.value = String(index + 1);
    var first = row.querySelector("input:not([type=hidden]), select");
    if (first) first.focus();
  });
})();
