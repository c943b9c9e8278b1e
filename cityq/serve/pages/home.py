"""Home: what the store holds, and the headline findings."""

from __future__ import annotations

from starlette.routing import Route

from cityq.errors import CityqError
from cityq.serve.site import table

# The headline queries, with the parameters the page runs them at.
TOP_OBJECTS = {"k": 3}


def routes(site) -> list[Route]:
    def home(request):
        from cityq.report.sections import top_objects_table
        from cityq.store import browse

        def read(store):
            findings = {}
            for name, params, view in (("top objects", TOP_OBJECTS, top_objects_table),
                                       ("ar arch vs seed", {}, None)):
                try:
                    frame = store.query(name, **params)
                    findings[name] = table(view(frame) if view is not None and len(frame) else frame)
                except CityqError as exc:
                    findings[name] = str(exc)
            return browse.overview(store), findings

        held, findings = site.read(("home",), read)
        return site.page(request, "home.html", {
            "held": {title: table(frame) for title, frame in held.items()},
            "models": held["models"]["model"].tolist(),
            "findings": findings,
            "top_params": TOP_OBJECTS,
        })

    return [Route("/", home, name="home")]
