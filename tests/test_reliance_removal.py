"""Removal methods (impute, mean, blur, redraw) and the control region, against numpy brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cityq.objects import object_index
from cityq.reliance.control import control_region, control_seed
from cityq.reliance.redraw import redraw_control, redraw_removal
from cityq.reliance.removal import ROAD_SIGMA, blur_fill, impute, mean_fill
from cityq.synth import generate_dataset
from cityq.synth.replay import BACKDROP, Replayer, SynthRecord


def _blob(h, w, cy, cx, ry, rx):
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1


def test_impute_reconstructs_a_flat_background_behind_an_object():
    h, w = 64, 80
    background = np.array([0.3, 0.55, 0.7], np.float32)
    image = np.broadcast_to(background, (h, w, 3)).copy()
    obj = _blob(h, w, 30, 40, 12, 18)
    image[obj] = (1.0, 0.0, 1.0)
    filled = impute(image, obj, rng=np.random.default_rng(1))
    error = filled[obj] - background
    assert np.abs(filled[~obj] - image[~obj]).max() == 0
    assert np.abs(error.mean(axis=0)).max() < 1e-3  # unbiased
    assert np.allclose(error.std(axis=0), ROAD_SIGMA, rtol=0.1)  # only ROAD's noise is left
    assert np.abs(error).max() < 6 * max(ROAD_SIGMA)


def test_impute_without_noise_reconstructs_a_linear_gradient_exactly():
    h, w = 48, 56
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    image = np.stack([0.1 + 0.01 * yy, 0.2 + 0.005 * xx, 0.9 - 0.004 * yy - 0.006 * xx], axis=-1)
    truth = image.copy()
    obj = _blob(h, w, 20, 30, 10, 14) | _blob(h, w, 38, 12, 5, 6)
    image[obj] = 0.0
    filled = impute(image, obj, noise=0)
    assert np.abs(filled - truth).max() < 1e-4


def test_impute_agrees_with_grad_cams_road_imputer():
    """grad-cam ships ROAD's reference NoisyLinearImputer (pytorch_grad_cam.metrics.road)."""
    road = pytest.importorskip("pytorch_grad_cam.metrics.road")
    rng = np.random.default_rng(0)
    image = rng.random((30, 36, 3)).astype(np.float32)
    mask = _blob(30, 36, 12, 15, 8, 10) | _blob(30, 36, 0, 0, 3, 4) | _blob(30, 36, 29, 35, 4, 3)
    theirs = road.NoisyLinearImputer(noise=0)(torch.from_numpy(image.transpose(2, 0, 1).copy()),
                                             torch.from_numpy((~mask).astype(np.float32)))
    assert np.abs(theirs.numpy().transpose(1, 2, 0) - impute(image, mask, noise=0)).max() < 1e-5


def test_impute_is_the_weighted_mean_of_the_neighbours_at_every_removed_pixel():
    rng = np.random.default_rng(3)
    image = rng.random((20, 24, 3)).astype(np.float32)
    mask = rng.random((20, 24)) < 0.3
    filled = impute(image, mask, noise=0).astype(np.float64)
    weights = {(dy, dx): (1 / 12 if dy and dx else 1 / 6) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx}
    for y, x in zip(*np.nonzero(mask)):
        total, acc = 0.0, np.zeros(3)
        for (dy, dx), wgt in weights.items():
            if 0 <= y + dy < 20 and 0 <= x + dx < 24:
                total += wgt
                acc += wgt * filled[y + dy, x + dx]
        assert np.allclose(filled[y, x], acc / total, atol=1e-9)


def test_mean_and_blur_fill_only_the_mask():
    rng = np.random.default_rng(2)
    image = rng.random((32, 32, 3)).astype(np.float32)
    mask = _blob(32, 32, 16, 16, 6, 9)
    meaned = mean_fill(image, mask, (0.4, 0.5, 0.6))
    assert np.all(meaned[mask] == np.float32([0.4, 0.5, 0.6])) and np.array_equal(meaned[~mask], image[~mask])
    blurred = blur_fill(image, mask)
    assert np.array_equal(blurred[~mask], image[~mask])
    assert blurred[mask].std() < 0.25 * image[mask].std()  # strong: noise is smoothed away
    with pytest.raises(ValueError):
        impute(image, np.ones((32, 32), bool))


