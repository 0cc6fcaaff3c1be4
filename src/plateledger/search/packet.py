"""A case packet: one search's answer as a PDF to file with a case (fpdf2, no network).

It holds what the reads were obtained under (query, purpose, case, warrant, requester, agency, time), the
search's audit entry and its inclusion proof in the verifiable log (:mod:`plateledger.audit.proofs`) with how to
check it with ``plateledger-verify``, a map (reads and the requester's cameras drawn as vectors on a lat/lon box:
no tiles), a timeline, the table of reads with the vehicle's make, model, colour and type, the owners withheld,
and the plate images the requester may see (each fetched through the image gate, so each is an ``image.viewed``
entry before the packet exists).

Text: with the TrueType font of the ``pdf_font`` setting (DejaVu Sans, Debian's ``fonts-dejavu-core``) any
character the font has is written as is; a character it lacks, or any character outside Latin-1 when the font
file is missing (then the PDF core font Helvetica is used), is written as ``[U+XXXX]``: never dropped.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from plateledger.audit.proofs import EntryProof
from plateledger.auth.tokens import Principal
from plateledger.core.clock import iso_ms
from plateledger.search.engine import SearchResult
from plateledger_verify.note import b64

#: The most plate images a packet holds (the first reads' with an image); more are counted, not fetched.
MAX_IMAGES = 24
FAMILY = "PacketFont"
TABLE_HEAD = ("#", "time (UTC)", "plate", "region", "camera", "owner", "lat, lon", "make", "model", "colour", "type")
TABLE_WIDTHS = (7, 30, 16, 11, 20, 22, 28, 14, 14, 12, 12)  # mm: the width of the page between its margins
ROW_MM = 4.0


@dataclass(frozen=True)
class Camera:
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class PacketImage:
    number: int  # the read's number in the table
    caption: str
    data: bytes
    audit_seq: int


@dataclass(frozen=True)
class Packet:
    result: SearchResult
    requester: Principal
    generated_ms: int
    proof: EntryProof
    cameras: list[Camera] = field(default_factory=list)
    images: list[PacketImage] = field(default_factory=list)
    #: Reads with a plate image left out of the packet (past MAX_IMAGES).
    images_left_out: int = 0


class _Writer:
    def __init__(self, font: Path | None) -> None:
        # fpdf is loaded when a PDF is written, not with every CLI command (0.6 s of `plateledger ingest`'s start).
        from fpdf import FPDF
        from fpdf.fonts import TTFFont

        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_margins(12, 12, 12)
        self.glyphs: set[int] | None = None
        if font is not None and font.is_file():
            self.pdf.add_font(FAMILY, fname=str(font))
            self.family = FAMILY
            self.pdf.set_font(FAMILY, size=10)
            loaded = self.pdf.current_font
            self.glyphs = set(loaded.cmap) if isinstance(loaded, TTFFont) else None
        else:
            self.family = "Helvetica"
        self.pdf.add_page()

    def clean(self, text: str) -> str:
        """Text the font can draw: a character it lacks as ``[U+XXXX]``."""
        if self.glyphs is None:
            return "".join(c if ord(c) < 256 and (c.isprintable() or c == "\n") else f"[U+{ord(c):04X}]" for c in text)
        glyphs = self.glyphs
        return "".join(c if ord(c) in glyphs or c == "\n" else f"[U+{ord(c):04X}]" for c in text)

    def font(self, size: float, *, bold: bool = False, mono: bool = False) -> None:
        if mono:
            self.pdf.set_font("Courier", "B" if bold else "", size)
        else:
            # The TrueType font has no bold face here: headings are larger instead.
            self.pdf.set_font(self.family, "B" if bold and self.family == "Helvetica" else "", size)

    def heading(self, words: str) -> None:
        self.pdf.ln(2)
        self.font(13, bold=True)
        self.pdf.multi_cell(0, 7, self.clean(words), new_x="LMARGIN", new_y="NEXT")

    def text(self, words: str, *, size: float = 9.5) -> None:
        self.font(size)
        self.pdf.multi_cell(0, 4.8, self.clean(words), new_x="LMARGIN", new_y="NEXT")

    def mono(self, words: str) -> None:
        """Hashes and commands (ASCII): a fixed-width core font, so that they can be copied exactly."""
        self.font(7.5, mono=True)
        self.pdf.multi_cell(0, 3.6, words.encode("ascii", "replace").decode(), new_x="LMARGIN", new_y="NEXT")


def _query_text(result: SearchResult) -> str:
    given = {k: v for k, v in result.query.items() if v not in (None, "", False)}
    return ", ".join(f"{k}={v}" for k, v in given.items()) or "(none)"


def _front(w: _Writer, packet: Packet) -> None:
    result, who = packet.result, packet.requester
    w.font(18, bold=True)
    w.pdf.multi_cell(0, 9, w.clean(f"Case packet: case {result.case_number}"), new_x="LMARGIN", new_y="NEXT")
    lines = [
        f"Purpose: {result.purpose}",
        f"Case number: {result.case_number}",
        f"Warrant: {result.warrant}" if result.warrant else "Warrant: none given",
        f"Query ({result.kind.value} search): {_query_text(result)}",
        f"Requester: {who.username} ({who.role.value}), {who.agency_name} ({who.agency_slug})",
        f"Generated: {iso_ms(packet.generated_ms)}",
        f"Search audit entry: #{result.audit_seq}",
        f"Reads: {len(result.reads)}" + (" (truncated: more reads match)" if result.truncated else ""),
    ]
    if result.break_glass:
        lines.append(f"Break-glass search (review item #{result.approval_request})")
    elif result.approval_request is not None:
        lines.append(f"Run on approval request #{result.approval_request}")
    for line in lines:
        w.text(line, size=10)
    if result.withheld:
        w.text("Owners withheld (not in this packet): " + "; ".join(f"{x.owner}: {x.rule}" for x in result.withheld))
    if result.limited:
        w.text("Owners limited: " + "; ".join(f"{x.owner}: {x.rule}" for x in result.limited))


def _proof(w: _Writer, proof: EntryProof) -> None:
    w.heading("Audit entry and its proof in the verifiable log")
    w.text(
        f"The search is audit entry #{proof.seq}: leaf index {proof.leaf_index} of the log's Merkle tree "
        f"(RFC 6962 hashing). Leaf hash (base64): {b64(proof.leaf_hash)}"
    )
    if proof.checkpoint is not None:
        cosigned = ", ".join(proof.checkpoint.cosigned_by()) or "no witness"
        w.text(
            f"Inclusion proof against the published checkpoint of tree size {proof.tree_size}, "
            f"created {iso_ms(proof.checkpoint.created_ms)}, cosigned by {cosigned}. Root (base64): {b64(proof.root)}"
        )
    else:
        w.text(
            f"No published checkpoint covers this entry yet: the proof is against the tree as it was when this "
            f"packet was made, size {proof.tree_size}, root (base64) {b64(proof.root)} (unsigned). Once the next "
            f"checkpoint is published, `plateledger-verify proof {proof.seq}` writes the signed proof."
        )
    w.text(f"Proof hashes ({len(proof.hashes)}, base64, leaf side first):")
    w.mono("\n".join(f"{i}: {b64(h)}" for i, h in enumerate(proof.hashes)) or "(none: the tree has one leaf)")
    tlog = proof.tlog_proof()
    if tlog is not None:
        name = f"entry-{proof.seq}.tlog-proof"
        w.pdf.embed_file(bytes=tlog.encode(), basename=name, mime_type="text/plain", desc="c2sp.org/tlog-proof")
        w.text(f"The same proof as a c2sp.org/tlog-proof file, attached to this PDF as {name}:")
        w.text(tlog.rstrip("\n"), size=7)
        w.text("Check it offline, with the log's key (or your tlog-policy file with --policy):")
        w.mono(f"plateledger-verify proof-check {name} --leaf-hash {b64(proof.leaf_hash)} --log-key {proof.log_key}")
    w.text(
        "The leaf hash can be recomputed from the entry's public leaf (GET /log/tile/entries/..., or "
        f"`plateledger-verify proof {proof.seq} --entry-out FILE`), which holds no plate, name, case or query."
    )


def _box(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    pad_lat = max((north - south) * 0.08, 0.002)
    pad_lon = max((east - west) * 0.08, 0.002)
    return south - pad_lat, north + pad_lat, west - pad_lon, east + pad_lon


def _map(w: _Writer, packet: Packet) -> None:
    reads = [(r.lat, r.lon) for r in packet.result.reads if r.lat is not None and r.lon is not None]
    if w.pdf.get_y() + 70 > w.pdf.page_break_trigger:  # the heading with a map of at least 50 mm
        w.pdf.add_page()
    w.heading("Map")
    if not reads:
        w.text("No read of this answer has a position.")
        return
    south, north, west, east = _box(reads)
    pdf = w.pdf
    width = pdf.w - pdf.l_margin - pdf.r_margin
    # Equirectangular, longitude scaled by cos(latitude): one scale on both axes. The box is widened in one
    # direction to fill a frame 50-120 mm tall.
    squeeze = math.cos(math.radians((north + south) / 2))
    height = min(max(width * (north - south) / ((east - west) * squeeze), 50.0), 120.0)
    extra_lon = (north - south) / squeeze * width / height - (east - west)
    if extra_lon > 0:
        west, east = west - extra_lon / 2, east + extra_lon / 2
    else:
        extra_lat = (east - west) * squeeze * height / width - (north - south)
        south, north = south - extra_lat / 2, north + extra_lat / 2
    cameras = [c for c in packet.cameras if south <= c.lat <= north and west <= c.lon <= east]
    if pdf.get_y() + height + 12 > pdf.h - pdf.b_margin:
        pdf.add_page()
    x0, y0 = pdf.l_margin, pdf.get_y()

    def at(lat: float, lon: float) -> tuple[float, float]:
        return x0 + (lon - west) / (east - west) * width, y0 + (north - lat) / (north - south) * height

    pdf.set_draw_color(120, 120, 120)
    pdf.set_line_width(0.2)
    pdf.rect(x0, y0, width, height)
    w.font(6)
    pdf.set_text_color(90, 90, 90)
    for i in range(1, 4):  # graticule: quarters of the box, labelled in degrees
        lat = south + (north - south) * i / 4
        lon = west + (east - west) * i / 4
        pdf.set_draw_color(220, 220, 220)
        pdf.line(x0, at(lat, west)[1], x0 + width, at(lat, west)[1])
        pdf.line(at(south, lon)[0], y0, at(south, lon)[0], y0 + height)
        pdf.text(x0 + 1, at(lat, west)[1] - 0.8, f"{lat:.4f}")
        pdf.text(at(south, lon)[0] + 0.8, y0 + height - 1, f"{lon:.4f}")
    pdf.set_draw_color(40, 90, 160)
    pdf.set_fill_color(255, 255, 255)
    for camera in cameras:
        x, y = at(camera.lat, camera.lon)
        pdf.rect(x - 1.4, y - 1.4, 2.8, 2.8, style="DF")
    pdf.set_draw_color(200, 40, 40)
    previous: tuple[float, float] | None = None
    numbered = [(n, r) for n, r in enumerate(packet.result.reads, 1) if r.lat is not None and r.lon is not None]
    for _n, read in sorted(numbered, key=lambda item: item[1].ts_ms):  # the path, in time order
        point = at(read.lat, read.lon)  # type: ignore[arg-type]
        if previous is not None:
            pdf.line(*previous, *point)
        previous = point
    pdf.set_fill_color(200, 40, 40)
    pdf.set_text_color(0, 0, 0)
    for number, read in numbered:
        x, y = at(read.lat, read.lon)  # type: ignore[arg-type]
        pdf.circle(x, y, 0.9, style="F")
        if len(numbered) <= 60:
            pdf.text(x + 1.2, y - 0.8, str(number))
    pdf.set_y(y0 + height + 2)
    w.text(
        f"Box: latitude {south:.5f} to {north:.5f}, longitude {west:.5f} to {east:.5f} (WGS 84). Red dots: reads, "
        f"numbered as in the table, joined in time order; blue squares: {len(cameras)} of your agency's cameras.",
        size=7.5,
    )


def _timeline(w: _Writer, packet: Packet) -> None:
    reads = packet.result.reads
    pdf = w.pdf
    if pdf.get_y() + 32 > pdf.page_break_trigger:  # the heading with its timeline
        pdf.add_page()
    w.heading("Timeline")
    if not reads:
        w.text("No reads.")
        return
    first, last = min(r.ts_ms for r in reads), max(r.ts_ms for r in reads)
    span = max(last - first, 1)
    x0, width, y = pdf.l_margin + 2, pdf.w - pdf.l_margin - pdf.r_margin - 4, pdf.get_y() + 8
    pdf.set_draw_color(60, 60, 60)
    pdf.line(x0, y, x0 + width, y)
    pdf.set_draw_color(200, 40, 40)
    for read in reads:
        x = x0 + (read.ts_ms - first) / span * width
        pdf.line(x, y - 3, x, y + 3)
    w.font(7)
    pdf.set_text_color(0, 0, 0)
    pdf.text(x0, y + 7, iso_ms(first))
    end = iso_ms(last)
    pdf.text(x0 + width - pdf.get_string_width(end), y + 7, end)
    pdf.set_y(y + 10)


def _fit(w: _Writer, text: str, width: float) -> str:
    """``text`` cut to a cell of ``width`` mm, marked with ``...``: a table cell is one line."""
    room = width - 2 * w.pdf.c_margin
    if w.pdf.get_string_width(text) <= room:
        return text
    while text and w.pdf.get_string_width(text + "...") > room:
        text = text[:-1]
    return text + "..."


def _row(w: _Writer, cells: tuple[str, ...], *, head: bool = False) -> None:
    pdf = w.pdf
    if head:
        pdf.set_fill_color(230, 230, 230)
    for text, width in zip(cells, TABLE_WIDTHS, strict=True):
        pdf.cell(width, ROW_MM, _fit(w, w.clean(text), width), border="B", fill=head)
    pdf.ln(ROW_MM)


def _table(w: _Writer, packet: Packet) -> None:
    """One line per read, cells cut to their column (the CSV, GeoJSON and KML exports hold every field whole);
    drawn with plain cells, the header repeated on each page (fpdf2's table layout took ~10 ms a row)."""
    result = packet.result
    if w.pdf.get_y() + 20 > w.pdf.page_break_trigger:
        w.pdf.add_page()
    w.heading(f"Reads ({len(result.reads)})")
    if not result.reads:
        w.text("No reads.")
        return
    pdf = w.pdf
    w.font(6.5)
    pdf.set_draw_color(200, 200, 200)
    pdf.set_text_color(0, 0, 0)
    _row(w, TABLE_HEAD, head=True)
    for number, read in enumerate(result.reads, 1):
        if pdf.get_y() + ROW_MM > pdf.page_break_trigger:
            pdf.add_page()
            _row(w, TABLE_HEAD, head=True)
        where = f"{read.lat:.5f}, {read.lon:.5f}" if read.lat is not None and read.lon is not None else "-"
        cells = (
            str(number),
            iso_ms(read.ts_ms)[:19].replace("T", " "),
            read.plate,
            read.region or "",
            read.camera,
            result.owner_names.get(read.owner, str(read.owner)),
            where,
            read.make or "",
            read.model or "",
            read.color or "",
            read.vtype or "",
        )
        _row(w, cells)


def _images(w: _Writer, packet: Packet) -> None:
    w.heading("Plate images")
    if not packet.images:
        w.text("No plate image of these reads that you may see.")
        return
    pdf = w.pdf
    size, gap = 58.0, 4.0
    per_row = 3
    for i, image in enumerate(packet.images):
        column = i % per_row
        if column == 0:
            if pdf.get_y() + size * 0.6 + 14 > pdf.h - pdf.b_margin:
                pdf.add_page()
            top = pdf.get_y()
        x = pdf.l_margin + column * (size + gap)
        pdf.image(io.BytesIO(image.data), x=x, y=top, w=size, keep_aspect_ratio=True, h=size * 0.5)
        w.font(6.5)
        pdf.set_xy(x, top + size * 0.5 + 1)
        pdf.multi_cell(size, 3.2, w.clean(f"#{image.number} {image.caption} (audit #{image.audit_seq})"))
        if column == per_row - 1 or i == len(packet.images) - 1:
            pdf.set_xy(pdf.l_margin, top + size * 0.5 + 9)
    if packet.images_left_out:
        w.text(
            f"{packet.images_left_out} more reads have a plate image, left out of this packet (at most {MAX_IMAGES})."
        )


def render_pdf(packet: Packet, font: Path | None) -> bytes:
    w = _Writer(font)
    w.pdf.set_title(f"Case packet {packet.result.case_number}")
    w.pdf.set_creator("Plateledger")
    _front(w, packet)
    _proof(w, packet.proof)
    _map(w, packet)
    _timeline(w, packet)
    _table(w, packet)
    _images(w, packet)
    return bytes(w.pdf.output())
