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
    with Store(path) as store:
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
