"""The decoders of mit-semseg (C1, PPM, their deep-supervision variants, UPerNet), re-implemented.

Only the inference path runs: each returns class logits at feature resolution. The
deep-supervision heads exist so their checkpoints load strictly; they are never evaluated.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

POOL_SCALES = (1, 2, 3, 6)


def conv3x3_bn_relu(in_planes: int, out_planes: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False),
        nn.BatchNorm2d(out_planes),
        nn.ReLU(),
    )


def _upsample(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class C1(nn.Module):
    def __init__(self, num_class: int, fc_dim: int, deepsup: bool = False):
        super().__init__()
        self.cbr = conv3x3_bn_relu(fc_dim, fc_dim // 4)
        self.conv_last = nn.Conv2d(fc_dim // 4, num_class, 1, 1, 0)
        if deepsup:
            self.cbr_deepsup = conv3x3_bn_relu(fc_dim // 2, fc_dim // 4)
            self.conv_last_deepsup = nn.Conv2d(fc_dim // 4, num_class, 1, 1, 0)

    def forward(self, conv_out: list[torch.Tensor]) -> torch.Tensor:
        return self.conv_last(self.cbr(conv_out[-1]))


class PPM(nn.Module):
    def __init__(self, num_class: int, fc_dim: int, deepsup: bool = False):
        super().__init__()
        self.ppm = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(scale),
                nn.Conv2d(fc_dim, 512, kernel_size=1, bias=False),
                nn.BatchNorm2d(512),
                nn.ReLU(),
            )
            for scale in POOL_SCALES
        )
        if deepsup:  # registered before conv_last upstream; the order does not matter to state_dict keys
            self.cbr_deepsup = conv3x3_bn_relu(fc_dim // 2, fc_dim // 4)
        self.conv_last = nn.Sequential(
            nn.Conv2d(fc_dim + len(POOL_SCALES) * 512, 512, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(512),
            nn.ReLU(),
            nn.Dropout2d(0.1),
            nn.Conv2d(512, num_class, kernel_size=1),
        )
        if deepsup:
            self.conv_last_deepsup = nn.Conv2d(fc_dim // 4, num_class, 1, 1, 0)

    def forward(self, conv_out: list[torch.Tensor]) -> torch.Tensor:
        conv5 = conv_out[-1]
        size = conv5.shape[2:]
        pooled = [_upsample(branch(conv5), size) for branch in self.ppm]
        return self.conv_last(torch.cat([conv5, *pooled], 1))


class UPerNet(nn.Module):
    def __init__(self, num_class: int, fc_dim: int, fpn_dim: int = 512, fpn_inplanes=(256, 512, 1024, 2048)):
        super().__init__()
        self.ppm_pooling = nn.ModuleList(nn.AdaptiveAvgPool2d(s) for s in POOL_SCALES)
        self.ppm_conv = nn.ModuleList(
            nn.Sequential(nn.Conv2d(fc_dim, 512, kernel_size=1, bias=False), nn.BatchNorm2d(512), nn.ReLU())
            for _ in POOL_SCALES
        )
        self.ppm_last_conv = conv3x3_bn_relu(fc_dim + len(POOL_SCALES) * 512, fpn_dim)
        self.fpn_in = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, fpn_dim, kernel_size=1, bias=False), nn.BatchNorm2d(fpn_dim), nn.ReLU())
            for c in fpn_inplanes[:-1]
        )
        self.fpn_out = nn.ModuleList(
            nn.Sequential(conv3x3_bn_relu(fpn_dim, fpn_dim)) for _ in fpn_inplanes[:-1]
        )
        self.conv_last = nn.Sequential(
            conv3x3_bn_relu(len(fpn_inplanes) * fpn_dim, fpn_dim),
            nn.Conv2d(fpn_dim, num_class, kernel_size=1),
        )

    def forward(self, conv_out: list[torch.Tensor]) -> torch.Tensor:
        conv5 = conv_out[-1]
        size = conv5.shape[2:]
        # Upstream pools, upsamples, THEN convolves (unlike PPM): kept, since it changes the numbers.
        ppm = [conv(_upsample(pool(conv5), size)) for pool, conv in zip(self.ppm_pooling, self.ppm_conv)]
        f = self.ppm_last_conv(torch.cat([conv5, *ppm], 1))
        features = [f]
        for i in reversed(range(len(conv_out) - 1)):
            lateral = self.fpn_in[i](conv_out[i])
            f = lateral + _upsample(f, lateral.shape[2:])
            features.append(self.fpn_out[i](f))
        features.reverse()
        out_size = features[0].shape[2:]
        fused = torch.cat([features[0]] + [_upsample(x, out_size) for x in features[1:]], 1)
        return self.conv_last(fused)


def build_decoder(name: str, num_class: int, fc_dim: int) -> nn.Module:
    builders = {
        "c1": lambda: C1(num_class, fc_dim),
        "c1_deepsup": lambda: C1(num_class, fc_dim, deepsup=True),
        "ppm": lambda: PPM(num_class, fc_dim),
        "ppm_deepsup": lambda: PPM(num_class, fc_dim, deepsup=True),
        "upernet": lambda: UPerNet(num_class, fc_dim, fpn_dim=512),
        "upernet_lite": lambda: UPerNet(num_class, fc_dim, fpn_dim=256),
    }
    return builders[name]()


DECODERS = ("c1", "c1_deepsup", "ppm", "ppm_deepsup", "upernet", "upernet_lite")
