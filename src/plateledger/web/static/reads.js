// The read detail: a click on a read's thumbnail (or its Details button) in the results table opens a dialog with
// the read's fields and its full images (plate crop, overview). The fields come from the answer on the page
// (obtained under the search's audit entry); each image is fetched from /ui/images/..., which the gate decides and
// the audit log records as its own view. Without JavaScript, the thumbnail is a link to the full image.
"use strict";

(function () {
  const dialog = document.getElementById("read-detail");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const fields = document.getElementById("read-detail-fields");
  const images = dialog.querySelector(".read-images");
  const none = dialog.querySelector(".read-no-image");
  const NAMES = { plate: "Plate crop", overview: "Overview image" };

  function rows(read) {
    const vehicle = read.vehicle || {};
    return [
      ["Plate", read.plate],
      ["As read", read.plate_as_read],
      ["Region", read.region],
      ["Time", window.plateledgerTime(read.ts)],
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
    const shown = read.images || [];
    none.hidden = shown.length > 0;
    images.replaceChildren(
      ...shown.map((image) => {
        const figure = document.createElement("figure");
        figure.className = `read-image ${image.kind}`;
        const img = document.createElement("img");
        img.alt = `${NAMES[image.kind] || "Image"} of ${read.plate} at ${read.camera}, ${window.plateledgerTime(read.ts)}`;
        img.src = image.full;
        const caption = document.createElement("figcaption");
        caption.className = "hint";
        caption.textContent = `${NAMES[image.kind] || "Image"}, ${images.dataset.caption}`;
        figure.append(img, caption);
        return figure;
      }),
    );
    dialog.showModal();
  }

  document.querySelectorAll(".read-open[data-read]").forEach((opener) => {
    opener.addEventListener("click", (event) => {
      event.preventDefault();
      open(JSON.parse(opener.dataset.read));
    });
  });
  document.getElementById("read-detail-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => images.replaceChildren());
})();
