// The live alert feed: Server-Sent Events from /ui/alerts/stream, each new alert added on top with its
// confirm/dismiss form, a visual flash, the count in the title and (if chosen) a short tone. The plate crop of
// each new alert's read is fetched from /ui/alerts/{id}/crop (decided alerts: on request); the server answers
// 204 when there is none or the policy gate refuses it, and the card then shows none.
"use strict";

(function () {
  const list = document.getElementById("alerts");
  const template = document.getElementById("alert-template");
  const status = document.getElementById("live-status");
  if (!list) return;

  // The crop as a data: URL (the Content-Security-Policy allows images from this origin and data: only).
  function showCrop(slot, onDemand) {
    if (slot.dataset.loaded) return;
    slot.dataset.loaded = "yes";
    fetch(slot.dataset.crop, { credentials: "same-origin" })
      .then((response) => (response.status === 200 ? response.blob() : null))
      .then((blob) => {
        if (!blob) {
          slot.textContent = onDemand ? "No plate crop of this read that you may see." : "";
          slot.classList.add("hint");
          return;
        }
        const reader = new FileReader();
        reader.addEventListener("load", () => {
          const figure = document.createElement("figure");
          figure.className = "crop";
          const img = document.createElement("img");
          img.alt = "Plate crop of the read";
          img.src = reader.result;
          const caption = document.createElement("figcaption");
          caption.textContent = slot.dataset.caption || "Plate crop (audited)";
          figure.append(img, caption);
          slot.replaceChildren(figure);
        });
        reader.readAsDataURL(blob);
      })
      .catch(() => { delete slot.dataset.loaded; });
  }

  function crops(root) {
    root.querySelectorAll(".crop-slot[data-crop]").forEach((slot) => {
      if ("auto" in slot.dataset) showCrop(slot, false);
      slot.querySelector("button.crop-load")?.addEventListener("click", () => showCrop(slot, true));
    });
  }
  crops(list);
  if (!template || !window.EventSource) return;
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
    const slot = card.querySelector(".crop-slot");
    slot.dataset.crop = `/ui/alerts/${body.id}/crop`;
    slot.dataset.caption = `Plate crop, viewed under ${body.entry.purpose}, case ${body.entry.reference} (audited)`;
    document.getElementById("no-alerts")?.remove();
    list.prepend(card);
    crops(card);
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
