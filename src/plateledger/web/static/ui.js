// Plateledger UI: behaviour shared by every page (no inline scripts: the Content-Security-Policy forbids them).
"use strict";

// A UTC ISO 8601 time (as the server's JSON carries it) in the signed-in user's zone with the zone named, as the
// server's pages show times ("2026-12-07 09:14:00 CST"): <body data-time-zone> names the zone.
window.plateledgerTime = function (iso) {
  const moment = new Date(iso);
  if (!iso || Number.isNaN(moment.getTime())) return iso == null ? "" : String(iso);
  const timeZone = document.body.dataset.timeZone || "UTC";
  const parts = {};
  new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  }).formatToParts(moment).forEach((p) => { parts[p.type] = p.value; });
  const zone = timeZone === "UTC" ? "UTC" : parts.timeZoneName;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${zone}`;
};

(function () {
  // Search form: show the plate or the area fields for the chosen mode (a description search has an area too).
  const form = document.getElementById("search-form");
  if (form) {
    const apply = () => {
      const mode = form.querySelector('input[name="mode"]:checked')?.value || "plate";
      const area = mode !== "plate";
      form.classList.toggle("mode-area", area);
      form.classList.toggle("mode-plate", !area);
      form.classList.toggle("mode-description", mode === "description");
      document.dispatchEvent(new CustomEvent("plateledger:mode", { detail: { area } }));
    };
    form.querySelectorAll('input[name="mode"]').forEach((radio) => radio.addEventListener("change", apply));
    apply();
  }
  // A wide table scrolls sideways inside its .table-wrap box (never the page): a box that scrolls takes the
  // keyboard's focus, so the arrow keys scroll it too, and is named by its table's caption (WCAG 2.1.1; axe's
  // scrollable-region-focusable). Checked again when the window's width changes.
  const scrollable = () => {
    document.querySelectorAll(".table-wrap").forEach((wrap) => {
      if (wrap.scrollWidth > wrap.clientWidth) {
        const caption = wrap.querySelector("caption")?.textContent.trim();
        wrap.tabIndex = 0;
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", `${caption || "Table"} (scrolls sideways)`);
      } else {
        ["tabindex", "role", "aria-label"].forEach((name) => wrap.removeAttribute(name));
      }
    });
  };
  scrollable();
  window.addEventListener("resize", scrollable);
  // Forms that ask for confirmation before a consequential step (data-confirm="question").
  document.querySelectorAll("form[data-confirm]").forEach((f) => {
    f.addEventListener("submit", (event) => {
      if (!window.confirm(f.dataset.confirm)) event.preventDefault();
    });
  });
})();
