"""`/docs` with no internet: Swagger UI's files come from the `swagger-ui-bundle-v2` package
(Swagger UI 5, maintained by connexion's authors) and are served by the service itself under
`/docs/assets/`; the page names no other host (no CDN, no favicon from elsewhere, no online
validator badge). Government intranets reach nothing outside."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def install(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} — API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
            # The default validator is an online service: its badge would be fetched from it.
            swagger_ui_parameters={"validatorUrl": None, "displayOperationId": True},
        )
