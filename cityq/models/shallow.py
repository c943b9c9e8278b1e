"""Simple and Simpler: the two shallow networks of the paper's Table 1.

Table 1 gives kernel sizes, channels and 2x2 max pools but neither padding nor the size of
the first fully connected layer's input. Our choices:

- Padding is "same" (k // 2, odd kernels): only the pools change the spatial size, so the CAM
  grid covers the image symmetrically and a 64 px input gives an 8x8 (Simple) or 16x16
  (Simpler) CAM.
- Before the classifier an adaptive average pool brings the last feature maps to a fixed
  4x4 grid, so fc-4096 always sees C*16 inputs (Simple 2048, Simpler 1536) whatever the
  image size. At 64 px this pool is the identity for Simple; a model trained at one size can
  be run (and imported) at another, and the fc layer does not grow to 100M weights at 224 px.

Each conv is followed by a non-in-place ReLU; the Grad-CAM target is the last conv's ReLU
(before its pool), named once in the registration below.
"""

from torch import nn

from cityq.models.registry import register_arch

FC_GRID = 4  # side of the adaptive-pool grid in front of fc-4096


def _conv_stack(spec: list[tuple[int, int]], pool_after_last: bool) -> nn.Sequential:
    """spec: (kernel, out_channels) per conv; a 2x2 max pool follows every conv but maybe the last."""
    layers: list[nn.Module] = []
    in_ch = 3
    for i, (kernel, out_ch) in enumerate(spec):
        layers += [nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2), nn.ReLU(inplace=False)]
        if i < len(spec) - 1 or pool_after_last:
            layers.append(nn.MaxPool2d(2))
        in_ch = out_ch
    return nn.Sequential(*layers)


class ShallowNet(nn.Module):
    def __init__(self, convs: list[tuple[int, int]], num_classes: int):
        super().__init__()
        self.features = _conv_stack(convs, pool_after_last=True)
        self.pool = nn.AdaptiveAvgPool2d(FC_GRID)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(convs[-1][1] * FC_GRID * FC_GRID, 4096),
            nn.ReLU(inplace=False),
            nn.Linear(4096, 100),
            nn.ReLU(inplace=False),
            nn.Linear(100, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)))


# features: conv0 relu1 pool2 conv3 relu4 pool5 conv6 relu7 pool8 conv9 relu10 pool11
@register_arch(
    "simple",
    target="features.10",
    description="paper Table 1 Simple: 4 convs; CAM at the last conv's ReLU, 1/8 of the input",
)
def simple(num_classes: int) -> nn.Module:
    return ShallowNet([(5, 20), (7, 64), (5, 96), (7, 128)], num_classes)


# features: conv0 relu1 pool2 conv3 relu4 pool5 conv6 relu7 pool8
@register_arch(
    "simpler",
    target="features.7",
    description="paper Table 1 Simpler: 3 convs; CAM at the last conv's ReLU, 1/4 of the input",
)
def simpler(num_classes: int) -> nn.Module:
    return ShallowNet([(9, 20), (9, 64), (9, 96)], num_classes)
