"""The `segformer` segmenter against transformers' own pipeline, on a tiny random model saved locally."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from cityq.errors import CityqError
from cityq.segmenters import ImageBatch, SegmenterRecord, load_segmenter

transformers = pytest.importorskip("transformers", reason="optional extra: pip install 'cityq[segformer]'")


def save_tiny_segformer(folder, num_labels=150):
    torch.manual_seed(0)
    config = transformers.SegformerConfig(
        num_labels=num_labels, hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 2, 2],
        decoder_hidden_size=32, sr_ratios=[8, 4, 2, 1],
    )
    model = transformers.SegformerForSemanticSegmentation(config).eval()
    model.save_pretrained(folder)
    processor = transformers.SegformerImageProcessor(size={"height": 64, "width": 64})
    processor.save_pretrained(folder)
    return model, processor


def test_matches_transformers_post_processing(tmp_path):
    model, processor = save_tiny_segformer(tmp_path / "segformer")
    seg = load_segmenter(SegmenterRecord("sf", "segformer", str(tmp_path / "segformer")), device="cpu")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (50, 70, 3), dtype=np.uint8) for _ in range(2)]
    ours = seg.segment(ImageBatch(images), 40, 48)
    with torch.no_grad():
        out = model(**processor(images=images, return_tensors="pt"))
    theirs = torch.stack(processor.post_process_semantic_segmentation(out, target_sizes=[(40, 48)] * 2))
    assert ours.dtype == torch.uint8 and ours.shape == (2, 40, 48)
    agreement = (ours.long() == theirs).float().mean().item()
    print("segformer pixel agreement", agreement)
    assert agreement == 1.0 and len(theirs.unique()) > 1


def test_other_class_count_is_refused(tmp_path):
    save_tiny_segformer(tmp_path / "sf19", num_labels=19)
    with pytest.raises(CityqError, match="19 classes"):
        load_segmenter(SegmenterRecord("sf", "segformer", str(tmp_path / "sf19")), device="cpu")


def test_missing_transformers_says_what_to_install(tmp_path, monkeypatch):
    save_tiny_segformer(tmp_path / "segformer")
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(CityqError, match=r"pip install 'cityq\[segformer\]'"):
        load_segmenter(SegmenterRecord("sf", "segformer", str(tmp_path / "segformer")), device="cpu")


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(CityqError, match="no config.json"):
        load_segmenter(SegmenterRecord("sf", "segformer", str(tmp_path)), device="cpu")
