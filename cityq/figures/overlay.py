"""One model's mask over one image, for a notebook:

    import cityq
    store = cityq.Store("cityq-store")
    cityq.overlay(store, "vgg11-s0", image_id)                  # heat map over the image (PIL)
    cityq.overlay(store, "vgg11-s0", image_id, threshold=0.5)   # the visual explanation at t = 0.5

The image is as the model saw it (its input size), the mask the full-size Grad-CAM mask of the
model's mask ingest; the heat map is jet (blue 0, red 1) mixed half and half with the image,
as grad-cam's `show_cam_on_image`. With a threshold, the pixels with mask < t are darkened
instead (SPEC §4). Returns a PIL image (it shows itself in Jupyter).
"""

from __future__ import annotations

from PIL import Image

from cityq.figures.explanations import load_images_and_masks, visual_explanations
from cityq.figures.explanations import overlay as mix
from cityq.figures.palette import heatmap


def overlay(store, model: str, image_id: int, *, threshold: float | None = None, image_weight: float = 0.5,
            split: str = "test", target: str = "true") -> Image.Image:
    """`model`'s Grad-CAM mask of image `image_id` over the image (or its visual explanation at
    `threshold`), as a PIL image at the model's input size."""
    from cityq.store.ingests import find_ingest

    ingest = find_ingest(store, model, split=split, target=target)
    images, masks = load_images_and_masks(store, ingest, [int(image_id)])
    shown = visual_explanations(images, masks, threshold) if threshold is not None \
        else mix(images, heatmap(masks), image_weight)
    return Image.fromarray(shown[0].permute(1, 2, 0).numpy())
