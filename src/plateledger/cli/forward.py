"""Asking the running server that holds the data directory (the same gate and audit log behind HTTP)."""

from __future__ import annotations

from typing import Any

import httpx2

from plateledger.core.errors import (
    AuthenticationFailed,
    FieldInvalid,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PlateledgerError,
)


def server_get(url: str, path: str, params: dict[str, Any], *, token: str | None = None) -> httpx2.Response:
    """GET ``path`` from the server at ``url``; a refusal is raised as the library error of its status (and
    keeps its kind, so the CLI exits as it would have locally)."""
    clean = {k: v for k, v in params.items() if v is not None and v is not False}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx2.get(f"{url}{path}", params=clean, headers=headers, timeout=60)
    except httpx2.HTTPError as exc:
        raise PlateledgerError(f"the server at {url} holds the data directory but did not answer: {exc}") from None
    if response.status_code == 200:
        return response
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = str(body.get("detail", response.text)) if isinstance(body, dict) else response.text
    if response.status_code == 422:
        field = str(body.get("field", "request")) if isinstance(body, dict) else "request"
        raise FieldInvalid(field, detail.partition(": ")[2] or detail)
    kind = {cls.status: cls for cls in (InvalidInput, AuthenticationFailed, PermissionDenied, NotFound)}.get(
        response.status_code, PlateledgerError
    )
    raise kind(f"server refused: {detail}")