def test_the_control_is_the_same_shape_moved_off_the_object():
    h, w = 40, 50
    obj = _blob(h, w, 12, 14, 6, 9)
    region = control_region(obj, seed=7)
    assert region.mask.sum() == obj.sum() and region.overlap == 0 and not region.wraps
    assert not (region.mask & obj).any()
    assert np.array_equal(np.roll(obj, region.shift, axis=(0, 1)), region.mask)
    # The same place for the same seed, another place for another seed.
    assert control_region(obj, seed=7).shift == region.shift
    assert len({control_region(obj, seed=s).shift for s in range(8)}) > 4


def test_the_control_overlap_is_the_brute_force_overlap_of_each_shift():
    rng = np.random.default_rng(5)
    obj = rng.random((12, 14)) < 0.55  # too big to move off itself: the least overlap wins
    region = control_region(obj, seed=1)
    brute = np.array([[(np.roll(obj, (dy, dx), axis=(0, 1)) & obj).sum() for dx in range(14)] for dy in range(12)])
    brute[0, 0] = 10**9
    assert region.overlap == brute.min() == brute[region.shift]
    assert region.mask.sum() == obj.sum()


def test_a_wide_object_is_wrapped_only_when_it_cannot_move_whole():
    obj = np.zeros((20, 30), bool)
    obj[8:12, :] = True  # the full width: moving it up or down keeps it whole
    for seed in range(10):  # shifts of 9-11 rows would avoid it too, but cut it in two
        region = control_region(obj, seed=seed)
        assert region.overlap == 0 and not region.wraps and region.shift[1] == 0
    diagonal = np.zeros((20, 30), bool)
    diagonal[np.arange(20), np.arange(20) * 29 // 19] = True  # spans the image: it cannot move whole
    region = control_region(diagonal, seed=0)
    assert region.wraps and region.overlap == 0 and region.mask.sum() == diagonal.sum()
    assert control_seed("tokyo/000001.png", 43) != control_seed("tokyo/000001.png", 32)


def test_redraw_removal_and_its_control(tmp_path):
    generate_dataset(tmp_path, per_city=4, size=48, seed=2, progress=False)
    replayer = Replayer(SynthRecord.read(tmp_path))
    backdrop = [object_index(n) for n in BACKDROP]
    rel = "tokyo/000000.png"
    original = replayer.draw(rel)
    labels = original.labels
    for k in sorted(set(np.unique(labels).tolist()) - set(backdrop)):
        removed = redraw_removal(replayer, rel, k)
        assert np.array_equal(removed, replayer.draw(rel, [k]).rgb)
        region = control_region(labels == k, control_seed(rel, k)).mask
        control = redraw_control(replayer, rel, original.rgb, labels, region)
        changed = (control != original.rgb).any(axis=-1)
        assert not (changed & ~region).any()
        # Inside the region, only objects changed; the backdrop has nothing behind it.
        assert not (changed & np.isin(labels, backdrop)).any()


def test_a_remover_changes_only_the_object_at_the_models_size(tmp_path):
    from PIL import Image

    from cityq.errors import CityqError
    from cityq.reliance.variants import Remover

    generate_dataset(tmp_path, per_city=2, size=64, seed=1, progress=False)
    rel = "tokyo/000001.png"
    stored = np.asarray(Image.open(tmp_path / rel))
    small = np.asarray(Image.open(tmp_path / rel).resize((48, 48), Image.Resampling.BILINEAR))
    labels = np.asarray(Image.open(tmp_path / "tokyo/000001.labels.png").resize((48, 48), Image.Resampling.NEAREST))
    objects = [k for k in np.unique(labels) if k not in {object_index(n) for n in BACKDROP}]
    for method in ("impute", "mean", "blur"):
        for r in Remover(method, 48, mean_colour=(0.5, 0.5, 0.5)).remove(rel, small, labels, objects):
            mask = labels == r.object_id
            assert r.pixels == mask.sum()
            assert np.array_equal(r.removed[~mask], small[~mask]), method
            assert (r.control != small).any(axis=-1).sum() <= mask.sum()
    replayer = Replayer(SynthRecord.read(tmp_path))
    redraw = Remover("redraw", 48, replayer=replayer)
    for r in redraw.remove(rel, small, labels, objects, stored=stored):
        expected = Image.fromarray(replayer.draw(rel, [r.object_id]).rgb).resize((48, 48), Image.Resampling.BILINEAR)
        assert np.array_equal(r.removed, np.asarray(expected))
    with pytest.raises(CityqError, match="no longer draws"):
        redraw.remove(rel, small, labels, objects, stored=stored[::-1])
    with pytest.raises(CityqError, match="synthetic"):
        Remover("redraw", 48)
