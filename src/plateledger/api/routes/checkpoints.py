"""The audit log's published checkpoint and the policy a verifier pins (public, no token; c2sp.org/tlog-tiles
serves the tiles beside them under ``/log/``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from plateledger.api.deps import PlatformDep

router = APIRouter(prefix="/log", tags=["log"])

TEXT = "text/plain; charset=utf-8"


def log_url(request: Request) -> str:
    """This log's URL prefix as the request reached it (what ``log <vkey> <url>`` names)."""
    return str(request.base_url).rstrip("/") + "/log"


@router.get("/checkpoint", response_class=PlainTextResponse, responses={404: {}})
def checkpoint(platform: PlatformDep) -> PlainTextResponse:
    """The latest published checkpoint: a C2SP signed note (origin, tree size, root hash) signed by the log and
    cosigned by the witnesses whose quorum it met. 404 before the first one."""
    note = platform.checkpoints.published_note()
    return PlainTextResponse(note, media_type=TEXT, headers={"Cache-Control": "no-cache"})


@router.get("/policy", response_class=PlainTextResponse)
def policy(request: Request, platform: PlatformDep) -> PlainTextResponse:
    """The tlog-policy a verifier pins (`plateledger-verify init --policy`): the log's key and URL, the witnesses'
    keys and the quorum a checkpoint must meet."""
    text = platform.checkpoints.policy_text(log_url(request))
    return PlainTextResponse(text, media_type=TEXT, headers={"Cache-Control": "no-cache"})
