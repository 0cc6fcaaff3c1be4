"""The letter as HTML (one Jinja2 template, autoescaped, with print CSS) and as PDF (fpdf2, from the same
:class:`~plateledger.subjects.letter.Letter`, so both say the same thing).

The PDF uses the PDF core font (Helvetica, Latin-1): a character outside Latin-1 in a name or address is written
as ``?`` (the HTML letter has every character; docs/subject-requests.md).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import jinja2

from plateledger.subjects.letter import Letter

CSS_NAME = "letter.css"


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("plateledger.subjects", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def letter_css() -> str:
    return (files("plateledger.subjects") / "templates" / CSS_NAME).read_text(encoding="utf-8")


def render_html(letter: Letter, *, stylesheet: str | None = None) -> str:
    """The letter as one HTML page: its CSS inline, or linked from ``stylesheet`` (the web UI's pages allow no
    inline style)."""
    return _templates().get_template("letter.html").render(letter=letter, stylesheet=stylesheet, css=letter_css())


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


class _Pdf:
    def __init__(self) -> None:
        # fpdf is loaded when a PDF is written, not with every CLI command (0.6 s of `plateledger ingest`'s start).
        from fpdf import FPDF

        self.pdf = FPDF(format="A4")
        self.pdf.set_margins(20, 20, 20)
        self.pdf.set_auto_page_break(auto=True, margin=20)
        self.pdf.add_page()
        self.pdf.set_font("Helvetica", size=11)

    def text(self, words: str, *, size: int = 11, bold: bool = False, align: str = "L", gap: float = 2) -> None:
        self.pdf.set_font("Helvetica", "B" if bold else "", size)
        self.pdf.multi_cell(0, 5.5, _latin1(words), align=align, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(gap)

    def table(self, head: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        self.pdf.set_font("Helvetica", "", 10)
        with self.pdf.table(text_align="LEFT", first_row_as_headings=True, width=170) as table:
            for cells in (head, *rows):
                row = table.row()
                for cell in cells:
                    row.cell(_latin1(cell))
        self.pdf.ln(2)


def render_pdf(letter: Letter) -> bytes:
    """The letter as a PDF (A4)."""
    out = _Pdf()
    out.text(f"{letter.agency_name}\n{letter.written}", align="R", gap=8)
    out.text(f"{letter.keeper}\n{letter.postal_address}", gap=6)
    out.text(
        f"Our reference {letter.reference} - your request of {letter.requested} - registered keeper verified on "
        f"{letter.verified_on} ({letter.verified_method.replace('_', ' ')})",
        size=9,
    )
    out.text(f"Your request about plate {letter.plate} ({letter.region})", size=13, bold=True, gap=3)
    out.text(f"Dear {letter.keeper},")
    out.text(
        f"You asked what {letter.agency_name} holds about the vehicle registration plate {letter.plate} of "
        f"{letter.region}. This letter answers for {letter.agency_name} only: every agency whose data might hold "
        "the plate received your request and answers for its own data."
    )
    if letter.ncnd:
        out.text(
            "We can neither confirm nor deny whether we hold information about this plate. We give this answer "
            "where confirming or denying could itself reveal information that the law allows us to withhold; it "
            "should not be read as saying that we do, or that we do not, hold any."
        )
    else:
        out.text("Plate reads we hold", bold=True)
        if letter.months:
            times = "time" if letter.reads == 1 else "times"
            out.text(f"Our cameras recorded the plate {letter.reads} {times} in the reads we still hold, by month:")
            out.table(("Month", "Reads", "Deleted by"), [(m.month, str(m.reads), m.deleted_by) for m in letter.months])
        else:
            out.text("We hold no reads of this plate.")
        out.text(
            f"Our policy keeps a read for {letter.retention_days} days, then deletes it; a read linked to a confirmed "
            f"hot-list hit or a case is kept for up to {letter.hit_retention_days} days. Reads of the plate with no "
            "region recorded are counted with it."
        )
        out.text("Hot lists", bold=True)
        if letter.hot_lists:
            out.text("The plate is on these hot lists of ours (a reader that sees it alerts our staff):")
            out.table(
                ("List", "Purpose", "Until"),
                [(h.name, h.purpose.replace("_", " "), h.until) for h in letter.hot_lists],
            )
        else:
            out.text("The plate is on none of our hot lists that we may disclose.")
        out.text("Searches of the plate in our data", bold=True)
        if letter.searches:
            out.text("These agencies searched for the plate and received our reads, by month:")
            out.table(("Month", "Agency", "Searches"), [(s.month, s.agency, str(s.searches)) for s in letter.searches])
        else:
            out.text("No search for the plate has received our reads.")
    out.text(
        "This letter is addressed only to the registered keeper of the vehicle. Generating it was recorded on our "
        "audit log."
    )
    out.text(letter.agency_name)
    return bytes(out.pdf.output())
