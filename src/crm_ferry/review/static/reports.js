// crm-ferry review: the sample and verify pages' filters and picks (nothing else).
//
// <select data-submit-on-change>   in a filter form: the form is sent (the server filters)
// <input type=checkbox data-pick-page>  picks (or unpicks) every difference on the page
"use strict";
(function () {
  function wire() {
    document.querySelectorAll("select[data-submit-on-change]").forEach(function (select) {
      select.addEventListener("change", function () {
        select.form.requestSubmit();
      });
    });
    document.querySelectorAll("input[data-pick-page]").forEach(function (box) {
      box.addEventListener("change", function () {
        document.querySelectorAll("input[type=checkbox][name=id][form=accept]").forEach(function (b) {
          b.checked = box.checked;
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", wire);
})();
