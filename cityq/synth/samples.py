"""A picture of sample scenes beside their colourised label maps, with a legend (for the docs).

    python -m cityq.synth.samples docs/img/synth_samples.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cityq.objects import N_CLASSES, object_name
from cityq.synth.scene import render_place_view
from cityq.synth.spec import Spec, load_spec

# Classes the scenes always show get familiar colours; planted ones loud, distinct ones.
FIXED = {"building": (150, 110, 90), "sky": (150, 200, 240), "road": (110, 110, 120), "sidewalk": (230, 190, 230),
         "windowpane": (60, 90, 200), "door": (250, 230, 80), "tree": (50, 160, 60), "car": (0, 0, 140),
         "person": (230, 20, 60), "signboard": (255, 120, 0), "fence": (255, 0, 255), "skyscraper": (0, 230, 230),
         "earth": (140, 80, 20)}


def label_colours() -> np.ndarray:
    """A fixed colour per ADE20K class: FIXED where given, else well-spread golden-angle hues."""
    import colorsys

    from cityq.objects import object_index

    table = np.array(
        [
            [
                int(255 * v)
                for v in colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65 + 0.35 * (i % 2), 0.95 - 0.3 * (i % 3 == 0))
            ]
            for i in range(N_CLASSES)
        ],
        np.uint8,
    )
    for name, rgb in FIXED.items():
        table[object_index(name)] = rgb
    return table


def samples_figure(
    path: str | Path, spec: Spec | str | Path | None = None, per_city: int = 3, size: int = 160, seed: int = 0
) -> Path:
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    colours, gap, legend_w, title_h = label_colours(), 6, 150, 18
    rows, present = [], set()
    for city in spec.city_names:
        tiles = []
        for place in range(per_city):
            rgb, labels, _ = render_place_view(spec, city, size, seed, place)
            present |= set(np.unique(labels).tolist())
            tiles += [rgb, colours[labels], np.full((size, gap, 3), 255, np.uint8)]
        rows.append((city, np.concatenate(tiles[:-1], axis=1)))
    width = rows[0][1].shape[1] + legend_w
    height = len(rows) * (size + title_h) + 4
    canvas = Image.new("RGB", (width, max(height, 14 * len(present) + 20)), "white")
    draw = ImageDraw.Draw(canvas)
    planted = {p.name: c.name for c in spec.cities for p in c.planted}
    for r, (city, strip) in enumerate(rows):
        y = r * (size + title_h)
        names = ", ".join(p.name for p in spec.city(city).planted)
        draw.text((2, y + 3), f"{city}  (planted: {names})  -  scene | labels", fill="black")
        canvas.paste(Image.fromarray(strip), (0, y + title_h))
    x0 = width - legend_w + 8
    for k, index in enumerate(sorted(present)):
        y = 6 + 14 * k
        draw.rectangle([x0, y, x0 + 10, y + 10], fill=tuple(int(v) for v in colours[index]))
        name = object_name(index)
        mark = f"  <- {planted[name]}" if name in planted else ""
        draw.text((x0 + 14, y - 1), f"{index} {name}{mark}", fill="black")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


if __name__ == "__main__":
    print(samples_figure(sys.argv[1] if len(sys.argv) > 1 else "docs/img/synth_samples.png"))
