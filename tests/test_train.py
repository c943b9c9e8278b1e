"""Training and importing models on a tiny dataset drawn in the test (squares vs bars)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from cityq.datasets import add_dataset
from cityq.errors import CityqError
from cityq.models import create_model
from cityq.models.checkpoint import read_checkpoint
from cityq.pipeline import images as images_module
from cityq.pipeline.images import load_image_tensor
from cityq.pipeline.train import import_model, list_models, train_model


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


FAST = dict(epochs=2, img_size=32, batch_size=8, progress=False, device="cpu")


def test_train_writes_model_epochs_predictions_and_checkpoint(shapes):
    name = train_model(shapes, "shapes", "simple", seed=3, **FAST)
    assert name == "simple-s3"
    row = shapes.fetch_df("SELECT * FROM models").iloc[0]
    assert (row["arch"], row["seed"], row["source"], list(row["cities"])) == ("simple", 3, "trained", ["bars", "squares"])
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
    assert list_models(shapes)["name"].tolist() == ["simple-s3"]


def test_same_seed_same_model_and_rerun_does_nothing(shapes, capsys):
    train_model(shapes, "shapes", "simpler", seed=0, name="a", **FAST)
    train_model(shapes, "shapes", "simpler", seed=0, name="b", **FAST)
    paths = shapes.fetch_df("SELECT model, checkpoint FROM models ORDER BY model")["checkpoint"]
    first, second = (read_checkpoint(shapes.path / p)[0] for p in paths)
    assert all(torch.equal(first[k], second[k]) for k in first)
    losses = shapes.fetch_df("SELECT model, train_loss FROM epochs ORDER BY model, epoch")
    assert losses[losses.model == "a"].train_loss.tolist() == losses[losses.model == "b"].train_loss.tolist()

    train_model(shapes, "shapes", "simpler", seed=0, name="a", **FAST)
    assert "already in the store" in capsys.readouterr().err
    assert len(shapes.fetch_df("SELECT * FROM runs WHERE stage = 'train'")) == 2

    old = shapes.path / paths[0]
    train_model(shapes, "shapes", "simpler", seed=1, name="a", force=True, **FAST)
    assert not old.exists()
    assert shapes.fetch_df("SELECT seed FROM models WHERE model = 'a'")["seed"][0] == 1
    assert len(shapes.fetch_df("SELECT * FROM epochs WHERE model = 'a'")) == 2


def test_a_failure_at_the_end_leaves_no_half_model(shapes, monkeypatch):
    import cityq.pipeline.train as train

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(train, "_prediction_rows", boom)
    with pytest.raises(OSError):
        train_model(shapes, "shapes", "simple", **FAST)
    for table in ("models", "epochs", "predictions"):
        assert shapes.fetch_df(f"SELECT count(*) n FROM {table}")["n"][0] == 0
    assert shapes.fetch_df("SELECT status FROM runs WHERE stage = 'train'")["status"].tolist() == ["failed"]


def test_bad_input(shapes, tmp_path, monkeypatch):
    with pytest.raises(CityqError, match="known: .*vgg11"):
        train_model(shapes, "shapes", "alexnet", **FAST)
    with pytest.raises(CityqError, match="not in the store"):
        train_model(shapes, "nope", "simple", **FAST)
    add_dataset(shapes, draw(tmp_path / "tiny", per_city=3), "tiny", progress=False)
    with pytest.raises(CityqError, match="at least 5 per city"):
        train_model(shapes, "tiny", "simple", **FAST)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CityqError, match="no CUDA GPU"):
        train_model(shapes, "shapes", "simple", **{**FAST, "device": "cuda"})
    shapes.con.execute("UPDATE images SET split = 'train' WHERE dataset = 'shapes' AND city = 'bars' AND split = 'val'")
    with pytest.raises(CityqError, match="'bars' has no val images"):
        train_model(shapes, "shapes", "simple", **FAST)
    assert shapes.fetch_df("SELECT count(*) n FROM models")["n"][0] == 0


def test_precision_is_resolved_recorded_and_checked(shapes, monkeypatch):
    import json

    import cityq.device

    train_model(shapes, "shapes", "simple", name="b", precision="bf16", **FAST)
    monkeypatch.setattr(cityq.device, "cpu_has_native_bf16", lambda: False)
    train_model(shapes, "shapes", "simple", name="a", precision="auto", **FAST)  # emulated bf16 is slower: fp32
    configs = shapes.fetch_df("SELECT model, config FROM models ORDER BY model")["config"]
    assert [json.loads(c)["precision"] for c in configs] == ["fp32", "bf16"]
    with pytest.raises(CityqError, match="unknown precision 'fp8'; use auto, fp32, bf16"):
        train_model(shapes, "shapes", "simple", name="c", precision="fp8", **FAST)


def test_import_plain_state_dict_and_reject_a_misfit(shapes, tmp_path):
    torch.manual_seed(0)
    torch.save(create_model("simpler", 2).state_dict(), tmp_path / "w.pth")
    assert import_model(shapes, "simpler", tmp_path / "w.pth", "outside", "shapes", img_size=32) == "outside"
    row = shapes.fetch_df("SELECT source, img_size, seed FROM models").iloc[0]
    assert (row["source"], row["img_size"]) == ("imported", 32) and pd.isna(row["seed"])
    assert len(shapes.fetch_df("SELECT * FROM predictions WHERE model = 'outside'")) > 0
    with pytest.raises(CityqError, match="missing keys.*unexpected keys"):
        import_model(shapes, "resnet18", tmp_path / "w.pth", "wrong", "shapes")


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
    train_model(memory_store, "shapes", "simple", epochs=8, img_size=32, batch_size=16, progress=False, device="cpu")
    assert memory_store.fetch_df("SELECT test_accuracy FROM models")["test_accuracy"][0] >= 0.9
