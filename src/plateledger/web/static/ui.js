// Plateledger UI: behaviour shared by every page (no inline scripts: the Content-Security-Policy forbids them).
"use strict";

(function () {
  // Search form: show the plate or the area fields for the chosen mode.
  const form = document.getElementById("search-form");
  if (form) {
    const apply = () => {
      const area = form.querySelector('input[name="mode"]:checked')?.value === "area";
      form.classList.toggle("mode-area", area);
      form.classList.toggle("mode-plate", !area);
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
