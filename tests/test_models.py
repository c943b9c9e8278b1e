"""Architecture registry and checkpoints."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision import models as tvm

from cityq.errors import CityqError
from cityq.models import create_model, list_archs, target_layer
from cityq.models.checkpoint import load_model, read_checkpoint, save_checkpoint


def test_registry_lists_the_four_paper_archs():
    assert list_archs() == ["resnet18", "simple", "simpler", "vgg11"]
    assert list_archs("s*") == ["simple", "simpler"]


def test_unknown_arch_lists_known_ones():
    with pytest.raises(CityqError, match="known: .*vgg11"):
        create_model("vgg12", 2)


# The target is the last conv's rectified output: its stride and channel count per arch.
@pytest.mark.parametrize(
    "arch,channels,stride", [("vgg11", 512, 16), ("resnet18", 512, 32), ("simple", 128, 8), ("simpler", 96, 4)]
)
def test_target_layer_output_and_logits(arch, channels, stride):
    model = create_model(arch, 3).eval()
    seen = {}
    handle = target_layer(model, arch).register_forward_hook(lambda m, i, o: seen.__setitem__("shape", tuple(o.shape)))
    for size in (64, 96):
        with torch.no_grad():
            logits = model(torch.zeros(2, 3, size, size))
        assert logits.shape == (2, 3)
        assert seen["shape"] == (2, channels, size // stride, size // stride)
    handle.remove()


def test_no_inplace_op_anywhere_in_vgg_and_shallow_nets():
    for arch in ("vgg11", "simple", "simpler"):
        inplace = [n for n, m in create_model(arch, 2).named_modules() if getattr(m, "inplace", False)]
        assert inplace == [], arch


def test_vgg11_state_dict_is_torchvisions():
    ours = create_model("vgg11", 2).state_dict()
    theirs = tvm.vgg11(weights=None, num_classes=2).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}


def test_shallow_fc_input_is_fixed_whatever_the_size():
    model = create_model("simple", 2)
    assert model.classifier[1].in_features == 128 * 16
    for size in (48, 64, 160):
        assert model(torch.zeros(1, 3, size, size)).shape == (1, 2)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = create_model("simpler", 2)
    save_checkpoint(tmp_path / "m.pt", model, "simpler", 2, {"img_size": 64, "seed": 0})
    loaded, meta = load_model(tmp_path / "m.pt")
    assert meta["arch"] == "simpler" and meta["config"]["img_size"] == 64
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])
    assert not list(tmp_path.glob(".*tmp"))


def test_plain_state_dict_and_dataparallel_prefix(tmp_path):
    model = tvm.resnet18(weights=None, num_classes=2)
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, tmp_path / "r.pth")
    loaded, meta = load_model(tmp_path / "r.pth", "resnet18", 2)
    assert meta == {}
    assert torch.equal(loaded.fc.weight, model.fc.weight)


def test_mismatched_checkpoint_names_missing_and_unexpected_keys(tmp_path):
    torch.save(create_model("simple", 2).state_dict(), tmp_path / "s.pth")
    with pytest.raises(
        CityqError,
        match=r"missing keys .*features\.0\.weight.*unexpected keys .*features\.3\.weight"
        r"|missing keys.*unexpected keys",
    ):
        load_model(tmp_path / "s.pth", "resnet18", 2)
    with pytest.raises(CityqError, match="shape mismatches.*classifier.5.weight"):
        load_model(tmp_path / "s.pth", "simple", 3)


class Evil(nn.Module):
    pass


def test_pickled_code_is_refused(tmp_path):
    torch.save({"net": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CityqError, match="pickled code"):
        read_checkpoint(tmp_path / "evil.pt")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CityqError, match="not found"):
        read_checkpoint(tmp_path / "nope.pt")
