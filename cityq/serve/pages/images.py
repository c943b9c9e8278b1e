"""Images: the test images of a model and city with the mask at a threshold (a slider), filtered
by an object inside the explanation or by a wrong prediction; with two or more models, the same
images side by side (the paper's Fig 6), the segmentation beside them."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from cityq.errors import CityqError
from cityq.serve.tiles import LAYERS
from cityq.store.browse import NotFound

PER_PAGE = 24  # tiles of one model
PER_PAGE_SIDE_BY_SIDE = 8  # rows of the side-by-side view
DEFAULT_THRESHOLD = 0.5


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "on", "yes")


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        raise CityqError(f"page must be a whole number, got {value!r}") from None


def _threshold(value: str | None, grid: tuple[float, ...]) -> float:
    if not value:
        return DEFAULT_THRESHOLD if DEFAULT_THRESHOLD in grid else grid[len(grid) // 2]
    try:
        return float(value)
    except ValueError:
        raise CityqError(f"threshold must be a number, got {value!r}") from None


def routes(site) -> list[Route]:
    def page(request):
        from cityq.store import browse

        q = request.query_params
        names = [m for m in q.getlist("model") if m.strip()]
        layer = q.get("layer") or "overlay"
        if layer not in LAYERS:
            raise NotFound("layer", layer, list(LAYERS))
        number = _int(q.get("page"), 1)
        wrong = _flag(q.get("wrong"))

        def read(store):
            ingested = browse.ingested_models(store)
            if not ingested:
                return None
            refs = [browse.model_ingest(store, m) for m in (names or ingested[:1])]
            first = refs[0]
            cities = browse.cities(store, first.dataset)
            city = q.get("city") or None
            if city is not None and city not in cities:
                raise NotFound("city", city, cities)
            object_name = (q.get("object") or "").strip() or None
            object_id = None
            if object_name is not None:
                object_id, object_name = browse.find_object(store, object_name)
            threshold = _threshold(q.get("threshold"), first.thresholds)
            per_page = PER_PAGE if len(refs) == 1 else PER_PAGE_SIDE_BY_SIDE
            rows, total = browse.grid_images(store, browse.GridQuery(
                first, threshold, city=city, object_id=object_id, wrong_only=wrong,
                others=tuple(r.ingest_id for r in refs[1:]), limit=per_page, offset=(number - 1) * per_page))
            return {
                "empty": False, "refs": refs, "ingested": ingested, "cities": cities, "city": city,
                "object": object_name, "objects": browse.present_objects(store)["object"].tolist(),
                "threshold": threshold, "grid": first.thresholds, "wrong": wrong,
                "images": rows.to_dict("records"), "total": total, "page": number,
                "pages": max(1, -(-total // per_page)), "per_page": per_page,
            }

        key = ("images", tuple(names), q.get("city"), q.get("object"), q.get("threshold"), wrong, number)
        context = site.read(key, read)
        if context is None:
            return site.page(request, "images.html", {"empty": True, "ingested": []})
        return site.page(request, "images.html", {**context, "layer": layer, "layers": LAYERS})

    def tile(request):
        ingest_id, image_id = request.path_params["ingest"], request.path_params["image"]
        try:
            threshold = float(request.query_params.get("t", DEFAULT_THRESHOLD))
        except ValueError:
            raise CityqError("t must be a number in [0, 1]") from None
        layer = request.query_params.get("layer", "overlay")
        data = site.tiles.png(ingest_id, image_id, threshold, layer)
        # A finished ingest never changes: the browser may keep the tile.
        return Response(data, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    return [
        Route("/images", page, name="images"),
        Route("/tiles/{ingest:int}/{image:int}.png", tile, name="tile"),
    ]
