"""Training and importing models on a tiny dataset drawn in the test (squares vs bars)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from cityq.errors import CityqError
from cityq.models import create_model
from cityq.models.checkpoint import read_checkpoint
from cityq.pipeline.datasets import add_dataset
from cityq.pipeline.train import ImportOptions, import_model, train_model
from cityq.pipeline.train_config import TrainConfig
from cityq.store import image_cache as images_module
from cityq.store.image_cache import load_image_tensor
from cityq.store.models import list_models


def draw(root, per_city: int, size: int = 32, seed: int = 0):
    """Two 'cities': a bright square or a bright horizontal bar on a noisy grey background."""
    rng = np.random.default_rng(seed)
    for city in ("bars", "squares"):
        (root / city).mkdir(parents=True, exist_ok=True)
        for i in range(per_city):
            pixels = rng.integers(60, 120, (size, size, 3), dtype=np.uint8)
            y, x = rng.integers(2, size - 12, 2)
            if city == "squares":
                pixels[y:y + 10, x:x + 10] = 250
            else:
                pixels[y:y + 3, 2:size - 2] = 250
            Image.fromarray(pixels).save(root / city / f"{i:03d}.png")
    return root


@pytest.fixture
def shapes(memory_store, tmp_path):
    add_dataset(memory_store, draw(tmp_path / "shapes", per_city=10), "shapes", progress=False)
    return memory_store


FAST = dict(epochs=2, img_size=32, batch_size=8, device="cpu")


def train(store, dataset: str, arch: str, force: bool = False, **config):
    """train_model with a TrainConfig built from keywords, quietly; returns the result."""
    return train_model(store, TrainConfig(dataset=dataset, arch=arch, **config), force=force, progress=False)


def test_train_writes_model_epochs_predictions_and_checkpoint(shapes):
    name = train(shapes, "shapes", "simple", seed=3, **FAST).model
    assert name == "simple-s3"
    row = shapes.fetch_df("SELECT * FROM models").iloc[0]
    assert (row["arch"], row["seed"], row["source"], list(row["cities"])) == (
        "simple",
        3,
        "trained",
        ["bars", "squares"],
    )
    assert 0 <= row["test_accuracy"] <= 1
    epochs = shapes.fetch_df("SELECT * FROM epochs ORDER BY epoch")
    assert epochs["epoch"].tolist() == [1, 2] and epochs["lr"].tolist() == [1e-4, 1e-4]
    n_test = shapes.fetch_df("SELECT count(*) n FROM images WHERE split = 'test'")["n"][0]
    preds = shapes.fetch_df("SELECT * FROM predictions")
    assert len(preds) == n_test
    assert np.allclose([sum(p) for p in preds["probs"]], 1, atol=1e-5)
    assert np.isclose((preds["true_index"] == preds["pred_index"]).mean(), row["test_accuracy"])
    state, meta = read_checkpoint(shapes.path / row["checkpoint"])  # weights_only load
    assert meta["arch"] == "simple" and meta["config"]["seed"] == 3
    assert shapes.fetch_df("SELECT status FROM runs WHERE stage = 'train'")["status"].tolist() == ["done"]
    assert list_models(shapes).df()["model"].tolist() == ["simple-s3"]


def test_same_seed_same_model_and_rerun_does_nothing(shapes):
    train(shapes, "shapes", "simpler", seed=0, name="a", **FAST)
    train(shapes, "shapes", "simpler", seed=0, name="b", **FAST)
    paths = shapes.fetch_df("SELECT model, checkpoint FROM models ORDER BY model")["checkpoint"]
    first, second = (read_checkpoint(shapes.path / p)[0] for p in paths)
    assert all(torch.equal(first[k], second[k]) for k in first)
    losses = shapes.fetch_df("SELECT model, train_loss FROM epochs ORDER BY model, epoch")
    assert losses[losses.model == "a"].train_loss.tolist() == losses[losses.model == "b"].train_loss.tolist()

    assert train(shapes, "shapes", "simpler", seed=0, name="a", **FAST).already_done
    assert len(shapes.fetch_df("SELECT * FROM runs WHERE stage = 'train'")) == 2

    old = shapes.path / paths[0]
    train(shapes, "shapes", "simpler", seed=1, name="a", force=True, **FAST)
    assert not old.exists()
    assert shapes.fetch_df("SELECT seed FROM models WHERE model = 'a'")["seed"][0] == 1
    assert len(shapes.fetch_df("SELECT * FROM epochs WHERE model = 'a'")) == 2


def test_a_failure_at_the_end_leaves_no_half_model(shapes, monkeypatch):
    import cityq.pipeline.train as train_module

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(train_module, "_prediction_rows", boom)
    with pytest.raises(OSError):
        train(shapes, "shapes", "simple", **FAST)
    for table in ("models", "epochs", "predictions"):
        assert shapes.fetch_df(f"SELECT count(*) n FROM {table}")["n"][0] == 0
    assert shapes.fetch_df("SELECT status FROM runs WHERE stage = 'train'")["status"].tolist() == ["failed"]


def test_bad_input(shapes, tmp_path, monkeypatch):
    with pytest.raises(CityqError, match="known: .*vgg11"):
        train(shapes, "shapes", "alexnet", **FAST)
    with pytest.raises(CityqError, match="not in the store"):
        train(shapes, "nope", "simple", **FAST)
    add_dataset(shapes, draw(tmp_path / "tiny", per_city=3), "tiny", progress=False)
    with pytest.raises(CityqError, match="at least 5 per city"):
        train(shapes, "tiny", "simple", **FAST)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CityqError, match="no CUDA GPU"):
        train(shapes, "shapes", "simple", **{**FAST, "device": "cuda"})
    shapes.con.execute("UPDATE images SET split = 'train' WHERE dataset = 'shapes' AND city = 'bars' AND split = 'val'")
    with pytest.raises(CityqError, match="'bars' has no val images"):
        train(shapes, "shapes", "simple", **FAST)
    assert shapes.fetch_df("SELECT count(*) n FROM models")["n"][0] == 0


def test_precision_is_resolved_recorded_and_checked(shapes, monkeypatch):
    import json

    import cityq.device

    train(shapes, "shapes", "simple", name="b", precision="bf16", **FAST)
    monkeypatch.setattr(cityq.device, "cpu_has_native_bf16", lambda: False)
    train(shapes, "shapes", "simple", name="a", precision="auto", **FAST)  # emulated bf16 is slower: fp32
    configs = shapes.fetch_df("SELECT model, config FROM models ORDER BY model")["config"]
    assert [json.loads(c)["precision"] for c in configs] == ["fp32", "bf16"]
    with pytest.raises(CityqError, match="unknown precision 'fp8'; use auto, fp32, bf16"):
        train(shapes, "shapes", "simple", name="c", precision="fp8", **FAST)


def test_import_plain_state_dict_and_reject_a_misfit(shapes, tmp_path):
    torch.manual_seed(0)
    torch.save(create_model("simpler", 2).state_dict(), tmp_path / "w.pth")
    options = ImportOptions("simpler", tmp_path / "w.pth", "outside", "shapes", img_size=32)
    assert import_model(shapes, options).model == "outside"
    row = shapes.fetch_df("SELECT source, img_size, seed FROM models").iloc[0]
    assert (row["source"], row["img_size"]) == ("imported", 32) and pd.isna(row["seed"])
    assert len(shapes.fetch_df("SELECT * FROM predictions WHERE model = 'outside'")) > 0
    with pytest.raises(CityqError, match="missing keys.*unexpected keys"):
        import_model(shapes, ImportOptions("resnet18", tmp_path / "w.pth", "wrong", "shapes"))


def test_images_are_decoded_once_and_returned_in_request_order(shapes, monkeypatch):
    ids = shapes.fetch_df("SELECT image_id FROM images ORDER BY image_id")["image_id"].tolist()
    first = load_image_tensor(shapes, ids[::-1], 24)
    assert first.dtype == torch.uint8 and first.shape == (len(ids), 3, 24, 24)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded twice")

    monkeypatch.setattr(images_module, "decode_resized", no_decoding)
    again = load_image_tensor(shapes, ids, 24)
    assert torch.equal(again, first.flip(0))
    assert len(list(shapes.cache_dir.glob("images-shapes-24px.*"))) == 2


@pytest.mark.slow
def test_simple_learns_squares_from_bars(memory_store, tmp_path):
    add_dataset(memory_store, draw(tmp_path / "shapes", per_city=40), "shapes", progress=False)
    train(memory_store, "shapes", "simple", epochs=8, img_size=32, batch_size=16, device="cpu")
    assert memory_store.fetch_df("SELECT test_accuracy FROM models")["test_accuracy"][0] >= 0.9
