"""`folders`: every image file under the city folder, at any depth, is an image of the city."""

from __future__ import annotations

from pathlib import Path

from cityq.pipeline.layouts.base import Entry, LayoutOptions, Scan
from cityq.pipeline.layouts.files import is_image


class Folders:
    name = "folders"
    summary = "any tree of images under each city folder; place id = file stem or --place-pattern"

    def detect(self, city_dir: Path, files: list[Path]) -> bool:
        return True

    def scan(self, city_dir: Path, files: list[Path], options: LayoutOptions) -> Scan:
        scan = Scan()
        for path in files:
            if is_image(path):
                scan.images.append(Entry(path))
            else:  # label maps and non-image files: the generic checks, as always
                scan.other.append(path)
        return scan


LAYOUT = Folders()
