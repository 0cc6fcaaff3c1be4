"""Vendor adapters: pure functions from what ALPR equipment sends to canonical reads.

One module per source, each exposing ``adapt(body: bytes, content_type: str) -> Adapted`` (see ``base.py``).
``SOURCES`` names every source by the path segment of ``POST /api/v1/ingest/{source}`` and the module that
adapts it (``module:function`` where a source is a variant of another, with a function other than ``adapt``);
modules are imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from plateledger.adapters.base import Adapted
from plateledger.core.errors import NotFound

Adapter = Callable[[bytes, str], Adapted]

#: source name -> module under ``plateledger.adapters`` that defines ``adapt`` (or ``module:function``).
SOURCES: dict[str, str] = {
    "openalpr": "openalpr",
    # Agents with plate grouping turned off: every alpr_results frame is a read.
    "openalpr_frames": "openalpr:adapt_each_frame",
    "platerecognizer": "platerecognizer",
    "blueiris": "blueiris",
    "genetec": "genetec",
    "axis": "axis",
    "hikvision": "hikvision",
    "survision": "survision",
}


def adapter(source: str) -> Adapter:
    """The ``adapt`` function of ``source``; :class:`NotFound` for a source Plateledger has no adapter for."""
    target = SOURCES.get(source)
    if target is None:
        raise NotFound(f"no adapter for source {source[:64]!r}; known sources: {', '.join(sorted(SOURCES))}")
    module, _, function = target.partition(":")
    try:
        found: Adapter = getattr(importlib.import_module(f"plateledger.adapters.{module}"), function or "adapt")
    except ModuleNotFoundError as missing:
        if missing.name != f"plateledger.adapters.{module}":
            raise
        raise NotFound(f"the {source} adapter is not part of this installation") from None
    return found


__all__ = ["SOURCES", "Adapted", "Adapter", "adapter"]
