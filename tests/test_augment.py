"""Training augmentation: label-preserving copies of the image, deterministic for a seed."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cityq.pipeline.augment import augment


def _candidates(image: torch.Tensor, pad: int):
    padded = F.pad(image[None].float(), (pad, pad, pad, pad), mode="replicate")[0]
    h, w = image.shape[-2:]
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[:, dy:dy + h, dx:dx + w].to(image.dtype)
            yield crop
            yield crop.flip(-1)


def test_each_output_is_a_shifted_or_flipped_copy():
    images = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    out = augment(images, torch.Generator().manual_seed(0), max_shift=0.125)  # pad = 2 px
    assert out.shape == images.shape and out.dtype == torch.uint8
    for original, result in zip(images, out):
        assert any(torch.equal(result, c) for c in _candidates(original, 2))


def test_deterministic_for_the_generator_and_not_the_identity():
    images = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    a = augment(images, torch.Generator().manual_seed(3))
    b = augment(images, torch.Generator().manual_seed(3))
    c = augment(images, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, images)
