"""Rows and charts as files: one writer per format, keyed by the URL's suffix."""

from __future__ import annotations

import io
import json

import pandas as pd
from starlette.responses import Response

from cityq.errors import CityqError


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _json(frame: pd.DataFrame) -> bytes:
    # The same records `cityq query --format json` prints: NaN -> null, ISO timestamps.
    rows = json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))
    return (json.dumps(rows, indent=1) + "\n").encode()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


ROW_FORMATS = {
    "csv": ("text/csv; charset=utf-8", _csv),
    "json": ("application/json", _json),
    "parquet": ("application/vnd.apache.parquet", _parquet),
}


def _png(spec: dict) -> bytes:
    import vl_convert

    return vl_convert.vegalite_to_png(spec, scale=2)


def _svg(spec: dict) -> bytes:
    import vl_convert

    return vl_convert.vegalite_to_svg(spec).encode()


CHART_FORMATS = {
    "png": ("image/png", _png),
    "svg": ("image/svg+xml", _svg),
    "json": ("application/json", lambda spec: json.dumps(spec).encode()),
}


def _file(formats: dict, fmt: str, thing, filename: str) -> Response:
    if fmt not in formats:
        raise CityqError(f"no download as .{fmt}; formats: {', '.join('.' + f for f in formats)}")
    media_type, write = formats[fmt]
    return Response(write(thing), media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'})


def rows_file(frame: pd.DataFrame, fmt: str, filename: str) -> Response:
    return _file(ROW_FORMATS, fmt, frame, filename)


def chart_file(spec: dict, fmt: str, filename: str) -> Response:
    return _file(CHART_FORMATS, fmt, spec, filename)
