"""cityq/decoding.py: the torch (device) decoding path against the PIL reference, and an
ingest through both paths giving the same R_pc table within a stated tolerance."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from cityq.decoding import _decode_on_device, _decode_one, _read_bytes, decode_batch, resolve_decoder, squash
from cityq.errors import CityqError

# torchvision 0.29 deprecates its codecs (cityq/decoding.py says why they are still used)
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")

# Stated in docs/real-data.md: the torch path on the CPU (libjpeg-turbo + torchvision's uint8
# antialiased resize) differs from PIL by at most 1 grey level, in well under 1% of values.
MAX_LEVELS, MEAN_LEVELS = 1, 0.01
# |R_pc(torch) - R_pc(pil)| per (model, city, object, threshold): inputs one level apart move a
# few mask values across a threshold, so the bound has a part for the share of pixels near a
# threshold and one for the granularity of an object's sum N (measured on this test's
# store: mean 0.00065, max 0.024 for an object of 41 pixels, max(gap - 2/N) = 0.008).
RPC_SLACK, RPC_PIXELS, RPC_MEAN = 0.015, 2, 0.002


def photo(rng: np.random.Generator, width=640, height=480) -> np.ndarray:
    """Street-photo-like content: gradients, flat boxes with hard edges, sensor noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([(x * 0.3 + rng.uniform(0, 255)) % 256, (y * 0.5) % 256, ((x + y) * 0.2) % 256], -1)
    for _ in range(25):
        x0, y0 = rng.integers(0, width - 8), rng.integers(0, height - 8)
        img[y0:y0 + rng.integers(4, height // 4), x0:x0 + rng.integers(4, width // 4)] = rng.integers(0, 256, 3)
    return np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jpegs")
    rng = np.random.default_rng(0)
    paths = []
    for k in range(10):
        path = folder / f"{k:02d}.jpg"
        Image.fromarray(photo(rng)).save(path, quality=int(rng.integers(70, 96)))
        paths.append(path)
    Image.fromarray(photo(rng, 500, 375)).save(folder / "progressive.jpg", quality=85, progressive=True)
    Image.fromarray(photo(rng)[..., 0]).save(folder / "grey.jpg", quality=90)
    Image.fromarray(photo(rng, 320, 240)).save(folder / "lossless.png")
    return paths + [folder / "progressive.jpg", folder / "grey.jpg", folder / "lossless.png"]


@pytest.mark.parametrize("size", [64, 112, 224])
def test_torch_path_on_the_cpu_matches_pil(files, size):
    pil = decode_batch(files, size, backend="pil").int()
    tv = decode_batch(files, size, backend="torch").int()
    assert pil.shape == tv.shape == (len(files), 3, size, size) and tv.dtype == torch.int32
    diff = (pil - tv).abs()
    assert diff.max() <= MAX_LEVELS and diff.float().mean() <= MEAN_LEVELS, (diff.max(), diff.float().mean())
    assert torch.equal(pil[-1], tv[-1])  # a PNG goes through PIL on both paths


def test_the_bound_would_catch_another_resize(files):
    """Squashing without antialiasing (or cropping) is what the bound must rule out."""
    from torchvision.io import ImageReadMode, decode_jpeg
    from torchvision.transforms.v2.functional import resize

    pil = decode_batch(files[:3], 112, backend="pil").int()
    raw = [decode_jpeg(torch.frombuffer(bytearray(p.read_bytes()), dtype=torch.uint8), mode=ImageReadMode.RGB)
           for p in files[:3]]
    aliased = torch.stack([resize(r, [112, 112], antialias=False) for r in raw]).int()
    assert (pil - aliased).abs().float().mean() > 20 * MEAN_LEVELS


def test_the_device_batch_decode_and_its_fallbacks(files, tmp_path):
    """What nvJPEG runs (one batched decode_jpeg; on failure one by one; PIL for non-JPEGs and
    refused files), exercised with the CPU as the device."""
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(files[0].read_bytes()[:2000])
    datas = [_read_bytes(p) for p in files[:3] + [broken] + files[-3:]]
    batched, one_by_one = _decode_on_device(datas, torch.device("cpu")), [_decode_one(d) for d in datas]
    assert [x is None for x in batched] == [x is None for x in one_by_one] == [False] * 3 + [True, False, False, True]
    assert all(torch.equal(a, b) for a, b in zip(batched, one_by_one) if a is not None)
    for backend in ("pil", "torch"):
        with pytest.raises(CityqError, match="broken.jpg"):
            decode_batch(files[:2] + [broken], 96, backend=backend)


def test_resolve_decoder():
    assert resolve_decoder("auto", "cpu").backend == "pil"
    assert resolve_decoder("auto", "cuda").backend == "torch"  # no GPU needed to resolve
    assert resolve_decoder("torch", "cpu").device.type == "cpu"
    with pytest.raises(CityqError, match="unknown decoder"):
        resolve_decoder("nvjpeg")
    assert squash(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), 8).shape == (2, 3, 8, 8)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_nvjpeg_path_matches_pil(files):
    """nvJPEG's IDCT and chroma upsampling are not libjpeg-turbo's, and the resize runs in
    float32: a looser bound than the CPU's, to be confirmed on a GPU (docs/real-data.md)."""
    pil = decode_batch(files, 112, backend="pil").int()
    gpu = decode_batch(files, 112, "cuda", backend="torch")
    assert gpu.device.type == "cuda"
    diff = (pil - gpu.cpu().int()).abs()
    assert diff.float().mean() <= 1.0 and diff.max() <= 32, (diff.max(), diff.float().mean())


# -- the R_pc table through both paths ----------------------------------------------------------

@pytest.fixture(scope="module")
def jpeg_study(tmp_path_factory):
    """Synthetic cities saved as 4:3 JPEGs (label maps resized alike), a Simple model trained
    on them: the ingest squashes 160x120 to 64x64, as real 640x480 photos are squashed."""
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.train import train_model
    from cityq.pipeline.train_config import TrainConfig
    from cityq.store import Store
    from cityq.synth import generate_dataset

    base = tmp_path_factory.mktemp("jpeg-study")
    generate_dataset(base / "png", per_city=30, size=96, seed=3, progress=False)
    root = base / "jpg"
    for png in sorted((base / "png").rglob("*.png")):
        if png.name.endswith(".labels.png"):
            continue
        out = root / png.parent.name
        out.mkdir(parents=True, exist_ok=True)
        rgb = Image.open(png).convert("RGB").resize((160, 120), Image.Resampling.BICUBIC)
        rgb.save(out / f"{png.stem}.jpg", quality=88)
        labels = png.with_name(png.stem + ".labels.png")
        Image.open(labels).resize((160, 120), Image.Resampling.NEAREST).save(out / labels.name)
    store = Store.create(base / "store")
    add_dataset(store, root, "jp", progress=False)
    train_model(store, TrainConfig(dataset="jp", arch="simple", seed=0, epochs=2, img_size=64, device="cpu",
                                   decode="pil"), progress=False)
    yield store
    store.close()


def _rpc(store):
    """Every object and every threshold of the grid (no object filter)."""
    return store.sql("SELECT model, city, object, threshold, rpc, lift, mean_pixels * n_images AS n_sum "
                     "FROM rpc_sweep(min_mean_pixels := 0) "
                     "ORDER BY ALL").set_index(["model", "city", "object", "threshold"])


def _cached_pixels(store, dataset: str, size: int) -> np.ndarray:
    """Every image of the store's cache, by image id."""
    from cityq.store.image_cache import ImageCache

    cache = ImageCache(store.cache_dir, dataset, size)
    ids, _ = cache.index()
    return cache.read(np.argsort(ids, kind="stable"))


def test_rpc_table_is_the_same_through_both_paths(jpeg_study):
    from cityq.pipeline.ingest import IngestOptions, ingest_model

    store = jpeg_study
    options = {"device": "cpu", "progress": False, "block_size": 16, "batch_size": 16}
    shutil.rmtree(store.cache_dir)
    ingest_model(store, "simple-s0", IngestOptions(decode="pil", **options))
    pil = _rpc(store)
    pil_pixels = _cached_pixels(store, "jp", 64)
    shutil.rmtree(store.cache_dir)
    ingest_model(store, "simple-s0", IngestOptions(decode="torch", force=True, **options))
    tv = _rpc(store)
    tv_pixels = _cached_pixels(store, "jp", 64)
    diff = np.abs(pil_pixels.astype(int) - tv_pixels.astype(int))
    assert 0 < diff.max() <= MAX_LEVELS  # the two paths did run, and differ as bounded above
    assert pil.index.equals(tv.index) and len(pil) > 100
    gap = (pil["rpc"] - tv["rpc"]).abs()
    assert gap.mean() <= RPC_MEAN, gap.mean()
    over = gap - (RPC_SLACK + RPC_PIXELS / pil["n_sum"])
    assert over.max() <= 0, over.sort_values().tail()
