"""Shared fixtures: an in-memory store, the CLI runner."""

from __future__ import annotations

import os

import pytest

# Deterministic and quiet: no progress bars in test output, one thread for reproducible timing.
os.environ.setdefault("CITYQ_PROGRESS", "0")


@pytest.fixture
def memory_store():
    from cityq.store import Store

    store = Store(":memory:")
    yield store
    store.close()


@pytest.fixture(scope="module")
def counts_store():
    """An in-memory store of synthetic count rows (no CNN): 40 images, vgg11 and simple x 2 seeds."""
    from cityq.store import Store
    from cityq.store.synthetic_counts import SyntheticCountsConfig, write_synthetic_counts

    store = Store(":memory:")
    write_synthetic_counts(store, SyntheticCountsConfig(n_images=40, archs=("vgg11", "simple"), seeds=(0, 1), size=64))
    yield store
    store.close()


@pytest.fixture
def cli():
    """Run the CLI in-process: cli(["sql", "select 1"]) -> result with exit_code, stdout, stderr."""
    from typer.testing import CliRunner

    from cityq.cli import app

    runner = CliRunner()

    def invoke(args, **kwargs):
        return runner.invoke(app, [str(a) for a in args], **kwargs)

    return invoke


# -- a tiny study, built once per test session ----------------------------------------------
TINY_SIZE = 64  # px: small enough for seconds, large enough for a 2x2..8x8 Grad-CAM
TINY_MODELS = (("resnet18", 0), ("resnet18", 1), ("simple", 0))


@pytest.fixture(scope="session")
def tiny_images(tmp_path_factory):
    """Synthetic cities (2 x 20 images, 64 px) with label maps, as class folders."""
    from cityq.synth.writer import generate_dataset

    root = tmp_path_factory.mktemp("tiny") / "images"
    generate_dataset(root, per_city=20, size=TINY_SIZE, seed=0, workers=1)
    return root


def _random_checkpoint(folder, arch: str, seed: int):
    import torch

    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model

    torch.manual_seed(seed)
    path = folder / f"{arch}-{seed}.pt"
    save_checkpoint(path, create_model(arch, 2), arch, 2, {"img_size": TINY_SIZE})
    return path


@pytest.fixture(scope="session")
def tiny_ingested(tmp_path_factory, tiny_images):
    """A store with the tiny dataset, three imported random-init models, all ingested with
    small blocks. Read-only for tests: copy it (`copy_store`) before changing anything."""
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.ingest import IngestOptions, ingest_model
    from cityq.pipeline.train import ImportOptions, import_model
    from cityq.store import Store

    base = tmp_path_factory.mktemp("tiny-store")
    path = base / "store"
    with Store.create(path) as store:
        add_dataset(store, tiny_images, "tiny", progress=False)
        for arch, seed in TINY_MODELS:
            import_model(store, ImportOptions(arch, _random_checkpoint(base, arch, seed), f"{arch}-s{seed}", "tiny",
                                              img_size=TINY_SIZE, device="cpu"))
            ingest_model(
                store, f"{arch}-s{seed}", IngestOptions(block_size=3, batch_size=4, device="cpu", progress=False)
            )
    return path


@pytest.fixture
def copy_store(tmp_path):
    """copy_store(path) -> a private copy of a store directory."""
    import shutil

    def copy(path):
        target = tmp_path / "store-copy"
        shutil.copytree(path, target)
        return target

    return copy


# -- `cityq serve` over a copy of the tiny study, started once per session --------------------
class Served:
    """A running `cityq serve`: its base URL, the store it reads, and its log file."""

    def __init__(self, url: str, store, log):
        self.url, self.store, self.log = url, store, log

    def get(self, path: str, timeout: float = 60):
        """(status, headers, body bytes) of GET url+path; error statuses are answers too."""
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def text(self, path: str) -> tuple[int, str]:
        status, _, body = self.get(path)
        return status, body.decode()


def start_server(store, log_path, extra_env=None):
    """`cityq serve --port 0` in a subprocess; returns (process, base URL) once it answers."""
    import re
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", **(extra_env or {})}
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-c", "from cityq.cli import main; main()", "serve", "--store", str(store), "--port", "0"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 180
    url = None
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"at (http://127\.0\.0\.1:\d+)/", Path(log_path).read_text())
        if found:
            url = found.group(1)
            try:
                urllib.request.urlopen(url + "/static/cityq.css", timeout=5).read()
                return process, url
            except OSError:
                pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"cityq serve did not start: {Path(log_path).read_text()[-2000:]}")


@pytest.fixture(scope="session")
def served(tmp_path_factory, tiny_ingested):
    """`cityq serve` on a private copy of the tiny ingested store (one per test session)."""
    import shutil
    import subprocess

    base = tmp_path_factory.mktemp("served")
    store = base / "store"
    shutil.copytree(tiny_ingested, store)
    process, url = start_server(store, base / "server.log")
    yield Served(url, store, base / "server.log")
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def add_segmenter_copy(store, segmenter: str = "small-seg", dropped=(43, 32, 48, 13)) -> None:
    """Give every ingest of `store` a twin counted with another segmenter: the same masks, the
    same counts but for the objects in `dropped` (the planted ones), which this segmenter never
    finds. A store with two segmenters, as the demo makes, without training one."""
    con = store.con
    con.execute("INSERT INTO segmenters VALUES ($s, 'trained', NULL, '{}', NULL, current_timestamp)", {"s": segmenter})
    (seg_id,) = con.execute(
        "INSERT INTO segmentations (segmenter, dataset, height, width, zarr_path, created_at) "
        "SELECT $s, dataset, height, width, 'copy', current_timestamp FROM segmentations ORDER BY segmentation_id "
        "LIMIT 1 RETURNING segmentation_id", {"s": segmenter}).fetchone()
    for (ingest_id,) in con.execute("SELECT ingest_id FROM ingests ORDER BY 1").fetchall():
        (twin,) = con.execute(
            "INSERT INTO ingests (model, split, target, segmentation_id, thresholds, height, width, cam_height, "
            "cam_width, block_size, n_images, zarr_path, status, config, created_at, finished_at) "
            "SELECT model, split, target, $seg, thresholds, height, width, cam_height, cam_width, block_size, "
            "n_images, zarr_path || '-copy', status, config, created_at, finished_at FROM ingests "
            "WHERE ingest_id = $i RETURNING ingest_id", {"seg": seg_id, "i": ingest_id}).fetchone()
        con.execute("INSERT INTO mask_images SELECT $t, image_id, zarr_index, target_index, pred_index, area_pixels, "
                    "mask_sum FROM mask_images WHERE ingest_id = $i", {"t": twin, "i": ingest_id})
        con.execute("INSERT INTO object_counts SELECT $t, image_id, object_id, n_pixels, soft_sum, m_pixels "
                    "FROM object_counts WHERE ingest_id = $i AND NOT list_contains($d, object_id)",
                    {"t": twin, "i": ingest_id, "d": list(dropped)})


@pytest.fixture(scope="module")
def two_segmenter_store():
    """The counts store's rows counted with two segmenters: labels and small-seg."""
    from cityq.store import Store
    from cityq.store.synthetic_counts import SyntheticCountsConfig, write_synthetic_counts

    store = Store(":memory:")
    write_synthetic_counts(store, SyntheticCountsConfig(n_images=40, archs=("vgg11", "simple"), seeds=(0, 1), size=64))
    add_segmenter_copy(store)
    yield store
    store.close()
