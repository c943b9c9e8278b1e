"""Error pages: a clear sentence and what to do, never a traceback (that goes to the log)."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request

from cityq.errors import CityqError
from cityq.serve.gate import StoreBusy
from cityq.store.browse import NotFound

log = logging.getLogger("cityq.serve")

# NotFound.kind -> where the page of one valid name lives (None: listed without links)
_LINKS = {
    "query": "/queries/{}",
    "object": "/objects/{}",
    "model": "/images?model={}",
    "page": "{}",
}


def error_handlers(site) -> dict:
    def page(request: Request, status: int, title: str, message: str, valid=(), kind: str | None = None):
        link = _LINKS.get(kind or "")
        items = [(name, link.format(name) if link else None) for name in valid]
        return site.page(request, "error.html", {"title": title, "message": message, "valid": items,
                                                 "kind": kind}, status)

    def not_found(request: Request, exc: NotFound):
        return page(request, 404, f"No such {exc.kind}", str(exc), exc.valid, exc.kind)

    def busy(request: Request, exc: StoreBusy):
        response = page(request, 503, "The store is busy", f"{exc} The page will work again once the writer "
                        "is done: reload it in a moment.")
        response.headers["Retry-After"] = "2"
        return response

    def bad_request(request: Request, exc: CityqError):
        return page(request, 400, "Cannot show this page", str(exc))

    def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 404:
            return page(request, 404, "No such page", f"nothing at {request.url.path}; the pages are:",
                        ["/", "/queries", "/sql", "/images", "/objects"], "page")
        return page(request, exc.status_code, "Cannot show this page", str(exc.detail))

    def unexpected(request: Request, exc: Exception):
        # The traceback goes to the server's log (the ASGI server prints it), never to the page.
        log.error("unexpected error on %s: %r", request.url.path, exc)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return page(request, 500, "Something went wrong",
                    f"unexpected {type(exc).__name__}: {first} (the server's log has the details)")

    return {NotFound: not_found, StoreBusy: busy, CityqError: bad_request, HTTPException: http_error,
            Exception: unexpected}
