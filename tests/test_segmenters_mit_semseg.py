"""cityq's mit-semseg re-implementation against the `mit-semseg` package itself.

Random-initialised models are built with mit-semseg's own classes, saved in the real folder
format, loaded through cityq with strict key checking, and both predict the same images.
mit-semseg imports fine on torch 2.14 (it needs `yacs`); its `build_encoder` would download
ImageNet weights when given no weights file, so the test builds its encoder from the same
classes with `pretrained=False` instead. Nothing of it is vendored.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cityq.errors import CityqError
from cityq.segmenters import ImageBatch, SegmenterRecord, load_segmenter

mit = pytest.importorskip("mit_semseg.models", reason="test-only: pip install --no-deps mit-semseg yacs")
from mit_semseg.models import models as mit_models  # noqa: E402
from mit_semseg.models import resnet as mit_resnet  # noqa: E402

ARCHS = {
    "resnet50dilated-ppm_deepsup": 8,
    "resnet50-upernet": 32,
}


def _randomise_batchnorm(module: torch.nn.Module, gen: torch.Generator) -> None:
    # Non-trivial running statistics, so a BN mapped to the wrong place changes the output.
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def build_reference(arch: str, num_class: int = 150):
    encoder_name, decoder_name = arch.split("-")
    torch.manual_seed(0)
    orig = mit_resnet.resnet50(pretrained=False)
    encoder = (
        mit_models.ResnetDilated(orig, dilate_scale=8) if encoder_name.endswith("dilated") else mit_models.Resnet(orig)
    )
    decoder = mit_models.ModelBuilder.build_decoder(
        arch=decoder_name, fc_dim=2048, num_class=num_class, use_softmax=True
    )
    gen = torch.Generator().manual_seed(1)
    _randomise_batchnorm(encoder, gen)
    _randomise_batchnorm(decoder, gen)
    module = mit_models.SegmentationModule(encoder, decoder, crit=torch.nn.NLLLoss())
    return module.eval(), encoder, decoder


def save_folder(tmp_path, arch, encoder, decoder, epoch=20):
    folder = tmp_path / f"ade20k-{arch}"
    folder.mkdir()
    torch.save(encoder.state_dict(), folder / f"encoder_epoch_{epoch}.pth")
    torch.save(decoder.state_dict(), folder / f"decoder_epoch_{epoch}.pth")
    return folder


def reference_predict(module, image: np.ndarray, padding: int, seg_size, tmp_path) -> torch.Tensor:
    """mit-semseg's TestDataset preprocessing + test.py inference, one scale at the image's short side."""
    from types import SimpleNamespace

    from mit_semseg.dataset import TestDataset

    opt = SimpleNamespace(imgSizes=(min(image.shape[:2]),), imgMaxSize=1000, padding_constant=padding)
    from PIL import Image

    path = str(tmp_path / "image.png")

    Image.fromarray(image).save(path)
    sample = TestDataset([{"fpath_img": path}], opt)[0]
    scores = torch.zeros(1, 150, *seg_size)
    with torch.no_grad():
        for img in sample["img_data"]:
            scores = scores + module({"img_data": img}, segSize=seg_size) / len(opt.imgSizes)
    return scores.argmax(dim=1)[0]


def _images(n=3, h=72, w=96):
    rng = np.random.default_rng(0)
    # Smooth blobs rather than noise: closer to photographs, and argmax ties are rarer.
    base = rng.integers(0, 256, size=(n, 3, h // 8, w // 8)).astype(np.float32)
    up = F.interpolate(torch.from_numpy(base), size=(h, w), mode="bilinear", align_corners=False)
    return [up[i].permute(1, 2, 0).round().clamp(0, 255).byte().numpy() for i in range(n)]


@pytest.mark.parametrize("arch", list(ARCHS))
def test_matches_mit_semseg_package(tmp_path, arch):
    module, encoder, decoder = build_reference(arch)
    folder = save_folder(tmp_path, arch, encoder, decoder)
    seg = load_segmenter(SegmenterRecord("mit", "mit-semseg", str(folder), {}), device="cpu")
    assert seg.config["arch"] == arch and seg.config["epoch"] == 20
    images = _images(n=2)
    for seg_size in [(72, 96), (64, 64)]:  # the image's own size, and a classifier geometry
        ours = seg.segment(ImageBatch(images), *seg_size)
        assert ours.dtype == torch.uint8 and ours.shape == (2, *seg_size)
        theirs = torch.stack([reference_predict(module, im, ARCHS[arch], seg_size, tmp_path) for im in images])
        agreement = (ours.long() == theirs).float().mean().item()
        print(f"{arch} {seg_size}: pixel agreement {agreement:.6f}")
        assert agreement >= 0.999
        assert len(theirs.unique()) > 1  # a constant map would agree trivially


def test_folder_without_decoder_is_refused(tmp_path):
    _, encoder, decoder = build_reference("resnet50dilated-ppm_deepsup")
    folder = save_folder(tmp_path, "resnet50dilated-ppm_deepsup", encoder, decoder)
    (folder / "decoder_epoch_20.pth").unlink()
    with pytest.raises(CityqError, match="no decoder_epoch_20.pth") as e:
        load_segmenter(SegmenterRecord("mit", "mit-semseg", str(folder), {}), device="cpu")
    assert "\n" not in str(e.value)


def test_weights_of_another_arch_are_refused(tmp_path):
    _, encoder, decoder = build_reference("resnet50-upernet")
    folder = save_folder(tmp_path, "resnet50-upernet", encoder, decoder)
    record = SegmenterRecord("mit", "mit-semseg", str(folder), {"arch": "resnet50dilated-ppm_deepsup"})
    with pytest.raises(CityqError, match="does not hold resnet50dilated-ppm_deepsup weights") as e:
        load_segmenter(record, device="cpu")
    assert "\n" not in str(e.value)


def test_other_class_count_is_refused(tmp_path):
    _, encoder, decoder = build_reference("resnet50dilated-ppm_deepsup", num_class=19)
    folder = save_folder(tmp_path, "resnet50dilated-ppm_deepsup", encoder, decoder)
    with pytest.raises(CityqError, match="19 classes"):
        load_segmenter(SegmenterRecord("mit", "mit-semseg", str(folder), {}), device="cpu")


def test_missing_num_batches_tracked_is_tolerated_and_highest_epoch_wins(tmp_path):
    _, encoder, decoder = build_reference("resnet50dilated-ppm_deepsup")
    folder = save_folder(tmp_path, "resnet50dilated-ppm_deepsup", encoder, decoder, epoch=5)
    # An older checkpoint: no BN counters (saved before torch 0.4.1).
    enc = {k: v for k, v in encoder.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(enc, folder / "encoder_epoch_25.pth")
    torch.save(decoder.state_dict(), folder / "decoder_epoch_25.pth")
    seg = load_segmenter(SegmenterRecord("mit", "mit-semseg", str(folder), {}), device="cpu")
    assert seg.config["epoch"] == 25
    seg = load_segmenter(SegmenterRecord("mit", "mit-semseg", str(folder), {"epoch": 5}), device="cpu")
    assert seg.config["epoch"] == 5


def test_input_size_follows_their_arithmetic():
    from cityq.segmenters.mit_semseg import input_size

    assert input_size(72, 96, None, 1000, 8) == (72, 96)
    assert input_size(70, 97, None, 1000, 32) == (96, 128)
    assert input_size(480, 640, 300, 1000, 8) == (304, 400)
    assert input_size(100, 3000, None, 1000, 8) == (40, 1000)


def test_cli_add_and_segment_agree_with_mit_semseg(tmp_path):
    """The issue's must-show: `cityq segmenter add` + `cityq segment` vs mit-semseg's own prediction."""
    from PIL import Image
    from typer.testing import CliRunner

    from cityq.cli import app
    from cityq.store import Store
    from cityq.store.segmentations import load_segmentation

    arch = "resnet50dilated-ppm_deepsup"
    module, encoder, decoder = build_reference(arch)
    folder = save_folder(tmp_path, arch, encoder, decoder)
    root, store_dir = tmp_path / "data", tmp_path / "store"
    (root / "a").mkdir(parents=True)
    images = _images(n=2, h=64, w=64)
    with Store.create(store_dir) as store:
        store.con.execute(
            "INSERT INTO datasets VALUES ('d', $root, ['a'], 0, NULL, NULL, current_timestamp)", {"root": str(root)}
        )
        for i, im in enumerate(images):
            Image.fromarray(im).save(root / "a" / f"{i}.png")
            store.con.execute(
                "INSERT INTO images (dataset, city, path, width, height, sha256, place_id, split, added_at) "
                "VALUES ('d', 'a', ?, 64, 64, 'h', ?, 'test', current_timestamp)",
                [f"a/{i}.png", str(i)],
            )
    runner = CliRunner()
    out = runner.invoke(
        app, ["segmenter", "add", "r50", "--kind", "mit-semseg", "--path", str(folder), "--store", str(store_dir)]
    )
    assert out.exit_code == 0, out.output
    out = runner.invoke(
        app, ["segment", "--dataset", "d", "--segmenter", "r50", "--size", "64", "--store", str(store_dir)]
    )
    assert out.exit_code == 0, out.output
    with Store.create(store_dir) as store:
        seg_id = int(store.fetch_df("SELECT segmentation_id FROM segmentations WHERE segmenter = 'r50'").iloc[0, 0])
        ids = store.fetch_df("SELECT image_id FROM images ORDER BY image_id").image_id.tolist()
        ours = torch.from_numpy(load_segmentation(store, seg_id, ids)).long()
    theirs = torch.stack([reference_predict(module, im, 8, (64, 64), tmp_path) for im in images])
    agreement = (ours == theirs).float().mean().item()
    print(f"cli {arch}: pixel agreement {agreement:.6f}")
    assert agreement >= 0.95

    (folder / "decoder_epoch_20.pth").unlink()
    out = runner.invoke(
        app, ["segmenter", "add", "r50b", "--kind", "mit-semseg", "--path", str(folder), "--store", str(store_dir)]
    )
    assert out.exit_code != 0
    assert "no decoder_epoch_20.pth" in out.output and len(out.output.strip().splitlines()) == 1, out.output
