"""What the HTTP app holds for its doors: the opened :class:`~plateledger.platform.Platform`.

``create_app`` (``app.py``) puts the platform in ``app.state``; API routes and UI pages read it through
:data:`PlatformDep`. It lives here, below both ``api`` and ``web``, so neither door imports the other.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from plateledger.platform import Platform


async def get_platform(request: Request) -> Platform:
    """``async`` on purpose: it does no I/O, and a plain ``def`` dependency costs a hop through the threadpool
    on every request."""
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]
