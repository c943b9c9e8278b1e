"""Home: what the store holds, and the headline findings."""

from __future__ import annotations

from starlette.routing import Route

from cityq.errors import CityqError
from cityq.serve.site import table

# The headline queries, with the parameters the page runs them at.
TOP_OBJECTS = {"k": 3, "min_support": 5}


def routes(site) -> list[Route]:
    def home(request):
        from cityq.report.sections import ARCH_VS_SEED_COLUMNS, arch_vs_seed_sentence, top_objects_table
        from cityq.store import browse

        def arch_vs_seed(frame):
            return frame[[c for c in ARCH_VS_SEED_COLUMNS if c in frame]] if len(frame) else frame

        def read(store):
            findings, sentences = {}, {}
            for name, params, view in (("top objects", TOP_OBJECTS, top_objects_table),
                                       ("ar arch vs seed", {}, arch_vs_seed)):
                try:
                    frame = store.query(name, **params)
                    findings[name] = table(view(frame) if len(frame) else frame)
                    if name == "top objects" and not len(frame):
                        findings[name] = (
                            "No rows: no finished ingest yet, or no object present in at least "
                            f"{TOP_OBJECTS['min_support']} of a city's images (the minimum support; query "
                            "`top objects` with a lower min_support to see them).")
                    if name == "ar arch vs seed" and len(frame):
                        sentences[name] = arch_vs_seed_sentence(frame)
                except CityqError as exc:
                    findings[name] = str(exc)
            return browse.overview(store), findings, sentences

        held, findings, sentences = site.read(("home",), read)
        return site.page(request, "home.html", {
            "held": {title: table(frame) for title, frame in held.items()},
            "models": held["models"]["model"].tolist(),
            "findings": findings,
            "sentences": sentences,
            "top_params": TOP_OBJECTS,
        })

    return [Route("/", home, name="home")]
