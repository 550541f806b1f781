// crm-ferry review, the map page: the tenant's users are sent once (<template id="user-options">)
// and copied into every owner list (<select data-users>) in the browser, instead of once per
// coach in the page (200 coaches × 80 users would be megabytes of HTML).
"use strict";
(function () {
  function fill(root) {
    const users = document.getElementById("user-options");
    if (!users) return;
    root.querySelectorAll("select[data-users]").forEach(function (list) {
      if (list.dataset.filled) return;
      list.dataset.filled = "1";
      const current = list.value;
      const have = new Set(Array.from(list.options, function (o) { return o.value; }));
      const copies = document.createDocumentFragment();
      users.content.querySelectorAll("option").forEach(function (o) {
        if (!have.has(o.value)) copies.append(o.cloneNode(true));
      });
      list.append(copies);
      list.value = current;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { fill(document); });
  document.addEventListener("ferry:updated", function () { fill(document); });
})();
