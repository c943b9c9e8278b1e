"""SQL: a text box over the store, read-only, the named queries callable as table macros."""

from __future__ import annotations

from starlette.routing import Route

from cityq.errors import CityqError
from cityq.serve.downloads import rows_file
from cityq.serve.site import table

EXAMPLE = "SELECT * FROM top_objects(k := 3) WHERE city = 'tokyo'"


def routes(site) -> list[Route]:
    def run(text: str, max_rows: int | None):
        from cityq.queries import sandbox

        sandbox.check(text)  # refuse before taking the store
        if max_rows is None:  # a download may be any size: not kept in memory
            with site.gate.store() as store:
                return sandbox.run(store.con, text, None)
        return site.read(("sql", text, max_rows), lambda store: sandbox.run(store.con, text, max_rows))

    def page(request):
        from cityq.queries.registry import list_queries

        text = request.query_params.get("sql", "")
        result, error = None, None
        if text.strip():
            try:
                frame, cut = run(text, site.config.max_rows)
                result = table(frame, cut=cut)
            except CityqError as exc:
                error = str(exc)
        return site.page(request, "sql.html", {
            "sql": text or EXAMPLE, "ran": bool(text.strip()), "result": result, "error": error,
            "query_string": request.url.query, "macros": list_queries(),
        }, 400 if error else 200)

    def rows(request):
        text = request.query_params.get("sql", "")
        frame, _ = run(text, None)
        return rows_file(frame, request.path_params["fmt"], "result")

    return [Route("/sql", page, name="sql"), Route("/sql/rows.{fmt}", rows, name="sql_rows")]
