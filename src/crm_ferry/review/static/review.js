// crm-ferry review: the little the pages need from the browser, and nothing from a CDN.
//
// <form data-send data-target="#id">   sent with fetch (its method and action, the fields
//                                      as a form body); the answer (an HTML fragment)
//                                      replaces the element #id (default: the form itself)
// <select data-send-on-change> inside such a form sends it as soon as it changes
// <div data-poll="URL" data-every="1000">  its content is replaced by URL's answer every
//                                      N ms while the page is visible (data-stop="1" in
//                                      the answer's first element stops polling)
"use strict";
(function () {
  function replace(target, html) {
    const box = document.createElement("template");
    box.innerHTML = html.trim();
    const node = box.content.firstElementChild && box.content.childElementCount === 1
      ? box.content.firstElementChild : box.content;
    const first = node.firstElementChild || node;
    target.replaceWith(node);
    wire(document);
    document.dispatchEvent(new CustomEvent("ferry:updated", { detail: first }));
  }

  async function send(form, submitter) {
    const target = form.dataset.target ? document.querySelector(form.dataset.target) : form;
    const body = new URLSearchParams(new FormData(form, submitter || undefined));
    form.setAttribute("aria-busy", "true");
    try {
      const answer = await fetch(form.action, {
        method: (form.getAttribute("method") || "post").toUpperCase(),
        body: body,
        headers: { "Accept": "text/html; fragment=1" },
        credentials: "same-origin",
      });
      replace(target || form, await answer.text());
    } catch (err) {
      form.removeAttribute("aria-busy");
      const note = document.createElement("p");
      note.className = "bad";
      note.textContent = "The review server did not answer (" + err + "): is `crm-ferry review` still running?";
      form.append(note);
    }
  }

  function poll(el) {
    if (el.dataset.polling) return;
    el.dataset.polling = "1";
    const every = parseInt(el.dataset.every || "1000", 10);
    const tick = async function () {
      if (!document.body.contains(el)) return;
      if (!document.hidden) {
        try {
          const answer = await fetch(el.dataset.poll, {
            headers: { "Accept": "text/html; fragment=1" }, credentials: "same-origin",
          });
          el.innerHTML = await answer.text();
          wire(el);
          const first = el.firstElementChild;
          if (first && first.dataset.stop === "1") return;
        } catch (err) { /* the server stopped: try again later */ }
      }
      setTimeout(tick, every);
    };
    setTimeout(tick, every);
  }

  function wire(root) {
    root.querySelectorAll("form[data-send]").forEach(function (form) {
      if (form.dataset.wired) return;
      form.dataset.wired = "1";
      form.addEventListener("submit", function (ev) { ev.preventDefault(); send(form, ev.submitter); });
      form.querySelectorAll("[data-send-on-change]").forEach(function (input) {
        input.addEventListener("change", function () { send(form); });
      });
    });
    root.querySelectorAll("[data-poll]").forEach(poll);
  }

  window.ferry = { send: send, wire: wire };
  document.addEventListener("DOMContentLoaded", function () { wire(document); });
})();
