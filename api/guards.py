"""What a request with a body must say before it is routed: that the body is JSON.

A body sent as `text/plain`, as a form (curl's `-d` default) or with no Content-Type at all is
refused with 415 and a plain word about the header, instead of a puzzling complaint about the
body's shape."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import header_language, problem_response, said

WITH_BODIES = {"POST", "PUT", "PATCH"}


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


class JsonBodies:
    """Refuses a body that does not say it is JSON (415 `validation_error`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODIES:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"").strip()
        has_body = (length.isdigit() and int(length) > 0) or b"transfer-encoding" in headers
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if not has_body or is_json(content_type):
            await self.app(scope, receive, send)
            return
        language = header_language(scope.get("headers", []))
        body = said(415, "validation_error", language, "content_type", given=content_type or "no Content-Type")
        await problem_response(body, language)(scope, receive, send)
