"""Bad input, each tried: it gets a clear one-line error (or is skipped and reported) and the
store loses nothing. The results are tabulated in docs/reliability.md."""

from __future__ import annotations

import errno
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from contracts import one_line_error
from PIL import Image

MODEL = "resnet18-s0"  # one of tiny_ingested's models


def _two_cities(tmp_path: Path, tiny_images: Path, per_city: int = 6) -> Path:
    """A small copy of the tiny dataset to spoil."""
    root = tmp_path / "images"
    for city in sorted(p.name for p in tiny_images.iterdir() if p.is_dir()):
        (root / city).mkdir(parents=True)
        images = sorted(p for p in (tiny_images / city).glob("*.png") if not p.name.endswith(".labels.png"))
        for image in images[:per_city]:
            shutil.copy(image, root / city / image.name)
            shutil.copy(image.with_name(image.stem + ".labels.png"), root / city / (image.stem + ".labels.png"))
    return root


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that claims a huge size (a decompression bomb) in a few bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


# -- images --------------------------------------------------------------------------------

def test_broken_image_files_are_skipped_with_a_reason_and_the_rest_is_added(cli, tmp_path, tiny_images):
    root = _two_cities(tmp_path, tiny_images)
    city = sorted(p for p in root.iterdir())[0]
    good = sorted(p for p in city.glob("*.png") if not p.name.endswith(".labels.png"))[0]
    data = good.read_bytes()
    (city / "zero.png").write_bytes(b"")
    (city / "corrupt.png").write_bytes(data[:16] + bytes(range(256)) * 4)
    (city / "truncated.png").write_bytes(data[: len(data) // 2])
    Image.open(good).convert("RGB").save(city / "whole.jpg", quality=90)
    jpeg = (city / "whole.jpg").read_bytes()
    (city / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    _png_header_only(city / "bomb.png", 60000, 60000)  # 3.6e9 pixels > 2 x PIL's limit
    spoilt = sorted(p for p in city.glob("*.png") if not p.name.endswith(".labels.png"))[1]
    labels = np.asarray(Image.open(spoilt.with_name(spoilt.stem + ".labels.png"))).copy()
    labels[0, 0] = 200  # not an ADE20K-150 index
    Image.fromarray(labels).save(spoilt.with_name(spoilt.stem + ".labels.png"))

    result = cli(["dataset", "add", root, "--name", "spoilt", "--store", tmp_path / "store"])
    assert result.exit_code == 0, result.output
    from cityq.store import Store

    with Store(tmp_path / "store", read_only=True) as store:
        bad = dict(store.sql("SELECT path, reason FROM bad_files").itertuples(index=False))
        paths = set(store.sql("SELECT path FROM images")["path"])
    name = city.name
    assert "empty file" in bad[f"{name}/zero.png"]
    assert "unreadable image" in bad[f"{name}/corrupt.png"]
    assert "unreadable image" in bad[f"{name}/truncated.png"]
    assert "truncated" in bad[f"{name}/truncated.jpg"]
    assert "exceeds limit" in bad[f"{name}/bomb.png"] and "decompression bomb" in bad[f"{name}/bomb.png"]
    assert "label value 200 >= 150" in bad[f"{name}/{spoilt.stem}.labels.png"]
    assert f"{name}/whole.jpg" in paths and f"{name}/{spoilt.name}" not in paths
    assert len(paths) == 12 - 1 + 1  # 12 good images, one skipped for its labels, whole.jpg added


def test_greyscale_rgba_and_16_bit_images_are_converted_to_rgb(tmp_path, tiny_images):
    """Decision: every mode PIL reads is used, as 8-bit RGB; 16-bit greyscale is scaled (not
    clipped to white), alpha is dropped, palettes are expanded."""
    from cityq.imaging import decode_rgb
    from cityq.pipeline.datasets import add_dataset
    from cityq.store import Store
    from cityq.store.image_cache import load_image_tensor

    root = _two_cities(tmp_path, tiny_images, per_city=5)
    city = sorted(root.iterdir())[0]
    files = sorted(p for p in city.glob("*.png") if not p.name.endswith(".labels.png"))
    rgb = [np.asarray(Image.open(p).convert("RGB")) for p in files[:4]]
    grey = [(np.asarray(Image.fromarray(rgb[k]).convert("L"))) for k in range(4)]
    Image.fromarray(grey[0]).save(files[0])  # L
    Image.fromarray(rgb[1]).convert("RGBA").save(files[1])  # RGBA
    Image.fromarray(grey[2].astype(np.uint16) * 257).save(files[2])  # 16-bit greyscale (I;16)
    Image.fromarray(rgb[3]).convert("P").save(files[3])  # palette
    assert Image.open(files[2]).mode == "I;16"
    with Store.create(tmp_path / "store") as store:
        report = add_dataset(store, root, "modes", progress=False)
        assert not report.bad
        ids = store.sql("SELECT image_id, path FROM images ORDER BY path")
        by_path = dict(zip(ids["path"], ids["image_id"]))
        size = rgb[0].shape[0]
        pixels = load_image_tensor(store, [by_path[f"{city.name}/{p.name}"] for p in files[:4]], size).numpy()
    assert pixels.shape == (4, 3, size, size)
    np.testing.assert_array_equal(pixels[0], np.stack([grey[0]] * 3))
    np.testing.assert_array_equal(pixels[1], rgb[1].transpose(2, 0, 1))
    np.testing.assert_array_equal(pixels[2], np.stack([grey[2]] * 3))  # scaled back exactly, not white
    np.testing.assert_array_equal(pixels[3], np.asarray(Image.open(files[3]).convert("RGB")).transpose(2, 0, 1))
    np.testing.assert_array_equal(decode_rgb(files[2]), np.stack([grey[2]] * 3, axis=-1))


# -- checkpoints ---------------------------------------------------------------------------

def _import(cli, store, checkpoint, arch="resnet18", name="imported"):
    return cli(["model", "import", "--arch", arch, "--checkpoint", checkpoint, "--name", name,
                "--dataset", "tiny", "--img-size", 64, "--device", "cpu", "--store", store])


def test_a_checkpoint_of_another_architecture_is_refused(cli, tmp_path, tiny_ingested, copy_store):
    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model

    store = copy_store(tiny_ingested)
    ours = tmp_path / "simple.pt"
    save_checkpoint(ours, create_model("simple", 2), "simple", 2, {"img_size": 64})
    one_line_error(_import(cli, store, ours), "is a simple checkpoint, not resnet18", "--arch simple")
    plain = tmp_path / "plain.pt"
    torch.save(create_model("simple", 2).state_dict(), plain)
    one_line_error(_import(cli, store, plain), "does not fit architecture 'resnet18'", "missing keys")
    wrong_classes = tmp_path / "three.pt"
    torch.save(create_model("resnet18", 3).state_dict(), wrong_classes)
    one_line_error(_import(cli, store, wrong_classes), "shape mismatches")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    # Refused in one line, but named "pickled code": torch raises UnpicklingError for any
    # non-torch bytes too (models/checkpoint.py: reported, not ours to change).
    one_line_error(_import(cli, store, garbage), "garbage.pt")
    one_line_error(_import(cli, store, tmp_path / "absent.pt"), "not found")
    result = cli(["sql", "SELECT count(*) AS n FROM models WHERE model = 'imported'", "-f", "csv", "--store", store])
    assert result.stdout.strip().splitlines()[-1] == "0"


class _Payload:
    """Pickled code: unpickling it would create a file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_checkpoint_with_pickled_code_is_refused_without_running_it(cli, tmp_path, tiny_ingested, copy_store):
    store = copy_store(tiny_ingested)
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hook": _Payload(str(marker))}, evil)
    one_line_error(_import(cli, store, evil), "pickled code", "refuses")
    assert not marker.exists()


# -- names and SQL -------------------------------------------------------------------------

@pytest.mark.parametrize("args, needle", [
    (["ingest", "--model", "nope", "--device", "cpu"], "no model named 'nope'"),
    (["query", "no such query"], "no such query"),
    (["ingest", "--model", MODEL, "--segmenter", "nope", "--device", "cpu"], "no segmenter named 'nope'"),
    (["segment", "--dataset", "tiny", "--segmenter", "nope", "--size", "64"], "no segmenter named 'nope'"),
    (["train", "--dataset", "nope", "--arch", "simple"], "dataset 'nope' is not in the store"),
    (["segment", "--dataset", "nope"], "dataset 'nope' has no images"),
    (["train", "--dataset", "tiny", "--arch", "nope"], "nope"),
    (["sql", "selec 1"], "syntax error"),
    (["sql", "SELECT * FROM no_such_table"], "no_such_table"),
    (["sql", "DELETE FROM images"], ""),
    (["query", "rpc by city", "-p", "threshold=0.33"], ""),
    (["ingest", "--model", MODEL, "--split", "nope"], "--split must be one of"),
    (["ingest", "--model", MODEL, "--thresholds", "2:3:1"], ""),
])
def test_unknown_names_and_sql_errors_are_one_line(cli, tiny_ingested, copy_store, args, needle):
    store = copy_store(tiny_ingested)
    from cityq.store import Store

    with Store(store, read_only=True) as opened:
        before = opened.sql("SELECT count(*) AS n FROM images")["n"][0]
    one_line_error(cli([*args, "--store", store]), needle)
    with Store(store, read_only=True) as opened:
        assert opened.sql("SELECT count(*) AS n FROM images")["n"][0] == before


def test_a_file_that_is_not_a_store_is_refused(cli, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "cityq.duckdb").write_bytes(b"garbage" * 1000)
    one_line_error(cli(["info", "--store", tmp_path / "s"]), "not a valid DuckDB database")
    one_line_error(cli(["check", "--store", tmp_path / "nothing"]), "no cityq store")


# -- a full disk ---------------------------------------------------------------------------

def _ingest_val(cli, store):
    return cli(["ingest", "--model", MODEL, "--split", "val", "--block-size", "2", "--batch-size", "2",
                "--device", "cpu", "--store", store])


def _full_after(calls: int):
    """A write that fails with ENOSPC from its `calls`-th call on."""
    state = {"n": 0}

    def check(*_):
        state["n"] += 1
        if state["n"] >= calls:
            raise OSError(errno.ENOSPC, "No space left on device")
    return check


@pytest.mark.parametrize("where", ["zarr chunk", "duckdb insert"])
def test_a_full_disk_stops_with_one_line_and_keeps_no_half_block(cli, tiny_ingested, copy_store, monkeypatch, where):
    import zarr

    from cityq.store import Store
    from cityq.store.check import check_store

    store = copy_store(tiny_ingested)
    # zarr: call 1 writes the val segmentation, 2 the first mask block, 3 the second;
    # duckdb: one object_counts insert per block.
    fails = _full_after(3 if where == "zarr chunk" else 2)
    if where == "zarr chunk":
        original = zarr.Array.__setitem__

        def setitem(self, key, value):
            fails()
            return original(self, key, value)
        monkeypatch.setattr(zarr.Array, "__setitem__", setitem)
    else:
        original = Store.insert_df

        def insert(self, table, frame):
            if table == "object_counts":
                fails()
            return original(self, table, frame)
        monkeypatch.setattr(Store, "insert_df", insert)
    one_line_error(_ingest_val(cli, store), "no space left on device", "rerun the same command")
    monkeypatch.undo()
    with Store(store, read_only=True) as opened:
        kept = opened.sql("SELECT ingest_id, status, n_images FROM ingests WHERE split = 'val'")
        assert kept["status"].tolist() == ["running"]
        ingest_id = int(kept["ingest_id"][0])
        blocks = opened.sql(f"SELECT block FROM mask_blocks WHERE ingest_id = {ingest_id}")["block"].tolist()
        assert blocks == [0]  # the first block went in whole; the failed one left no row
        rows = opened.sql("SELECT max(zarr_index) AS top, count(*) AS n FROM mask_images WHERE ingest_id = $id",
                          id=ingest_id)
        assert int(rows["top"][0]) < 2 and int(rows["n"][0]) == 2
        findings = check_store(opened)
    assert not [f for f in findings if f.severity == "error"], [f.line() for f in findings]
    assert any("unfinished" in f.what for f in findings)
    result = _ingest_val(cli, store)  # space again: it resumes
    assert result.exit_code == 0, result.output
    with Store(store, read_only=True) as opened:
        assert not [f for f in check_store(opened) if f.severity != "note"]


# -- data deleted behind cityq's back ------------------------------------------------------


def test_a_deleted_mask_chunk_is_reported_by_check_and_by_store_masks(cli, tiny_ingested, copy_store):
    from cityq.errors import CityqError
    from cityq.store import Store
    from cityq.store.check import check_store

    store = copy_store(tiny_ingested)
    with Store(store, read_only=True) as opened:
        zarr_path = opened.sql("SELECT zarr_path FROM ingests WHERE model = $m", m=MODEL)["zarr_path"][0]
    chunk = store / "arrays.zarr" / zarr_path / "c" / "1" / "0" / "0"
    assert chunk.is_file()
    chunk.unlink()
    with Store(store, read_only=True) as opened:
        findings = check_store(opened)
        with pytest.raises(CityqError, match="missing from .* although the store records them; run `cityq check`"):
            opened.masks(MODEL)
    errors = [f for f in findings if f.severity == "error"]
    assert len(errors) == 1 and "Zarr chunks of blocks [1]" in errors[0].what and "--force" in errors[0].todo
    result = cli(["check", "--store", store])
    assert result.exit_code == 1 and "blocks [1]" in result.stdout
    one_line_error(result, "1 problem(s)")
    result = cli(
        [
            "ingest",
            "--model",
            MODEL,
            "--block-size",
            "3",
            "--batch-size",
            "4",
            "--device",
            "cpu",
            "--force",
            "--store",
            store,
        ]
    )
    assert result.exit_code == 0, result.output
    assert cli(["check", "--store", store]).exit_code == 0


def test_a_deleted_segmentation_chunk_is_reported(tiny_ingested, copy_store):
    from cityq.errors import CityqError
    from cityq.store import Store
    from cityq.store.check import check_store
    from cityq.store.segmentations import load_segmentation

    store = copy_store(tiny_ingested)
    chunks = sorted((store / "arrays.zarr" / "segmentations").rglob("c/*/0/0"))
    chunks[0].unlink()
    with Store(store, read_only=True) as opened:
        errors = [f for f in check_store(opened) if f.severity == "error"]
        ids = opened.sql("SELECT image_id FROM segmented_images WHERE zarr_index = 0")["image_id"].tolist()
        with pytest.raises(CityqError, match="lacks rows the store says are written"):
            load_segmentation(opened, 1, ids)
    assert any("class maps are missing or unreadable" in f.what for f in errors)


def test_check_finds_duplicates_orphans_and_killed_runs(cli, tiny_ingested, copy_store):
    """The checks themselves can fail: plant each fault and see it named."""
    from cityq.store import Store
    from cityq.store.check import check_store, failed

    store = copy_store(tiny_ingested)
    (store / "checkpoints" / "orphan.run99.pt").write_bytes(b"x")
    with Store.create(store) as opened:
        opened.con.execute("INSERT INTO object_counts SELECT * FROM object_counts LIMIT 1")
        opened.con.execute(
            "UPDATE object_counts SET n_pixels = n_pixels + 1 WHERE image_id = "
            "(SELECT min(image_id) FROM mask_images) AND object_id = (SELECT min(object_id) "
            "FROM object_counts WHERE image_id = (SELECT min(image_id) FROM mask_images))"
        )
        opened.con.execute(
            "INSERT INTO runs (stage, subject, started_at, status) VALUES ('ingest', 'x', now(), 'running')"
        )
        opened.zarr_root().create_array("masks/ghost/test-true-seg1", shape=(2, 2), dtype="float32")
        text = "\n".join(f.line() for f in check_store(opened, sample=1000))
    assert "object_counts has 1 duplicated" in text
    assert "stored counts disagree" in text
    assert "checkpoints/orphan.run99.pt is a checkpoint no model" in text
    assert "masks/ghost/test-true-seg1 is named by no ingest" in text
    assert "was killed and not redone" in text
    result = cli(["check", "--fix", "--store", store])
    assert result.exit_code == 1  # the duplicate and the wrong count are not leftovers: --fix keeps them
    assert not (store / "checkpoints" / "orphan.run99.pt").exists()
    assert not (store / "arrays.zarr" / "masks" / "ghost" / "test-true-seg1").exists()
    with Store(store, read_only=True) as opened:
        left = check_store(opened, sample=1000)
    assert failed(left) and all(f.severity == "error" for f in left if f.severity != "note")
