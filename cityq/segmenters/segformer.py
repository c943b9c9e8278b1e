"""The `segformer` segmenter: a local Hugging Face ADE20K folder (SegFormer, UperNet, ...).

Loaded offline (`local_files_only`) through `transformers`, an optional extra. Preprocessing
is the folder's own image processor (its resize, rescale and normalisation); the logits are
resized bilinearly to the requested geometry and argmaxed, as the processor's
`post_process_semantic_segmentation` does.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from cityq.errors import CityqError
from cityq.segmenters.registry import ImageBatch, ScoreSegmenter, SegmenterRecord, check_class_count, register_segmenter


def _transformers():
    try:
        import transformers
    except ImportError:
        raise CityqError("the segformer segmenter needs transformers: pip install 'cityq[segformer]'") from None
    return transformers


class HuggingFaceSegmenter(ScoreSegmenter):
    def __init__(self, model, processor, device: torch.device, config: dict):
        self.model = model.to(device).eval()
        self.processor = processor
        self.device = device
        self.config = config

    @torch.no_grad()
    def scores(self, batch: ImageBatch, height: int, width: int) -> torch.Tensor:
        inputs = self.processor(images=list(batch.images), return_tensors="pt")
        logits = self.model(pixel_values=inputs["pixel_values"].to(self.device)).logits
        return F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)


@register_segmenter("segformer")
def load_segformer(record: SegmenterRecord, store_root: Path | None, device: torch.device) -> HuggingFaceSegmenter:
    folder = record.resolved_path(store_root)
    if folder is None or not (folder / "config.json").is_file():
        raise CityqError(
            f"{folder} is not a Hugging Face model folder (no config.json); pass --path to a local "
            "SegFormer/UperNet ADE20K folder."
        )
    tf = _transformers()
    try:
        config = tf.AutoConfig.from_pretrained(folder, local_files_only=True)
        check_class_count(int(config.num_labels), f"Hugging Face model {folder}")
        model = tf.AutoModelForSemanticSegmentation.from_pretrained(folder, local_files_only=True)
        if (folder / "preprocessor_config.json").is_file():
            processor = tf.AutoImageProcessor.from_pretrained(folder, local_files_only=True)
        else:  # SegFormer's defaults: 512x512, ImageNet statistics
            processor = tf.SegformerImageProcessor()
    except CityqError:
        raise
    except (OSError, ValueError, KeyError) as e:
        raise CityqError(f"cannot load Hugging Face model {folder}: {str(e).splitlines()[0]}") from None
    resolved = {"model_type": config.model_type, "architectures": list(config.architectures or [])}
    return HuggingFaceSegmenter(model, processor, device, resolved)
