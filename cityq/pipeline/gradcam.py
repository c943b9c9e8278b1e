"""Grad-CAM masks exactly as the `grad-cam` package (1.5.x) computes them, batched in torch.

SPEC §3. For inputs x (N,3,H,W), targets c (N,) and target-layer activations A (N,K,h,w):

    G   = d(sum_n logit[n, c_n]) / dA          one autograd.grad call, no parameter gradients
    w   = mean of G over (h, w)                (N,K)
    cam = ReLU(sum_k w_k A_k)                  (N,h,w)
    cam = (cam - min) / (max - min + 1e-7)     per image   -> compute_cams
    up  = bilinear(cam, (H,W), align_corners=False), then min-max again (eps 1e-7)
                                               per image   -> upsample_cams

How this matches `pytorch_grad_cam.GradCAM` (read from base_cam.py and utils/image.py of 1.5.x):
it sums `ClassifierOutputTarget` logits over the batch and backpropagates once, averages the
gradients over space, ReLUs the weighted sum, then `scale_cam_image` subtracts the min,
divides by (1e-7 + max) and calls `cv2.resize(cam, (W, H))` (INTER_LINEAR: half-pixel
centres, no antialiasing, i.e. torch's bilinear with align_corners=False and antialias=False);
`aggregate_multi_layers` then clamps at 0, averages over the one layer and calls
`scale_cam_image` again without resizing. The only difference is arithmetic: grad-cam works in
numpy float32 (and cv2's float resize), we in torch float32; tests bound the difference.

Upstream of the target layer nothing requires grad (parameters are frozen for the call and
the input does not require grad), so no graph is recorded there; the hook hands the rest of
the network a fresh leaf `A` that requires grad, so backward stops at the layer. That, and not
computing parameter gradients, is where the speed over grad-cam comes from.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from cityq.cams import minmax_normalize, upsample_cams

__all__ = ["LayerOutputCapture", "compute_cams", "gradcam_masks", "minmax_normalize", "upsample_cams"]


class LayerOutputCapture:
    """Context manager: while open, the layer's output is replaced by a grad-requiring leaf, kept in `.output`."""

    def __init__(self, layer: nn.Module):
        self.layer = layer
        self.output: torch.Tensor | None = None
        self._handle = None

    def _hook(self, module, inputs, output):
        leaf = output.detach().requires_grad_(True)
        self.output = leaf
        return leaf

    def __enter__(self) -> "LayerOutputCapture":
        self._handle = self.layer.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
        self.output = None


@contextlib.contextmanager
def _frozen_eval(model: nn.Module):
    """Eval mode and no parameter gradients for the duration; both restored afterwards."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    was_training = model.training
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        model.eval()
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


def compute_cams(
    model: nn.Module, layer: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Native-resolution CAMs (N,h,w) float32 in [0,1], min-max normalised, and the logits (N,C).

    `inputs` must already be on the model's device and preprocessed; `targets` holds one class
    index per image. The model runs in eval mode (restored afterwards)."""
    targets = torch.as_tensor(targets, device=inputs.device, dtype=torch.long)
    with _frozen_eval(model), torch.enable_grad(), LayerOutputCapture(layer) as capture:
        logits = model(inputs.detach())
        activations = capture.output
        if activations is None:
            raise RuntimeError("the target layer did not run in the forward pass")
        score = logits.gather(1, targets[:, None]).sum()
        (grads,) = torch.autograd.grad(score, activations)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cams = torch.relu((weights * activations.detach()).sum(dim=1))
    return minmax_normalize(cams.float()), logits.detach()


def gradcam_masks(
    model: nn.Module, layer: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-size masks (N,H,W) at the input size, and the logits."""
    cams, logits = compute_cams(model, layer, inputs, targets)
    return upsample_cams(cams, inputs.shape[-2:]), logits
