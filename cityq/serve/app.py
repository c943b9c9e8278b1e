"""The ASGI app of `cityq serve`: server-rendered pages over one store, read-only.

Every script and style comes from this package (the Vega bundle from cityq.charts), so the
pages work offline.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cityq.serve.errors import error_handlers
from cityq.serve.pages import home, images, objects, queries, sql
from cityq.serve.site import ServeConfig, Site


def create_app(config: ServeConfig) -> Starlette:
    site = Site(config)

    def vega(request):
        from cityq.charts.bundle import vega_bundle

        return Response(vega_bundle(), media_type="text/javascript",
                        headers={"Cache-Control": "max-age=86400"})

    static = Path(str(resources.files("cityq.serve").joinpath("static")))
    routes = [
        *home.routes(site), *queries.routes(site), *sql.routes(site), *images.routes(site),
        *objects.routes(site),
        Route("/static/vega.js", vega),
        Mount("/static", app=StaticFiles(directory=str(static)), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers=error_handlers(site))
    app.state.site = site
    return app
