// Sortable, paginated tables: <table data-sortable data-page-size="25">. Without JavaScript every row is shown.
"use strict";

(function () {
  function cellValue(row, index) {
    const text = row.cells[index]?.textContent.trim() ?? "";
    const number = Number(text);
    return text !== "" && !Number.isNaN(number) ? number : text;
  }

  function setUp(table) {
    const body = table.tBodies[0];
    if (!body) return;
    const rows = Array.from(body.rows);
    const size = Number(table.dataset.pageSize || "25");
    let page = 0;
    const pager = document.createElement("nav");
    pager.className = "pager";
    pager.setAttribute("aria-label", "Table pages");
    const prev = document.createElement("button");
    prev.type = "button";
    prev.textContent = "Previous";
    const next = document.createElement("button");
    next.type = "button";
    next.textContent = "Next";
    const status = document.createElement("span");
    status.setAttribute("aria-live", "polite");
    pager.append(prev, status, next);
    table.parentElement.after(pager);

    function show() {
      const pages = Math.max(1, Math.ceil(rows.length / size));
      page = Math.min(Math.max(page, 0), pages - 1);
      rows.forEach((row, i) => { row.hidden = Math.floor(i / size) !== page; });
      status.textContent = ` page ${page + 1} of ${pages} (${rows.length} rows) `;
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }
    prev.addEventListener("click", () => { page -= 1; show(); });
    next.addEventListener("click", () => { page += 1; show(); });

    Array.from(table.tHead.rows[0].cells).forEach((th, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.append(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", () => {
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("th").forEach((other) => other.setAttribute("aria-sort", "none"));
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        rows.sort((a, b) => {
          const x = cellValue(a, index);
          const y = cellValue(b, index);
          return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
        });
        body.append(...rows);
        page = 0;
        show();
      });
    });
    show();
  }

  document.querySelectorAll("table[data-sortable]").forEach(setUp);
})();
