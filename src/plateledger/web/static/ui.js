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
  // Forms that ask for confirmation before a consequential step (data-confirm="question").
  document.querySelectorAll("form[data-confirm]").forEach((f) => {
    f.addEventListener("submit", (event) => {
      if (!window.confirm(f.dataset.confirm)) event.preventDefault();
    });
  });
})();
