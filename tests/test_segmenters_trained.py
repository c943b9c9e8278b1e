"""`cityq segmenter train`: a tiny U-Net learns colour-coded label maps and becomes a segmenter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cityq.errors import CityqError
from cityq.pipeline.segment import ensure_segmentation
from cityq.segmenters.catalog import get_segmenter_record
from cityq.segmenters.train_segmenter import SegmenterTrainConfig, evaluate, train_segmenter
from cityq.store import Store
from cityq.store.segmentations import load_segmentation

# Each class has its own colour: learnable in a few epochs, unlike random noise.
COLOURS = {2: (120, 170, 240), 1: (150, 110, 90), 6: (80, 80, 80), 32: (200, 160, 40)}


def write_learnable_dataset(store: Store, root: Path, n: int = 20, size: int = 32) -> None:
    rng = np.random.default_rng(0)
    store.con.execute("INSERT INTO datasets VALUES ('toy', $root, ['a'], 0, NULL, NULL, current_timestamp)",
                      {"root": str(root)})
    (root / "a").mkdir(parents=True)
    for i in range(n):
        labels = np.full((size, size), 2, np.uint8)  # sky
        horizon = int(rng.integers(size // 3, size // 2))
        labels[horizon:] = 6  # road
        labels[horizon // 2 : horizon, : int(rng.integers(4, size))] = 1  # building
        x0 = int(rng.integers(0, size - 8))
        labels[horizon - 4 : horizon + 6, x0 : x0 + 8] = 32  # fence
        image = np.zeros((size, size, 3), np.float32)
        for c, rgb in COLOURS.items():
            image[labels == c] = rgb
        image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(root / "a" / f"{i}.png")
        Image.fromarray(labels).save(root / "a" / f"{i}.labels.png")
        split = "test" if i % 4 == 0 else "train"
        store.con.execute(
            "INSERT INTO images (dataset, city, path, width, height, sha256, place_id, split, labels_path, added_at) "
            "VALUES ('toy', 'a', ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
            [f"a/{i}.png", size, size, f"sha{i}", str(i), split, f"a/{i}.labels.png"])


@pytest.fixture
def store(tmp_path):
    s = Store.create(tmp_path / "store")
    write_learnable_dataset(s, tmp_path / "data")
    yield s
    s.close()


def test_train_then_segment(store):
    cfg = SegmenterTrainConfig(epochs=15, input_size=32, width=8, batch_size=8, lr=1e-2)
    metrics = train_segmenter(store, "toy", name="toy-unet", config=cfg, device="cpu", progress=False)
    print("toy pixel accuracy", metrics["pixel_accuracy"], "mIoU", metrics["miou"])
    assert metrics["pixel_accuracy"] > 0.9
    assert set(metrics["iou"]) == {1, 2, 6, 32}
    row = store.fetch_df(
        "SELECT kind, path, CAST(metrics->>'miou' AS DOUBLE) AS miou FROM segmenters WHERE segmenter = 'toy-unet'"
    )
    assert row.kind[0] == "trained" and not Path(row.path[0]).is_absolute()
    assert (store.path / row.path[0]).is_file() and row.miou[0] == pytest.approx(metrics["miou"])
    assert get_segmenter_record(store, "toy-unet").config["classes"] == [1, 2, 6, 32]

    ids = store.fetch_df("SELECT image_id FROM images WHERE split = 'test' ORDER BY 1").image_id.tolist()
    seg_id = ensure_segmentation(store, "toy-unet", "toy", ids, 24, 24, device="cpu", progress=False)
    labels_id = ensure_segmentation(store, "labels", "toy", ids, 24, 24, device="cpu", progress=False)
    ours, truth = load_segmentation(store, seg_id, ids), load_segmentation(store, labels_id, ids)
    assert set(np.unique(ours)) <= {1, 2, 6, 32}
    assert (ours == truth).mean() > 0.85

    agreement = store.query("segmenter agreement", segmenter="toy-unet")
    assert set(agreement.object) <= {"building", "sky", "road", "fence"} and len(agreement) >= 3
    # Counts alone bound the per-pixel figures from above.
    assert agreement.count_accuracy.iloc[0] >= (ours == truth).mean() - 1e-9
    assert ((agreement.count_iou >= 0) & (agreement.count_iou <= 1)).all()
    assert agreement.exact_miou.iloc[0] == pytest.approx(metrics["miou"])
    sky = agreement[agreement.object == "sky"].iloc[0]
    true_sky = ((ours == 2) & (truth == 2)).sum() / ((ours == 2) | (truth == 2)).sum()
    assert sky.count_iou >= true_sky - 1e-9 and sky.mean_pixels_labels == pytest.approx((truth == 2).sum() / len(ids))

    with pytest.raises(CityqError, match="exists already"):
        train_segmenter(store, "toy", name="toy-unet", config=cfg, device="cpu", progress=False)


def test_evaluate_pixel_accuracy_and_miou():
    truth = torch.tensor([[0, 0, 1, 1]], dtype=torch.uint8)
    pred = torch.tensor([[0, 1, 1, 1]], dtype=torch.uint8)
    m = evaluate(pred, truth)
    assert m["pixel_accuracy"] == 0.75
    assert m["miou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
