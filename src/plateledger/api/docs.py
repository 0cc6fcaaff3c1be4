"""The interactive API reference at ``/docs``, served from this server only.

Swagger UI's script, stylesheet and icon come from the ``fastapi-offline`` package (a maintained PyPI bundle of
Swagger UI's release files), served under ``/docs/assets/``; the page starts it with ``/docs/init.js`` instead of an
inline script, so it works offline and under a strict Content-Security-Policy: scripts, styles and connections
from this origin only. FastAPI's own ``/docs`` and ``/redoc`` (which load their code from a CDN) are switched off;
ReDoc is not offered, since it injects inline styles that such a policy refuses.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(str(files("fastapi_offline") / "static"))
INIT_JS = Path(str(files("plateledger.api") / "static" / "swagger-init.js"))
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} API reference</title>
<link rel="icon" href="{root}/docs/assets/favicon.png">
<link rel="stylesheet" href="{root}/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="{root}{openapi}"></div>
<script src="{root}/docs/assets/swagger-ui-bundle.js"></script>
<script src="{root}/docs/init.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets (call on an app made with ``docs_url=None, redoc_url=None``)."""
    headers = {"Content-Security-Policy": DOCS_CSP, "X-Content-Type-Options": "nosniff"}

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = escape(str(request.scope.get("root_path", "")))
        page = _PAGE.format(title=escape(app.title), root=root, openapi=escape(app.openapi_url or ""))
        return HTMLResponse(page, headers=headers)

    @app.get("/docs/init.js", include_in_schema=False)
    def init_js() -> FileResponse:
        return FileResponse(INIT_JS, media_type="text/javascript", headers=headers)

    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")
