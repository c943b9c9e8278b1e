"""Notebook helpers on `Store` that reach into the pipeline (imported lazily: torch is heavy).

    store.masks("vgg11-s0")                 -> (image_ids, float32 N x H x W in [0,1])
    store.segmentation("labels", image_ids) -> uint8 N x H x W class indices
    store.model("vgg11-s0")                 -> the torch module (eval mode, CPU)
    store.inputs("vgg11-s0", image_ids)     -> (the normalised input tensor, target class indices)
    store.target_layer("vgg11-s0")          -> the hooked module of store.model("vgg11-s0")
    store.object_index("fence")             -> 32
"""

from __future__ import annotations


def object_index(self, name: str) -> int:
    from cityq.objects import object_index as lookup

    return lookup(name)


def masks(self, model: str, split: str = "test", target: str = "true"):
    from cityq.pipeline.mask_store import find_ingest, read_masks

    return read_masks(self, find_ingest(self, model, split, target).ingest_id)


def cams(self, model: str, split: str = "test", target: str = "true"):
    """The native-resolution CAMs, the exact record the full-size masks derive from."""
    from cityq.pipeline.mask_store import find_ingest, read_cams

    return read_cams(self, find_ingest(self, model, split, target).ingest_id)


def segmentation(self, segmenter: str, image_ids, size: int | None = None):
    """Class maps of the images by a segmenter, at the geometry they were segmented at (the
    most recent segmentation that holds all of them, or the one at `size` x `size`)."""
    from cityq.errors import CityqError
    from cityq.pipeline.segment import load_segmentation

    ids = [int(i) for i in image_ids]
    rows = self.con.execute(
        "SELECT s.segmentation_id FROM segmentations s JOIN segmented_images g USING (segmentation_id) "
        "WHERE s.segmenter = $seg AND list_contains($ids, g.image_id) "
        "AND ($size IS NULL OR (s.height = $size AND s.width = $size)) "
        "GROUP BY s.segmentation_id HAVING count(*) = $n ORDER BY s.segmentation_id DESC LIMIT 1",
        {"seg": segmenter, "ids": ids, "size": size, "n": len(set(ids))},
    ).fetchall()
    if not rows:
        raise CityqError(
            f"segmenter {segmenter!r} has not segmented all of these images; run "
            f"`cityq segment --segmenter {segmenter} --dataset NAME` (or ingest a model with it)"
        )
    return load_segmentation(self, rows[0][0], ids)


def model(self, name: str):
    cache = self.__dict__.setdefault("_models", {})
    if name not in cache:
        from cityq.pipeline.model_records import get_model_record, load_model_weights

        cache[name] = load_model_weights(self, get_model_record(self, name))
    return cache[name]


def target_layer(self, name: str):
    from cityq.models.registry import target_layer as layer_of
    from cityq.pipeline.model_records import get_model_record

    return layer_of(self.model(name), get_model_record(self, name).arch)


def inputs(self, model: str, image_ids):
    """What the model saw: the normalised input tensor, and the true-city class indices."""
    import torch

    from cityq.pipeline.images import load_image_tensor, normalize
    from cityq.pipeline.model_records import get_model_record

    record = get_model_record(self, model)
    ids = [int(i) for i in image_ids]
    cities = dict(self.con.execute(
        "SELECT image_id, city FROM images WHERE list_contains($ids, image_id)", {"ids": ids}).fetchall())
    index = {city: i for i, city in enumerate(record.cities)}
    targets = torch.tensor([index[cities[i]] for i in ids], dtype=torch.long)
    return normalize(load_image_tensor(self, ids, record.img_size)), targets


def attach(cls) -> None:
    for helper in (object_index, masks, cams, segmentation, model, target_layer, inputs):
        setattr(cls, helper.__name__, helper)
