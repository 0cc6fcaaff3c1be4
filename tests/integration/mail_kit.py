"""A real SMTP server for tests (aiosmtpd on a free port) that keeps the messages it receives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support import free_port


@dataclass
class Mailbox:
    """What the server received: one (envelope recipients, parsed message) per e-mail."""

    received: list[tuple[list[str], Message]] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append(([str(r) for r in envelope.rcpt_tos], message_from_bytes(content)))
        return "250 OK"

    def settings(self) -> dict[str, Any]:
        """The settings that send alert e-mail to this server."""
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_tls": "none", "smtp_from": "alerts@pd.test"}

    def wait_for(self, count: int, timeout_s: float = 10) -> list[tuple[list[str], Message]]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
