"""Named queries: each with a form for its parameters (kept in the URL), its rows as a
sortable table, its chart, and downloads. Running one is `store.query(name, **params)`, the
call `cityq query NAME -p k=v` makes, with the values as text just as the CLI passes them."""

from __future__ import annotations

from starlette.routing import Route

from cityq.errors import CityqError
from cityq.serve.downloads import chart_file, rows_file
from cityq.serve.site import table
from cityq.store.browse import NotFound


def find(name: str):
    from cityq.queries.registry import find_query, list_queries

    try:
        return find_query(name)
    except CityqError:
        raise NotFound("query", name, [q.macro for q in list_queries()]) from None


def params_of(request, query) -> dict[str, str]:
    """The URL's parameters that are set; an empty field means the query's default."""
    return {k: v for k, v in request.query_params.items() if v.strip() != ""}


def run(site, query, params):
    key = ("query", query.name, tuple(sorted(params.items())))
    return site.read(key, lambda store: store.query(query.name, **params))


def chart_spec(query, frame) -> dict | None:
    from cityq.charts import has_chart, render_chart

    if frame is None or frame.empty or not has_chart(query.name):
        return None
    # Validated by the chart tests; skipping jsonschema here saves a third of the drawing time.
    return render_chart(query.name, frame).to_dict(validate=False)


def routes(site) -> list[Route]:
    def index(request):
        from cityq.queries.registry import list_queries

        return site.page(request, "queries.html", {"queries": list_queries()})

    def one(request):
        query = find(request.path_params["name"])
        params = params_of(request, query)
        from cityq.store import browse

        suggestions = site.read(("choices",), browse.choices)
        frame, error = None, None
        try:
            frame = run(site, query, params)
        except CityqError as exc:
            error = str(exc)
        spec = site.derive(("chart", query.name, tuple(sorted(params.items()))), lambda: chart_spec(query, frame))
        return site.page(request, "query.html", {
            "query": query, "params": params, "error": error, "spec": spec,
            "table": table(frame, site.config.max_rows) if frame is not None else None,
            "suggestions": suggestions, "query_string": request.url.query,
            "cli": _cli(query, params),
        }, 400 if error else 200)

    def rows(request):
        query = find(request.path_params["name"])
        return rows_file(run(site, query, params_of(request, query)), request.path_params["fmt"], query.macro)

    def chart(request):
        query = find(request.path_params["name"])
        params = params_of(request, query)
        frame = run(site, query, params)
        spec = site.derive(("chart", query.name, tuple(sorted(params.items()))), lambda: chart_spec(query, frame))
        if spec is None:
            raise CityqError(f"query {query.name!r} has no chart for these rows")
        return chart_file(spec, request.path_params["fmt"], query.macro)

    return [
        Route("/queries", index, name="queries"),
        Route("/queries/{name}", one, name="query"),
        Route("/queries/{name}/rows.{fmt}", rows, name="query_rows"),
        Route("/queries/{name}/chart.{fmt}", chart, name="query_chart"),
    ]


def _cli(query, params: dict) -> str:
    import shlex

    options = "".join(f" -p {shlex.quote(f'{k}={v}')}" for k, v in params.items())
    return f"cityq query {shlex.quote(query.name)}{options}"
