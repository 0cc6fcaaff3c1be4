"""The instance operator's routes: a backup made by the server that holds the data directory.

A backup holds every agency's reads, so it is not behind any agency user's token (an admin manages one agency)
but behind the instance operator's ``operator_token`` setting, as ``/metrics`` is behind ``metrics_token``.
Unset, the route refuses every request (401). ``plateledger backup`` calls it when a server holds the data
directory; the backup is written on the server's host, by the server's user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from plateledger.api.deps import PlatformDep
from plateledger.api.metrics_auth import require_instance_token
from plateledger.audit.log import Actor

router = APIRouter(prefix="/api/v1/operator")
OPERATOR = Actor(username="operator", agency_id=None)


class BackupIn(BaseModel):
    dest: str = Field(min_length=1, max_length=500, description="Absolute path on the server's host (new or empty)")


def operator_only(request: Request, platform: PlatformDep) -> None:
    """The operator token, checked before the body is read (a request without it is 401, whatever it sends)."""
    require_instance_token(
        platform.settings.operator_token,
        request.headers.get("authorization"),
        closed="operator routes are closed: set operator_token",
        wrong="this route needs the operator token (setting operator_token) as a bearer token",
    )


@router.post("/backup", tags=["operator"], dependencies=[Depends(operator_only)], responses={401: {}, 409: {}})
def make_backup(body: BackupIn, platform: PlatformDep) -> dict[str, Any]:
    """Write a backup of the data directory to `dest` on the server's host (audited as `backup.made`)."""
    return platform.backups.make(OPERATOR, Path(body.dest)).as_json()
