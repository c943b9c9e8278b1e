"""The threshold grid of an ingest: '0.05:0.95:0.05' (start:stop:step, stop included) or '0.3,0.5'."""

from __future__ import annotations

from cityq.errors import CityqError

DEFAULT_GRID = "0.05:0.95:0.05"


def parse_grid(text: str) -> tuple[float, ...]:
    """Sorted, distinct thresholds rounded to 6 decimals (the precision queries match on)."""
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            if step <= 0:
                raise ValueError
            count = int(round((stop - start) / step)) + 1
            values = [start + i * step for i in range(count) if start + i * step <= stop + 1e-9]
        else:
            values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CityqError(
            f"bad threshold grid {text!r}: write start:stop:step (e.g. 0.05:0.95:0.05) or a list (0.3,0.5)"
        ) from None
    grid = tuple(sorted({round(v, 6) for v in values}))
    if not grid or grid[0] <= 0 or grid[-1] >= 1:
        raise CityqError(f"threshold grid {text!r} must lie strictly inside (0, 1), e.g. 0.05:0.95:0.05")
    return grid
