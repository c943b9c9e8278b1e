"""VGG11 and ResNet18: the torchvision architectures, randomly initialised (`weights=None`).

torchvision builds VGG with `ReLU(inplace=True)`. Hooking a layer whose output a later ReLU
overwrites in place makes the captured activation (and so the CAM) depend on the device and
on autograd's bookkeeping, so every ReLU of VGG is switched to `inplace=False` at
construction. ReLU has no parameters: the state_dict, and so checkpoint compatibility with
plain torchvision VGG11, is unchanged. ResNet's in-place ReLUs sit inside each block, upstream
of the block output we hook, so ResNet18 is left as torchvision builds it.
"""

from torch import nn
from torchvision import models as tvm

from cityq.models.registry import register_arch


def _no_inplace_relu(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return model


# features.18 is the last conv (512 maps at 1/16 of the input); features.19 its ReLU.
@register_arch(
    "vgg11",
    target="features.19",
    description="torchvision VGG11 (no BN); CAM at the last conv's ReLU, 1/16 of the input",
)
def vgg11(num_classes: int) -> nn.Module:
    return _no_inplace_relu(tvm.vgg11(weights=None, num_classes=num_classes))


# layer4 ends with the last BasicBlock, whose output is the rectified last conv (1/32 of the input).
@register_arch(
    "resnet18", target="layer4", description="torchvision ResNet18; CAM at layer4's output, 1/32 of the input"
)
def resnet18(num_classes: int) -> nn.Module:
    return tvm.resnet18(weights=None, num_classes=num_classes)
