"""The SIGKILL harness: the CLI runs as a subprocess and is killed at varied moments of
`dataset add`, `train`, `segment` and `ingest`; the same command is then rerun to the end.
Afterwards the store must answer exactly as an uninterrupted run's store does, hold no
duplicate rows, no Zarr arrays or chunks that no row names, and pass `cityq check`.

Kill points are moments, not hooks in production code:
  - ("start", f):   f x the command's measured wall time after the process starts
                    (early ones land while Python imports or reads files: also a valid moment);
  - ("write", f):   f x the measured working time after the store is first written
                    (the DuckDB WAL file appears when a stage records its run);
  - ("chunks", k):  as soon as k new Zarr chunk files of the stage's array exist, i.e. in the
                    middle of writing blocks (between a chunk and its DuckDB transaction, or
                    right after it).
The default suite kills one ingest; the 20+ kill points are behind @pytest.mark.slow.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CLI = [sys.executable, "-c", "from cityq.cli import main; main()"]
SIZE = 64
MODEL = "simple-k"


def _env() -> dict:
    env = dict(os.environ, CITYQ_PROGRESS="0", CITYQ_WAIT="120")
    env.pop("CITYQ_STORE", None)
    return env


def _chunk_files(store: Path, prefix: str) -> int:
    folder = store / "arrays.zarr" / prefix
    return sum(1 for p in folder.rglob("*") if p.is_file() and "/c/" in p.as_posix()) if folder.is_dir() else 0


def run_cli(args: list[str], store: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [*map(str, args), "--store", str(store)], env=_env(), capture_output=True,
                          text=True, timeout=timeout)


def measure(args: list[str], store: Path) -> dict:
    """Run to the end, timing it: total seconds and seconds from the first store write."""
    started = time.monotonic()
    process = subprocess.Popen(CLI + [*map(str, args), "--store", str(store)], env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first_write = None
    while process.poll() is None:
        if first_write is None and (store / "cityq.duckdb.wal").exists():
            first_write = time.monotonic()
        time.sleep(0.01)
    ended = time.monotonic()
    assert process.returncode == 0, process.stderr.read()
    first_write = first_write or started
    return {"total": ended - started, "work": ended - first_write}


def run_killed(args: list[str], store: Path, point: tuple, timing: dict | None = None, chunk_prefix: str = "") -> bool:
    """Start the command, SIGKILL it at `point`; True when it was killed (False: it finished first)."""
    kind, value = point
    before = _chunk_files(store, chunk_prefix) if kind == "chunks" else 0
    started = time.monotonic()
    process = subprocess.Popen(CLI + [*map(str, args), "--store", str(store)], env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wal = store / "cityq.duckdb.wal"
    deadline = None
    if kind == "start":
        deadline = started + value * timing["total"]
    while process.poll() is None:
        now = time.monotonic()
        if kind == "write" and deadline is None and wal.exists():
            deadline = now + value * timing["work"]
        if kind == "chunks" and _chunk_files(store, chunk_prefix) - before >= value:
            deadline = now
        if deadline is not None and now >= deadline:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    stderr = process.stderr.read()
    assert process.returncode == 0, f"{args} failed before its kill point: {stderr}"
    return False


# -- what a store answers ------------------------------------------------------------------

def _answers(store_path: Path, stage: str) -> dict[str, pd.DataFrame]:
    """The query results a stage determines, keyed by stable names (paths, not generated ids)."""
    from cityq.store import Store

    with Store(store_path, read_only=True) as store:
        out = {"images": store.sql(
            "SELECT city, path, split, sha256, width, height, place_id, labels_path FROM images ORDER BY path"),
            "bad_files": store.sql("SELECT path, reason FROM bad_files ORDER BY path")}
        if stage in ("train", "segment", "ingest"):
            out["models"] = store.sql("SELECT model, arch, test_accuracy FROM models ORDER BY model")
            out["predictions"] = store.sql(
                "SELECT p.model, i.path, p.true_index, p.pred_index, p.probs FROM predictions p "
                "JOIN images i USING (image_id) ORDER BY p.model, i.path")
            out["epochs"] = store.sql("SELECT model, epoch, val_acc FROM epochs ORDER BY model, epoch")
        if stage in ("segment", "ingest"):
            out["pixel_counts"] = store.sql(
                "SELECT s.segmenter, s.height, i.path, c.object_id, c.n_pixels FROM pixel_counts c "
                "JOIN images i USING (image_id) JOIN segmentations s USING (segmentation_id) ORDER BY ALL")
        if stage == "ingest":
            out["rpc by city"] = store.query("rpc by city", threshold=0.5).sort_values(
                ["model", "city", "object"]).reset_index(drop=True)
            out["object_counts"] = store.sql(
                "SELECT g.model, i.path, o.object_id, o.n_pixels, o.soft_sum, o.m_pixels FROM object_counts o "
                "JOIN ingests g USING (ingest_id) JOIN images i ON i.image_id = o.image_id ORDER BY ALL")
            out["mask_images"] = store.sql(
                "SELECT g.model, i.path, m.zarr_index, m.pred_index, m.area_pixels, m.mask_sum FROM mask_images m "
                "JOIN ingests g USING (ingest_id) JOIN images i ON i.image_id = m.image_id ORDER BY ALL")
            out["ingests"] = store.sql("SELECT model, split, target, status, n_images FROM ingests ORDER BY ALL")
    return out


def assert_same_answers(store_path: Path, reference: Path, stage: str) -> None:
    got, want = _answers(store_path, stage), _answers(reference, stage)
    for name in want:
        a, b = got[name], want[name]
        assert a.shape == b.shape, f"{name}: {a.shape} rows/cols after the kill vs {b.shape} uninterrupted"
        for column in b.columns:
            x, y = a[column].tolist(), b[column].tolist()
            if b[column].dtype.kind == "f" or column in ("probs", "soft_sum", "mask_sum"):
                np.testing.assert_allclose(np.array(x, dtype=float), np.array(y, dtype=float), rtol=1e-5,
                                           atol=1e-6, err_msg=f"{name}.{column}")
            else:
                assert [_plain(v) for v in x] == [_plain(v) for v in y], f"{name}.{column} differs"


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def assert_store_clean(store_path: Path) -> None:
    """`cityq check` passes (killed runs that were redone are notes) and finds no leftovers."""
    from cityq.store import Store
    from cityq.store.check import check_store, failed

    with Store(store_path, read_only=True) as store:
        findings = check_store(store, sample=50)
    assert not failed(findings), "\n".join(f.line() for f in findings)
    from typer.testing import CliRunner

    from cityq.cli import app

    result = CliRunner().invoke(app, ["check", "--sample", "3", "--store", str(store_path)])
    assert result.exit_code == 0, result.output


# -- stores to start from, built in-process once -------------------------------------------

@pytest.fixture(scope="module")
def bases(tmp_path_factory, tiny_images):
    """Stores at the start of each stage: empty, with the dataset, with the dataset and a model."""
    import torch

    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.train import ImportOptions, import_model
    from cityq.store import Store

    root = tmp_path_factory.mktemp("kill-bases")
    with Store.create(root / "dataset") as store:
        add_dataset(store, tiny_images, "tiny", progress=False)
    shutil.copytree(root / "dataset", root / "model")
    torch.manual_seed(0)
    checkpoint = root / "simple.pt"
    save_checkpoint(checkpoint, create_model("simple", 2), "simple", 2, {"img_size": SIZE})
    with Store.create(root / "model") as store:
        import_model(store, ImportOptions("simple", checkpoint, MODEL, "tiny", img_size=SIZE, device="cpu"))
    return {"images": tiny_images, "empty": None, "dataset": root / "dataset", "model": root / "model"}


def _fresh(bases, which: str, target: Path) -> Path:
    if bases[which] is None:
        return target
    shutil.copytree(bases[which], target)
    return target


COMMANDS = {
    # stage: (base store, args, Zarr prefix whose chunks mark progress)
    "dataset add": ("empty", lambda b: ["dataset", "add", b["images"], "--name", "tiny"], ""),
    "train": ("dataset", lambda b: ["train", "--dataset", "tiny", "--arch", "simple", "--epochs", "2",
                                    "--img-size", SIZE, "--device", "cpu"], ""),
    "segment": ("dataset", lambda b: ["segment", "--dataset", "tiny", "--size", SIZE, "--batch-size", "2",
                                      "--device", "cpu"], "segmentations"),
    "ingest": ("model", lambda b: ["ingest", "--model", MODEL, "--block-size", "1", "--batch-size", "1",
                                   "--device", "cpu"], f"masks/{MODEL}"),
}


@pytest.fixture(scope="module")
def references(bases, tmp_path_factory):
    """Per stage, a store where the command ran uninterrupted, and its measured timing."""
    cache: dict[str, tuple[Path, dict]] = {}

    def get(stage: str) -> tuple[Path, dict]:
        if stage not in cache:
            base, args, _ = COMMANDS[stage]
            store = _fresh(bases, base, tmp_path_factory.mktemp("ref") / "store")
            cache[stage] = (store, measure(args(bases), store))
        return cache[stage]

    return get


def kill_and_resume(bases, references, tmp_path, stage: str, points: list[tuple]) -> int:
    """Kill the command at each point in turn (each run resumes the last), rerun it to the end,
    then compare with the uninterrupted store; returns how many points really killed it."""
    base, args, prefix = COMMANDS[stage]
    reference, timing = references(stage)
    store = _fresh(bases, base, tmp_path / "store")
    killed = sum(run_killed(args(bases), store, point, timing, prefix) for point in points)
    result = run_cli(args(bases), store)
    assert result.returncode == 0, result.stderr
    assert_same_answers(store, reference, stage)
    assert_store_clean(store)
    return killed


# -- the default suite: one kill in the middle of an ingest --------------------------------

def test_ingest_killed_mid_block_resumes_to_the_same_answers(bases, tmp_path):
    """Kill `cityq ingest` once two mask chunks exist (blocks in flight), rerun it: same
    `rpc by city` and counts as an ingest that was never killed, and `cityq check` passes."""
    from cityq.pipeline.ingest import IngestOptions, ingest_model
    from cityq.store import Store

    reference = _fresh(bases, "model", tmp_path / "reference")
    with Store.create(reference) as store:
        ingest_model(store, MODEL, IngestOptions(block_size=1, batch_size=1, device="cpu", progress=False))
    _, args, prefix = COMMANDS["ingest"]
    store = _fresh(bases, "model", tmp_path / "store")
    assert run_killed(args(bases), store, ("chunks", 2), chunk_prefix=prefix), "ingest finished before the kill"
    with Store(store, read_only=True) as opened:
        status = opened.sql("SELECT status FROM ingests")["status"].tolist()
        blocks = int(opened.sql("SELECT count(*) AS n FROM mask_blocks")["n"][0])
    assert status == ["running"] and blocks < 8, "the kill did not land inside the ingest"
    result = run_cli(args(bases), store)
    assert result.returncode == 0, result.stderr
    assert_same_answers(store, reference, "ingest")
    assert_store_clean(store)


# -- the full harness: 21 kill points ------------------------------------------------------

@pytest.mark.slow
def test_ingest_killed_four_times_gives_the_same_rpc_by_city(bases, references, tmp_path):
    """The issue's must-show: an ingest killed four times, then resumed."""
    points = [("chunks", 1), ("chunks", 2), ("write", 0.5), ("chunks", 2)]
    killed = kill_and_resume(bases, references, tmp_path, "ingest", points)
    assert killed >= 3, f"only {killed} of 4 kills landed before the ingest finished"


@pytest.mark.slow
@pytest.mark.parametrize("stage, points", [
    ("dataset add", [("start", 0.5), ("start", 0.9), ("start", 0.97), ("write", 0.0), ("write", 0.3)]),
    ("train", [("write", 0.05), ("write", 0.3), ("write", 0.6), ("write", 0.85), ("write", 0.97)]),
    ("segment", [("chunks", 1), ("chunks", 3), ("write", 0.5), ("write", 0.9)]),
    ("ingest", [("write", 0.1), ("write", 0.5), ("write", 0.9)]),
])
def test_killed_then_rerun_gives_the_same_store(bases, references, tmp_path, stage, points):
    """Each point on a fresh store (a kill, then a rerun); 17 points here + 4 above = 21."""
    for k, point in enumerate(points):
        kill_and_resume(bases, references, tmp_path / f"point{k}", stage, [point])
