"""Counts on the device equal an independent numpy computation (SPEC §6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cityq.counting import count_block
from cityq.errors import CityqError
from cityq.thresholds import parse_grid


def numpy_counts(masks, classes, grid):
    out = {}
    for b in range(masks.shape[0]):
        for p in np.unique(classes[b]):
            where = classes[b] == p
            values = masks[b][where]
            m = [int((values >= np.float32(t)).sum()) for t in grid]
            out[(b, int(p))] = (int(where.sum()), float(values.astype(np.float64).sum()), m)
    area = [[int((masks[b] >= np.float32(t)).sum()) for t in grid] for b in range(masks.shape[0])]
    return out, np.array(area)


def test_counts_match_numpy():
    rng = np.random.default_rng(0)
    masks = rng.random((5, 24, 20), dtype=np.float32)
    masks[1] = 0.0  # an all-zero mask: nothing reaches any threshold
    masks[2, :3] = 0.5  # values exactly on a grid value count as inside
    classes = rng.choice([0, 2, 13, 32, 43, 149], size=(5, 24, 20)).astype(np.uint8)
    grid = parse_grid("0.05:0.95:0.05")
    counts = count_block(torch.from_numpy(masks), torch.from_numpy(classes), torch.tensor(grid))
    expected, area = numpy_counts(masks, classes, grid)
    assert len(counts.object_id) == len(expected)
    for row in range(len(counts.object_id)):
        n, s, m = expected[(int(counts.image_index[row]), int(counts.object_id[row]))]
        assert counts.n_pixels[row] == n
        assert counts.soft_sum[row] == pytest.approx(s, rel=1e-9, abs=1e-6)
        assert counts.m_pixels[row].tolist() == m
    np.testing.assert_array_equal(counts.area_pixels, area)
    np.testing.assert_allclose(counts.mask_sum, masks.reshape(5, -1).astype(np.float64).sum(1), rtol=1e-9)


def test_grid_parsing():
    assert parse_grid("0.05:0.95:0.05")[:3] == (0.05, 0.1, 0.15)
    assert len(parse_grid("0.05:0.95:0.05")) == 19
    assert parse_grid("0.5,0.3,0.5") == (0.3, 0.5)
    for bad in ("0:1:0.1", "0.5,1.2", "a:b:c", "0.1:0.9:0", ""):
        with pytest.raises(CityqError):
            parse_grid(bad)
