"""Objects: the objects the segmentations found; one object's R_pc and lift across models and
cities (the rows of `rpc by city`), and the images where it sits inside the explanation."""

from __future__ import annotations

from starlette.routing import Route

from cityq.errors import CityqError
from cityq.serve.site import table

STRIP = 6  # images shown per model


def routes(site) -> list[Route]:
    def index(request):
        from cityq.store import browse

        objects = site.read(("objects",), browse.present_objects)
        return site.page(request, "objects.html", {"objects": objects.to_dict("records")})

    def one(request):
        from cityq.store import browse

        grid_text = request.query_params.get("threshold") or "0.5"
        try:
            threshold = float(grid_text)
        except ValueError:
            raise CityqError(f"threshold must be a number, got {grid_text!r}") from None
        def read(store):
            object_id, name = browse.find_object(store, request.path_params["name"])
            # Every model and city where the object occurs (no object filter), and which of
            # those rows the default filter keeps: the same rule `rpc by city` applies.
            everywhere = store.query("rpc by city", threshold=threshold, min_mean_pixels=0)
            kept = store.query("rpc by city", threshold=threshold)
            strips = []
            for model in browse.ingested_models(store):
                ref = browse.model_ingest(store, model)
                rows, total = browse.grid_images(store, browse.GridQuery(
                    ref, threshold, object_id=object_id, limit=STRIP))
                strips.append({"ref": ref, "images": rows.to_dict("records"), "total": total})
            return name, browse.choices(store)["threshold"], everywhere, kept, strips

        name, grid, everywhere, kept, strips = site.read(("object", request.path_params["name"], threshold), read)
        rows = everywhere[everywhere["object"] == name].copy()
        passed = set(zip(kept.loc[kept["object"] == name, "ingest_id"], kept.loc[kept["object"] == name, "city"]))
        rows["passes_filter"] = [(i, c) in passed for i, c in zip(rows["ingest_id"], rows["city"])]
        spec = None
        if len(rows):
            from cityq.charts import render_chart

            spec = site.derive(("object chart", name, threshold),
                               lambda: render_chart("rpc by city", rows).to_dict(validate=False))
        columns = ["model", "segmenter", "city", "rpc", "lift", "mean_pixels", "n_images", "passes_filter"]
        return site.page(request, "object.html", {
            "name": name, "threshold": threshold, "grid": grid, "spec": spec,
            "table": table(rows[columns]), "strips": strips,
        })

    return [Route("/objects", index, name="objects"), Route("/objects/{name}", one, name="object")]
