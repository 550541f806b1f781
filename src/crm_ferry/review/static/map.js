// crm-ferry review, the map page: the tenant's users are sent once (<template id="user-options">)
// and copied into an owner list (<select data-users>) when the person reaches for it (focus,
// pointer or key), not into all of them at once: 200 coaches × 80 users are 16,000 options
// the browser would measure before showing the page. The same for a table's columns
// (<template data-columns="cols-T">): made the <datalist> of the column fields that name it
// when one of them is reached (a few hundred columns per table, nine tables: 2,500 options).
"use strict";
(function () {
  function fill(list) {
    const users = document.getElementById("user-options");
    if (!users || list.dataset.filled) return;
    list.dataset.filled = "1";
    const current = list.value;
    const have = new Set(Array.from(list.options, function (o) { return o.value; }));
    const copies = document.createDocumentFragment();
    users.content.querySelectorAll("option").forEach(function (o) {
      if (!have.has(o.value)) copies.append(o.cloneNode(true));
    });
    list.append(copies);
    list.value = current;
  }
  function columns(input) {
    const name = input.getAttribute("list");
    if (!name || document.getElementById(name)) return;
    const kept = document.querySelector('template[data-columns="' + name + '"]');
    if (!kept) return;
    const list = document.createElement("datalist");
    list.id = name;
    list.append(kept.content.cloneNode(true));
    document.body.append(list);
  }
  function reached(ev) {
    const list = ev.target;
    if (list instanceof HTMLSelectElement && list.hasAttribute("data-users")) fill(list);
    if (list instanceof HTMLInputElement && list.hasAttribute("list")) columns(list);
  }
  ["focusin", "pointerdown", "mousedown", "keydown", "touchstart"].forEach(function (kind) {
    document.addEventListener(kind, reached, true);
  });
})();
