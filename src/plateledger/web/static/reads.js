// The read detail: a click on a read's thumbnail (or its Details button) in the results table opens a dialog with
// the read's fields and its full plate crop. The fields come from the answer on the page (obtained under the
// search's audit entry); the full image is fetched from /ui/images/..., which the gate decides and the audit log
// records as its own view. Without JavaScript, the thumbnail is a link to the full image.
"use strict";

(function () {
  const dialog = document.getElementById("read-detail");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const fields = document.getElementById("read-detail-fields");
  const figure = dialog.querySelector("figure.read-image");
  const image = figure.querySelector("img");
  const none = dialog.querySelector(".read-no-image");

  function rows(read) {
    const vehicle = read.vehicle || {};
    return [
      ["Plate", read.plate],
      ["As read", read.plate_as_read],
      ["Region", read.region],
      ["Time (UTC)", read.ts],
      ["Camera", read.camera],
      ["Owner", read.owner],
      ["Confidence", read.confidence == null ? null : Number(read.confidence).toFixed(2)],
      ["Position", read.lat == null ? null : `${Number(read.lat).toFixed(5)}, ${Number(read.lon).toFixed(5)}`],
      ["Make", vehicle.make],
      ["Model", vehicle.model],
      ["Colour", vehicle.color],
      ["Type", vehicle.type],
      ["Direction", vehicle.direction == null ? null : `${vehicle.direction}°`],
    ].filter(([, value]) => value != null && value !== "");
  }

  function open(read) {
    document.getElementById("read-detail-title").textContent = `Read of ${read.plate}`;
    fields.replaceChildren(
      ...rows(read).flatMap(([name, value]) => {
        const dt = document.createElement("dt");
        dt.textContent = name;
        const dd = document.createElement("dd");
        dd.textContent = String(value);
        return [dt, dd];
      }),
    );
    figure.hidden = !read.full;
    none.hidden = Boolean(read.full);
    image.removeAttribute("src");
    if (read.full) {
      image.alt = `Plate crop of ${read.plate} at ${read.camera}, ${read.ts}`;
      image.src = read.full;
    }
    dialog.showModal();
  }

  document.querySelectorAll(".read-open[data-read]").forEach((opener) => {
    opener.addEventListener("click", (event) => {
      event.preventDefault();
      open(JSON.parse(opener.dataset.read));
    });
  });
  document.getElementById("read-detail-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => image.removeAttribute("src"));
})();
