"""``multipart/form-data`` bodies split into parts, for sources that send a document and its pictures together
(Hikvision ISAPI: ``anpr.xml`` plus ``licensePlatePicture.jpg`` and ``detectionPicture.jpg``). Pure.

The body is parsed by the standard library's MIME parser, which never raises on malformed input (it records
defects); what it cannot split is refused here with :class:`InvalidInput`.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser

from plateledger.core.errors import InvalidInput, PayloadTooLarge

#: Most parts one body may have (a document and a few pictures).
MAX_PARTS = 16


@dataclass(frozen=True)
class Part:
    """One part: its form field ``name`` and ``filename`` (``""`` when absent), content type and bytes."""

    name: str
    filename: str
    content_type: str
    data: bytes


def parts(body: bytes, content_type: str, max_parts: int = MAX_PARTS) -> list[Part]:
    """The parts of a ``multipart/*`` body whose ``Content-Type`` header is ``content_type``."""
    if "\r" in content_type or "\n" in content_type or len(content_type) > 512:
        raise InvalidInput("Content-Type header is malformed")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
    )
    if not message.is_multipart() or message.get_boundary() is None:
        raise InvalidInput("body is not multipart: the Content-Type has no boundary or the body has no parts")
    payload = message.get_payload()
    if not isinstance(payload, list) or not payload:
        raise InvalidInput("multipart body has no parts")
    if len(payload) > max_parts:
        raise PayloadTooLarge(f"multipart body has more than {max_parts} parts")
    found: list[Part] = []
    for item in payload:
        if not isinstance(item, Message):
            raise InvalidInput("multipart body has a part that is not a MIME part")
        data = item.get_payload(decode=True)
        found.append(
            Part(
                name=str(item.get_param("name", "", header="content-disposition") or ""),
                filename=str(item.get_filename("") or ""),
                content_type=item.get_content_type(),
                data=data if isinstance(data, bytes) else b"",
            )
        )
    return found
