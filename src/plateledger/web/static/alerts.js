// The live alert feed: Server-Sent Events from /ui/alerts/stream, each new alert added on top with its
// confirm/dismiss form, a visual flash, the count in the title and (if chosen) a short tone.
"use strict";

(function () {
  const list = document.getElementById("alerts");
  const template = document.getElementById("alert-template");
  const status = document.getElementById("live-status");
  if (!list || !template || !window.EventSource) return;
  const title = document.title;
  let unseen = 0;

  function get(body, path) {
    return path.split(".").reduce((v, k) => (v == null ? v : v[k]), body);
  }

  function beep() {
    if (!document.getElementById("sound")?.checked) return;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    const ctx = new Ctx();
    const osc = ctx.createOscillator();
    osc.frequency.value = 880;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
  }

  function add(body) {
    if (document.getElementById(`alert-${body.id}`)) return;
    const card = template.content.firstElementChild.cloneNode(true);
    card.id = `alert-${body.id}`;
    card.dataset.alertId = body.id;
    card.querySelectorAll("[data-f]").forEach((el) => {
      const value = get(body, el.dataset.f);
      el.textContent = value == null ? "" : String(value);
    });
    card.querySelector("form").action = `/ui/alerts/${body.id}/decide`;
    document.getElementById("no-alerts")?.remove();
    list.prepend(card);
    unseen += 1;
    document.title = `(${unseen}) ${title}`;
    beep();
  }

  const after = Number(list.dataset.after || "0");
  const source = new EventSource(`/ui/alerts/stream?after=${after}`);
  source.addEventListener("open", () => {
    status.dataset.state = "open";
    status.textContent = "Live: new alerts appear here as they arrive.";
  });
  source.addEventListener("error", () => {
    status.dataset.state = "closed";
    status.textContent = "Live feed interrupted; reconnecting…";
  });
  source.addEventListener("alert", (event) => add(JSON.parse(event.data)));
  window.addEventListener("focus", () => { unseen = 0; document.title = title; });
})();
