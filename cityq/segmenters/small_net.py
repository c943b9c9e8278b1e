"""The `trained` segmenter: a tiny U-Net that cityq trains itself on a dataset with labels.

It predicts only the classes seen in its training labels (`config["classes"]`, ADE20K
indices) and maps its argmax back to ADE20K indices. Images are squashed to a square input
(`config["input_size"]`) exactly as the classifier inputs are (PIL bilinear), and the scores
are resized bilinearly to the requested geometry before the argmax.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from cityq.errors import CityqError
from cityq.segmenters.registry import ImageBatch, Segmenter, SegmenterRecord, register_segmenter

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
    )


class SmallUNet(nn.Module):
    """Three resolutions (1, 1/2, 1/4) and a dilated bottleneck for context: ~100k parameters."""

    def __init__(self, n_classes: int, width: int = 16):
        super().__init__()
        w = width
        self.enc1 = _double_conv(3, w)
        self.enc2 = _double_conv(w, 2 * w)
        self.bottleneck = nn.Sequential(
            _double_conv(2 * w, 4 * w),
            nn.Conv2d(4 * w, 4 * w, 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(4 * w), nn.ReLU(),
        )
        self.dec2 = _double_conv(4 * w + 2 * w, 2 * w)
        self.dec1 = _double_conv(2 * w + w, w)
        self.head = nn.Conv2d(w, n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottleneck(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([F.interpolate(b, size=e2.shape[2:], mode="bilinear", align_corners=False), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[2:], mode="bilinear", align_corners=False), e1], 1))
        return self.head(d1)


def normalize(images_uint8: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN, device=images_uint8.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images_uint8.device).view(1, 3, 1, 1)
    return (images_uint8.float() / 255.0 - mean) / std


class TrainedSegmenter(Segmenter):
    def __init__(self, net: SmallUNet, classes: list[int], input_size: int, device: torch.device, config: dict):
        self.net = net.to(device).eval()
        self.lookup = torch.tensor(classes, dtype=torch.uint8, device=device)
        self.input_size = input_size
        self.device = device
        self.config = config

    @torch.no_grad()
    def segment(self, batch: ImageBatch, height: int, width: int) -> torch.Tensor:
        s = self.input_size
        squashed = np.stack([np.asarray(Image.fromarray(im).resize((s, s), Image.BILINEAR)) for im in batch.images])
        x = normalize(torch.from_numpy(squashed).permute(0, 3, 1, 2).to(self.device))
        scores = F.interpolate(self.net(x), size=(height, width), mode="bilinear", align_corners=False)
        return self.lookup[scores.argmax(dim=1)]


def save_trained(path: Path, net: SmallUNet, config: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": net.state_dict(), "config": config}, tmp)
    tmp.replace(path)


@register_segmenter("trained")
def load_trained(record: SegmenterRecord, store_root: Path | None, device: torch.device) -> TrainedSegmenter:
    path = record.resolved_path(store_root)
    if path is None or not path.is_file():
        raise CityqError(
            f"the weights of segmenter {record.name!r} ({path}) are missing; retrain it with `cityq segmenter train`."
        )
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        config = saved["config"]
        net = SmallUNet(len(config["classes"]), config["width"])
        net.load_state_dict(saved["state_dict"])
    except (OSError, KeyError, RuntimeError) as e:
        raise CityqError(f"cannot load segmenter weights {path}: {str(e).splitlines()[0]}") from None
    return TrainedSegmenter(net, list(config["classes"]), int(config["input_size"]), device, config)
