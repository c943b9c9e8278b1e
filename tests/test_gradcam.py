"""Grad-CAM: a live comparison with the `grad-cam` package (SPEC §3) and the edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cityq.models import create_model, list_archs, target_layer
from cityq.pipeline.gradcam import compute_cams, gradcam_masks, minmax_normalize, upsample_cams

pytorch_grad_cam = pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402


def reference_masks(model, layer, inputs, targets) -> np.ndarray:
    with pytorch_grad_cam.GradCAM(model, target_layers=[layer]) as cam:
        return cam(inputs, targets=[ClassifierOutputTarget(int(t)) for t in targets])


@pytest.mark.parametrize("arch", list_archs())
@pytest.mark.parametrize("size", [72])
def test_equals_grad_cam_package(arch, size):
    torch.manual_seed(1)
    model = create_model(arch, 3).eval()
    inputs = torch.randn(3, 3, size, size)
    targets = torch.tensor([0, 2, 1])
    ours, logits = gradcam_masks(model, target_layer(model, arch), inputs, targets)
    theirs = reference_masks(model, target_layer(model, arch), inputs, targets)
    assert ours.shape == theirs.shape == (3, size, size)
    assert ours.dtype == torch.float32
    assert np.abs(ours.numpy() - theirs).max() < 1e-4
    assert ours.max() > 0.99  # a real, non-degenerate mask was compared
    with torch.no_grad():
        assert torch.allclose(logits, model(inputs))


def test_no_parameter_gradients_and_state_restored():
    model = create_model("simple", 2).train()
    cams, _ = compute_cams(model, target_layer(model, "simple"), torch.randn(2, 3, 64, 64), torch.tensor([0, 1]))
    assert cams.shape == (2, 8, 8)
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    assert model.training
    assert not target_layer(model, "simple")._forward_hooks


def test_all_zero_stays_zero_and_never_nan():
    cams = torch.zeros(2, 4, 4)
    cams[1, 1, 2] = 3.0
    normed = minmax_normalize(cams)
    assert torch.equal(normed[0], torch.zeros(4, 4))
    full = upsample_cams(normed, (16, 16))
    assert torch.equal(full[0], torch.zeros(16, 16))
    assert torch.isfinite(full).all() and abs(full[1].max().item() - 1) < 1e-6 and full[1].min() == 0


def test_upsampling_is_bilinear_half_pixel_like_cv2():
    cv2 = pytest.importorskip("cv2")
    cams = minmax_normalize(torch.rand(1, 5, 7))
    ours = upsample_cams(cams, (40, 56))[0].numpy()
    theirs = cv2.resize(cams[0].numpy(), (56, 40))
    theirs = (theirs - theirs.min()) / (theirs.max() - theirs.min() + 1e-7)
    assert np.abs(ours - theirs).max() < 1e-5
