"""Segmenters: images in, ADE20K-150 class maps out, at the classifier's input geometry.

Kinds are registered by name in `registry.py`; importing this package registers the built-in
kinds (`labels`, `mit-semseg`, `segformer`, `trained`).
"""

# Registration happens on import; the heavy imports (transformers) stay inside the loaders.
from cityq.segmenters import labels, mit_semseg, segformer, small_net  # noqa: E402,F401
from cityq.segmenters.registry import (
    ImageBatch,
    Segmenter,
    SegmenterRecord,
    load_segmenter,
    register_segmenter,
    segmenter_kinds,
)

__all__ = [
    "ImageBatch",
    "Segmenter",
    "SegmenterRecord",
    "load_segmenter",
    "register_segmenter",
    "segmenter_kinds",
]
