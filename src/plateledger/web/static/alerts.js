// The live alert feed: Server-Sent Events from /ui/alerts/stream, each new alert added on top with its
// confirm/dismiss form, a visual flash, the count in the title and (if chosen) a short tone. The plate crop of
// each new alert's read is fetched as a thumbnail from /ui/alerts/{id}/crop?size=thumb (decided alerts: on
// request), a link to the full crop (each view audited on its own), when the alert says
// its crop is stored ("image": "stored"; an alert is published only after its read's images are stored); the
// server answers 204 when the policy gate refuses it (or there is none), and the card then shows none. A crop
// that cannot be fetched (network or server error, or a 404 should it not be there yet) is retried with a
// bounded backoff (1, 2, 4, 8 s), then the card says so.
"use strict";

(function () {
  const list = document.getElementById("alerts");
  const template = document.getElementById("alert-template");
  const status = document.getElementById("live-status");
  if (!list) return;

  // The crop as a data: URL (the Content-Security-Policy allows images from this origin and data: only).
  const RETRIES = [1000, 2000, 4000, 8000];

  function retry(slot, onDemand, attempt) {
    if (attempt >= RETRIES.length) {
      slot.textContent = "The plate crop could not be fetched; reload the page to try again.";
      slot.classList.add("hint");
      return;
    }
    window.setTimeout(() => showCrop(slot, onDemand, attempt + 1), RETRIES[attempt]);
  }

  function showCrop(slot, onDemand, attempt = 0) {
    if (slot.dataset.loaded && attempt === 0) return;
    slot.dataset.loaded = "yes";
    fetch(`${slot.dataset.crop}?size=thumb`, { credentials: "same-origin" })
      .then((response) => {
        if (response.status === 200) return response.blob();
        if (response.status === 204) return null;
        retry(slot, onDemand, attempt);
        return undefined;
      })
      .then((blob) => {
        if (blob === undefined) return;
        if (!blob) {
          slot.textContent = onDemand ? "No plate crop of this read that you may see." : "";
          slot.classList.add("hint");
          return;
        }
        const reader = new FileReader();
        reader.addEventListener("load", () => {
          const figure = document.createElement("figure");
          figure.className = "crop";
          const full = document.createElement("a");
          full.href = slot.dataset.crop;
          full.target = "_blank";
          full.rel = "noopener";
          const img = document.createElement("img");
          img.alt = "Plate crop of the read (opens the full image)";
          img.src = reader.result;
          full.append(img);
          const caption = document.createElement("figcaption");
          caption.textContent = slot.dataset.caption || "Plate crop (audited)";
          figure.append(full, caption);
          slot.replaceChildren(figure);
        });
        reader.readAsDataURL(blob);
      })
      .catch(() => retry(slot, onDemand, attempt));
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

  // The read's vehicle in one line, as the server writes it on listed cards: "red Toyota Corolla (sedan)".
  function vehicleLine(vehicle) {
    if (!vehicle) return "";
    const words = [vehicle.color, vehicle.make, vehicle.model].filter(Boolean).join(" ");
    if (!vehicle.type) return words;
    return words ? `${words} (${vehicle.type})` : vehicle.type;
  }

  function add(body) {
    if (document.getElementById(`alert-${body.id}`)) return;
    const card = template.content.firstElementChild.cloneNode(true);
    card.id = `alert-${body.id}`;
    card.dataset.alertId = body.id;
    card.querySelectorAll("[data-f]").forEach((el) => {
      const value = get(body, el.dataset.f);
      el.textContent = "time" in el.dataset ? window.plateledgerTime(value) : value == null ? "" : String(value);
    });
    card.querySelector("form").action = `/ui/alerts/${body.id}/decide`;
    const vehicle = vehicleLine(body.read.vehicle);
    const vehicleSlot = card.querySelector("[data-vehicle]");
    if (vehicle) vehicleSlot.querySelector(".vehicle").textContent = vehicle;
    else vehicleSlot.remove();
    const slot = card.querySelector(".crop-slot");
    if (body.image === "stored") {
      slot.dataset.crop = `/ui/alerts/${body.id}/crop`;
      slot.dataset.caption = `Plate crop, viewed under ${body.entry.purpose}, case ${body.entry.reference} (audited)`;
    } else {
      slot.textContent = "No plate crop of this read is stored.";
      slot.classList.add("hint");
    }
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
