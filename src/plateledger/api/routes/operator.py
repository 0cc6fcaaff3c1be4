"""The instance operator's routes: a backup made by the server that holds the data directory, and a checkpoint of
the audit log on demand.

A backup holds every agency's reads, so it is not behind any agency user's token (an admin manages one agency)
but behind the instance operator's ``operator_token`` setting. The library checks it
(:meth:`~plateledger.backup.service.Backups.authenticate_operator`, before the body is read) and audits every
refusal as ``auth.refused``; unset, the route refuses every request (401). ``plateledger backup`` calls it when a
server holds the data directory; the backup is written on the server's host, by the server's user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from plateledger.api.deps import PlatformDep
from plateledger.appstate import client_of
from plateledger.audit.log import Actor

router = APIRouter(prefix="/api/v1/operator")


class BackupIn(BaseModel):
    dest: str = Field(min_length=1, max_length=500, description="Absolute path on the server's host (new or empty)")


def operator_only(request: Request, platform: PlatformDep) -> Actor:
    """The operator, authenticated by the library before the body is read (a request without the operator token
    is 401 and audited, whatever it sends)."""
    return platform.backups.authenticate_operator(
        request.headers.get("authorization"),
        where=f"{request.method} {request.url.path}",
        client=client_of(request, platform),
    )


@router.post("/backup", tags=["operator"], responses={401: {}, 409: {}})
def make_backup(
    body: BackupIn, platform: PlatformDep, operator: Annotated[Actor, Depends(operator_only)]
) -> dict[str, Any]:
    """Write a backup of the data directory to `dest` on the server's host (audited as `backup.made`)."""
    return platform.backups.make(operator, Path(body.dest)).as_json()


@router.post("/checkpoint", tags=["operator"], responses={401: {}, 503: {}})
def make_checkpoint(platform: PlatformDep, operator: Annotated[Actor, Depends(operator_only)]) -> dict[str, Any]:
    """Sign a checkpoint of the audit log now (if it grew since the last one), push it to the witnesses and
    publish it if their quorum is met; the answer names each witness's result and, unpublished, why."""
    return platform.checkpoints.checkpoint().as_json()
