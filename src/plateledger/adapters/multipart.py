"""multipart/form-data bodies (Plate Recognizer's "webhook with image", cameras that post a JSON or XML part
with pictures), parsed by python-multipart into whole parts with their names. Also available as
``normalise.multipart_parts``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from plateledger.core.errors import InvalidInput, PayloadTooLarge

#: Most parts one multipart body may have (a JSON field and an image or two is what vendors send).
MAX_PARTS = 16


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body: its form field name, file name, content type and bytes."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def is_multipart(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


def multipart_parts(body: bytes, content_type: str, max_parts: int = MAX_PARTS) -> list[Part]:
    """The parts of a multipart/form-data body, parsed by python-multipart. InvalidInput when the content type
    has no boundary or the body is not well-formed multipart (including a body cut before its last boundary)."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidInput("multipart/form-data content type without a boundary")
    parts: list[Part] = []
    headers: dict[str, str] = {}
    field: list[bytes] = []
    value: list[bytes] = []
    data: list[bytes] = []
    ended: list[bool] = []

    def on_part_begin() -> None:
        headers.clear()
        data.clear()
        if len(parts) >= max_parts:
            raise PayloadTooLarge(f"multipart body with more than {max_parts} parts")

    def on_header_field(chunk: bytes, start: int, end: int) -> None:
        field.append(chunk[start:end])

    def on_header_value(chunk: bytes, start: int, end: int) -> None:
        value.append(chunk[start:end])

    def on_header_end() -> None:
        headers[b"".join(field).decode("latin-1").lower()] = b"".join(value).decode("latin-1")
        field.clear()
        value.clear()

    def on_part_data(chunk: bytes, start: int, end: int) -> None:
        data.append(chunk[start:end])

    def on_part_end() -> None:
        _, disposition = parse_options_header(headers.get("content-disposition", ""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        parts.append(
            Part(
                name=name,
                filename=None if filename is None else filename.decode("utf-8", "replace"),
                content_type=headers.get("content-type"),
                data=b"".join(data),
            )
        )

    def on_end() -> None:
        ended.append(True)

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_end": on_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:  # also MultipartParseError; a boundary over 256 bytes is refused on creation
        raise InvalidInput(f"body is not well-formed multipart/form-data: {str(exc)[:200]}") from None
    if not ended:
        raise InvalidInput("multipart body ends before its closing boundary")
    return parts
