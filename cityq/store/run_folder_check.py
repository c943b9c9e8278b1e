"""`cityq check` for run folders: what killed distributed runs left behind.

Scanned: `<store>/runs` and every run folder an ingest or a segment run names. A run folder
holds only work in flight, so everything in it is one of:
    a live unit (of a running ingest, or of a segmentation whose images are not all committed):
        finished (marker) but not committed -> note (the rerun commits it)
        partial (objects, no marker)         -> warning, --fix deletes them
    a write killed in flight (`*.partial`)   -> warning, --fix deletes it
    anything else: the folder of a finished, deleted or unknown ingest or segmentation, an image
    set no running ingest uses, a name no unit has -> warning, --fix deletes it
Deleting any of it is safe: nothing in a run folder is a record; a rerun rewrites what it needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cityq.store.ingests import done_blocks as committed_blocks
from cityq.store.run_folder import INGESTS, PARTIAL_SUFFIX, SEGMENTATIONS, RunFolder, read_parquet
from cityq.store.run_folders import ray_ingests, run_folder_roots
from cityq.store.segmentations import segmented_rows

_UNIT_FILE = re.compile(
    r"^(?:(?:cams|maps)/c/(\d+)(?:/0)*|(?:images|counts)/shard=(\d+)/part-0\.parquet|done/shard=(\d+)\.json)$")
_SHARED = ("maps", "pixels", "pixel-failures")  # inputs an image set shares among its models
_INPUTS = re.compile(r"^(?:manifest\.json|checkpoint\.pt|images\.parquet|(?:cams|maps)/zarr\.json|segmenter/.*)$")


@dataclass
class _Live:
    """A folder of units still wanted, and how to tell which of its units are committed."""
    label: str
    rerun: str
    committed: object  # shard -> bool
    shards: dict[int, set[str]] = field(default_factory=dict)  # shard -> kinds of objects present


def run_folder_findings(store) -> list:
    from cityq.store.check import Finding

    findings = []
    for url in sorted({str(Path(store.path) / "runs"), *run_folder_roots(store)}):
        try:
            folder = RunFolder(url)
            files = folder.files()
        except Exception as exc:  # noqa: BLE001 (any client error: an unreachable store must not stop the checks)
            findings.append(Finding("warning", f"run folder {url} cannot be listed ({type(exc).__name__})",
                                    "check its URL and credentials"))
            continue
        findings += _scan(folder, files, _live(store, folder, files), Finding)
    return findings


def _live(store, folder: RunFolder, files: list[str]) -> dict[str, _Live]:
    """Folder (relative) -> _Live, for the ingests and segmentations this run folder still serves."""
    live = {}
    for ingest in ray_ingests(store):
        if ingest["status"] != "done" and ingest["run_folder"] == folder.url:
            done = committed_blocks(store, ingest["ingest_id"])
            manifest = _json(folder, f"{ingest['model_dir']}/manifest.json")
            if manifest is None:
                continue
            size, block, n = manifest["shard_size"], manifest["block_size"], manifest["n_images"]

            def committed(shard, size=size, block=block, n=n, done=done):
                lo, hi = shard * size, min((shard + 1) * size, n)
                return all(b in done for b in range(lo // block, -(-hi // block)))

            live[ingest["model_dir"]] = _Live(
                f"ingest {ingest['ingest_id']} (model {ingest['model']})",
                f"cityq ingest --model {ingest['model']} --engine ray", committed)
    for path in files:
        parts = path.split("/")
        if parts[0] != SEGMENTATIONS or len(parts) != 3 or parts[2] != "manifest.json":
            continue
        manifest = _json(folder, path)
        rel = "/".join(parts[:2])
        ids = _image_ids(folder, f"{rel}/images.parquet")
        if manifest is None or ids is None:
            continue  # a damaged folder: a leftover like any other
        rows = segmented_rows(store, manifest["segmentation_id"])
        if all(int(i) in rows for i in ids):
            continue
        size = manifest["shard_size"]

        def committed(shard, ids=ids, rows=rows, size=size):
            return all(int(i) in rows for i in ids[shard * size:(shard + 1) * size])

        live[rel] = _Live(f"segmentation {manifest['segmentation_id']} ({manifest['segmenter']})",
                          f"cityq segment --segmenter {manifest['segmenter']} ... --engine ray", committed)
    return live


def _image_ids(folder: RunFolder, rel: str):
    try:
        return read_parquet(folder.get(rel)).column("image_id").to_numpy()
    except Exception:  # noqa: BLE001 (missing or damaged)
        return None


def _json(folder: RunFolder, rel: str):
    try:
        return folder.get_json(rel)
    except Exception:  # noqa: BLE001 (missing or damaged: the folder is not live)
        return None


def _scan(folder: RunFolder, files: list[str], live: dict[str, _Live], Finding) -> list:
    findings = []
    live_sets = {rel.rsplit("/", 1)[0] for rel in live if rel.startswith(f"{INGESTS}/")}
    stray: dict[str, int] = {}  # a folder (or file) to delete whole -> how many files
    for path in files:
        if path.endswith(PARTIAL_SUFFIX):
            findings.append(Finding("warning", f"{folder.url}/{path} is a write killed in flight",
                                    "delete it", _remove(folder, path)))
            continue
        parts = path.split("/")
        owner = next((rel for rel in ("/".join(parts[:3]), "/".join(parts[:2])) if rel in live), None)
        if owner is not None:
            rest = path[len(owner) + 1:]
            match = _UNIT_FILE.match(rest)
            if match:
                shard = int(next(g for g in match.groups() if g is not None))
                live[owner].shards.setdefault(shard, set()).add(rest.split("/")[0])
                continue
            if _INPUTS.match(rest):
                continue
            stray[path] = 1
            continue
        image_set = "/".join(parts[:2])
        if image_set in live_sets and (path == f"{image_set}/images.parquet"
                                       or path.startswith(tuple(f"{image_set}/{d}/" for d in _SHARED))):
            continue  # inputs shared by a running ingest
        key = "/".join(parts[:3]) if image_set in live_sets else ("/".join(parts[:2]) if len(parts) > 2 else path)
        stray[key] = stray.get(key, 0) + 1
    for key, count in sorted(stray.items()):
        findings.append(Finding("warning", f"{folder.url}/{key} ({count} files) belongs to no running ingest "
                                "or segmentation", "delete it", _remove(folder, key)))
    for rel, unit in sorted(live.items()):
        pending = {s: kinds for s, kinds in unit.shards.items() if not unit.committed(s)}
        partial = sorted(s for s, kinds in pending.items() if "done" not in kinds)
        finished = sorted(s for s, kinds in pending.items() if "done" in kinds)
        done = sorted(s for s in unit.shards if s not in pending)
        label = f"{unit.label} in {folder.url}/{rel}"
        if partial:
            findings.append(Finding("warning", f"{label}: units {_short(partial)} are partial (a worker was killed)",
                                    f"rerun `{unit.rerun}` (it redoes them)", _remove_units(folder, rel, partial)))
        if finished:
            findings.append(Finding("note", f"{label}: units {_short(finished)} are finished but not committed",
                                    f"rerun `{unit.rerun}` to commit them"))
        if done:
            findings.append(Finding("warning", f"{label}: units {_short(done)} are committed but still here",
                                    "delete them", _remove_units(folder, rel, done)))
    return findings


def _short(values: list[int]) -> str:
    return ", ".join(map(str, values[:8])) + (" ..." if len(values) > 8 else "")


def _remove(folder: RunFolder, rel: str):
    return lambda: folder.remove(rel)


def _remove_units(folder: RunFolder, rel: str, shards: list[int]):
    def remove() -> None:
        for path in folder.files(rel):
            match = _UNIT_FILE.match(path[len(rel) + 1:])
            if match and int(next(g for g in match.groups() if g is not None)) in shards:
                folder.remove(path)

    return remove
