"""`check_store`: does the store hold what DuckDB says it holds, and nothing else?

Each check returns `Finding`s: what is wrong and what to do about it. Severities:
    error    recorded data is missing, unreadable or inconsistent (results may be wrong)
    warning  leftovers of a killed run or unfinished work (results are right, space is wasted
             or a stage still has to be rerun)
    note     history worth knowing (a killed run that was later redone)
A finding may carry a `repair`: a safe action (`cityq check --fix`) that removes leftovers no
row names or marks a dead run 'failed'. Nothing recorded is ever deleted by a repair.

Opening the store waits for any writer (DuckDB's file lock), so when a check runs no other
cityq process is writing: a run still 'running' then was killed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from cityq.store.core import ZARR_DIR

SEVERITIES = ("error", "warning", "note")

# The natural key of each fact table: two rows with the same key are a duplicate.
UNIQUE_KEYS = {
    "images": ("dataset", "path"),
    "epochs": ("model", "epoch"),
    "predictions": ("model", "image_id"),
    "segmented_images": ("segmentation_id", "image_id"),
    "pixel_counts": ("segmentation_id", "image_id", "object_id"),
    "mask_blocks": ("ingest_id", "block"),
    "mask_images": ("ingest_id", "image_id"),
    "object_counts": ("ingest_id", "image_id", "object_id"),
    "residuals": ("ingest_a", "ingest_b", "image_id"),
    "residual_pairs": ("ingest_a", "ingest_b"),
    "embeddings": ("ingest_id", "method", "image_id"),
    "ingests": ("model", "split", "target", "segmentation_id"),
    "segmentations": ("segmenter", "dataset", "height", "width"),
    "reliance": ("model", "method", "segmentation_id", "image_id", "object_id"),
}

# Stage -> the command that redoes it (subject is filled in).
RERUN = {
    "dataset add": "cityq dataset add ROOT --name {subject}",
    "train": "cityq train ... --name {subject}",
    "model import": "cityq model import ... --name {subject}",
    "segment": "cityq segment --segmenter {subject} --dataset NAME",
    "ingest": "cityq ingest --model {subject}",
    "reliance": "cityq reliance --model {subject} (same options)",
}


@dataclass
class Finding:
    severity: str  # error | warning | note
    what: str  # what is wrong, naming the table/array/file
    todo: str  # what to do about it
    repair: Callable[[], None] | None = None  # what `cityq check --fix` does, when it is safe

    def line(self) -> str:
        fix = " (--fix does this)" if self.repair else ""
        return f"{self.severity}: {self.what}; {self.todo}{fix}"


def check_store(store, sample: int = 5) -> list[Finding]:
    """Every check, errors first. `sample` images per ingest and segmentation are recounted."""
    findings: list[Finding] = []
    for check in (_stale_runs, _duplicates, _checkpoints):
        findings += check(store)
    findings += _segmentations(store, sample)
    findings += _ingests(store, sample)
    findings += _residuals(store)
    findings += _orphan_arrays(store)
    from cityq.store.run_folder_check import run_folder_findings

    findings += run_folder_findings(store)
    from cityq.store.dataset_checks import dataset_findings  # place leakage, recorded problems

    findings += dataset_findings(store)
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


def repair(findings: list[Finding]) -> int:
    """Apply every finding's repair; returns how many were applied."""
    done = 0
    for finding in findings:
        if finding.repair is not None:
            finding.repair()
            done += 1
    return done


def failed(findings: list[Finding]) -> bool:
    """Whether the store needs attention: any error or warning."""
    return any(f.severity != "note" for f in findings)


# -- runs ----------------------------------------------------------------------------------

def ingest_command(model: str, split: str, target: str, segmenter: str, force: bool = False) -> str:
    """The `cityq ingest` command that redoes one ingest: every option that differs from the
    defaults, so it redoes that ingest and not the labels one."""
    parts = [f"cityq ingest --model {model}"]
    if split != "test":
        parts.append(f"--split {split}")
    if target != "true":
        parts.append(f"--target {target}")
    if segmenter != "labels":
        parts.append(f"--segmenter {segmenter}")
    if force:
        parts.append("--force")
    return " ".join(parts)


def _rerun(stage: str, subject: str | None, config: str | None) -> str:
    if stage == "ingest" and subject:
        options = json.loads(config) if config else {}
        return ingest_command(subject, options.get("split", "test"), options.get("target", "true"),
                              options.get("segmenter", "labels"))
    return RERUN.get(stage, "the same command").format(subject=subject or "")


def _stale_runs(store) -> list[Finding]:
    rows = store.con.execute(
        "SELECT r.run_id, r.stage, r.subject, r.started_at, EXISTS (SELECT 1 FROM runs later "
        "WHERE later.stage = r.stage AND later.subject IS NOT DISTINCT FROM r.subject "
        "AND later.run_id > r.run_id AND later.status = 'done') AS redone, r.config "
        "FROM runs r WHERE r.status = 'running' ORDER BY r.run_id").fetchall()
    findings = []
    for run_id, stage, subject, started, redone, config in rows:
        mark = None if store.read_only else _mark_failed(store, run_id)
        what = f"run {run_id} ({stage} {subject or ''}, started {started:%Y-%m-%d %H:%M:%S}) was killed"
        if redone:
            findings.append(Finding("note", what + " and later redone", "nothing to do", mark))
        else:
            rerun = _rerun(stage, subject, config)
            findings.append(Finding("warning", what + " and not redone since",
                                    f"rerun `{rerun}`: it resumes where the run stopped", mark))
    return findings


def _mark_failed(store, run_id: int) -> Callable[[], None]:
    def mark() -> None:
        store.con.execute(
            "UPDATE runs SET status = 'failed', ended_at = coalesce(ended_at, current_timestamp), "
            "message = 'killed (marked by cityq check)' WHERE run_id = $id", {"id": run_id})
    return mark


# -- duplicates ----------------------------------------------------------------------------

def _duplicates(store) -> list[Finding]:
    findings = []
    for table, key in UNIQUE_KEYS.items():
        columns = ", ".join(key)
        (n,) = store.con.execute(
            f"SELECT count(*) FROM (SELECT {columns} FROM {table} GROUP BY ALL HAVING count(*) > 1)").fetchall()[0]
        if n:
            findings.append(Finding(
                "error", f"{table} has {n} duplicated ({columns}) key(s)",
                "results that sum over it are wrong: recompute the affected stage with --force "
                f"(`cityq sql \"select {columns}, count(*) from {table} group by all having count(*) > 1\"` "
                "lists them)"))
    return findings


# -- checkpoints ---------------------------------------------------------------------------


def _checkpoints(store) -> list[Finding]:
    findings = []
    named = {str(p) for (p,) in store.con.execute("SELECT checkpoint FROM models").fetchall()}
    named |= {str(p) for (p,) in store.con.execute("SELECT path FROM segmenters WHERE path IS NOT NULL").fetchall()}
    for model, checkpoint in store.con.execute("SELECT model, checkpoint FROM models ORDER BY 1").fetchall():
        if not (store.path / checkpoint).is_file():
            findings.append(
                Finding(
                    "error",
                    f"the checkpoint of model {model!r} ({checkpoint}) is missing",
                    f"retrain it (`cityq train --force --name {model}`) or re-import it",
                )
            )
    folder = store.path / "checkpoints"
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            rel = path.relative_to(store.path).as_posix()
            if rel in named or str(path) in named or any(rel.startswith(n.rstrip("/") + "/") for n in named):
                continue
            findings.append(
                Finding(
                    "warning",
                    f"{rel} is a checkpoint no model or segmenter names (left by a killed run)",
                    "delete it",
                    _delete(path),
                )
            )
    return findings


def _delete(path: Path) -> Callable[[], None]:
    def delete() -> None:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    return delete


# -- Zarr helpers --------------------------------------------------------------------------


def _array(store, zarr_path: str):
    try:
        return store.zarr_root()[zarr_path]
    except (KeyError, FileNotFoundError):
        return None


def _chunk_rows(store, zarr_path: str) -> set[int]:
    """The first-axis indices of the chunk files an array has on disk (its 'c/<i>/...' keys)."""
    folder = store.path / ZARR_DIR / zarr_path / "c"
    if not folder.is_dir():
        return set()
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()}


# -- segmentations -------------------------------------------------------------------------


def _segmentations(store, sample: int) -> list[Finding]:
    from cityq.store.recount import pixel_counts
    from cityq.store.segmentations import FILL_VALUE

    findings = []
    segs = store.con.execute(
        "SELECT segmentation_id, segmenter, dataset, zarr_path FROM segmentations ORDER BY 1"
    ).fetchall()
    for seg_id, segmenter, dataset, zarr_path in segs:
        rows = store.con.execute(
            "SELECT image_id, zarr_index FROM segmented_images WHERE segmentation_id = $id ORDER BY zarr_index",
            {"id": seg_id},
        ).fetchall()
        redo = (
            f'delete it (`cityq sql --write "delete from segmented_images where segmentation_id = {seg_id}"`) '
            f"and rerun `cityq segment --segmenter {segmenter} --dataset {dataset}`"
        )
        label = f"segmentation {seg_id} ({segmenter} on {dataset}, {zarr_path})"
        array = _array(store, zarr_path)
        if array is None:
            if rows:
                findings.append(
                    Finding("error", f"{label}: the Zarr array is missing but {len(rows)} images are recorded", redo)
                )
            continue
        if not rows:
            continue
        index = np.array([r[1] for r in rows], dtype=np.int64)
        bad = _unreadable_rows(array, index, lambda part: (part == FILL_VALUE).any(axis=(1, 2)))
        if bad:
            findings.append(
                Finding(
                    "error",
                    f"{label}: {len(bad)} recorded class maps are missing or unreadable "
                    f"(rows {bad[:5]}{' ...' if len(bad) > 5 else ''})",
                    redo,
                )
            )
            continue
        chunk = array.chunks[0]
        used = set((index // chunk).tolist())
        extra = sorted(_chunk_rows(store, zarr_path) - used)
        if extra:
            findings.append(
                Finding(
                    "warning",
                    f"{label}: {len(extra)} Zarr chunk(s) hold maps no row names (left by a killed run)",
                    f"rerun `cityq segment --segmenter {segmenter} --dataset {dataset}` (it overwrites them)",
                )
            )
        picked = _pick(len(rows), sample, seed=seg_id)
        ids = [rows[i][0] for i in picked]
        counted = pixel_counts(np.asarray(array.oindex[index[picked]]))
        stored = store.con.execute(
            "SELECT image_id, object_id, n_pixels FROM pixel_counts WHERE segmentation_id = $id "
            "AND list_contains($ids, image_id)",
            {"id": seg_id, "ids": ids},
        ).fetchall()
        expected = np.zeros_like(counted)
        position = {image_id: k for k, image_id in enumerate(ids)}
        for image_id, object_id, n in stored:
            expected[position[image_id], object_id] = n
        wrong = [ids[k] for k in np.flatnonzero((expected != counted).any(axis=1))]
        if wrong:
            findings.append(
                Finding("error", f"{label}: pixel_counts disagree with the stored maps for images {wrong}", redo)
            )
    return findings


def _unreadable_rows(array, index: np.ndarray, is_missing, step: int = 1024) -> list[int]:
    """Rows (Zarr indices) that cannot be read or read as the fill value, chunk-sized steps."""
    bad: list[int] = []
    for lo in range(0, len(index), step):
        part_index = index[lo : lo + step]
        try:
            part = np.asarray(array.oindex[part_index])
        except Exception:  # a damaged chunk: report its rows, whatever the codec raises
            bad += part_index.tolist()
            continue
        bad += part_index[is_missing(part)].tolist()
    return bad


def _pick(n: int, sample: int, seed: int) -> np.ndarray:
    """A few positions out of n, the same ones every time for a given seed."""
    if n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))


# -- ingests -------------------------------------------------------------------------------


def _ingests(store, sample: int) -> list[Finding]:
    from cityq.store.ingests import get_ingest

    findings = []
    for (ingest_id,) in store.con.execute("SELECT ingest_id FROM ingests ORDER BY 1").fetchall():
        ingest = get_ingest(store, ingest_id)
        findings += _ingest(store, ingest, sample)
    return findings


def _ingest(store, ingest, sample: int) -> list[Finding]:
    (segmenter,) = store.con.execute("SELECT segmenter FROM segmentations WHERE segmentation_id = $id",
                                     {"id": ingest.segmentation_id}).fetchall()[0]
    label = (f"ingest {ingest.ingest_id} (model {ingest.model}, {ingest.split}/{ingest.target}, "
             f"segmenter {segmenter}, {ingest.zarr_path})")
    where = (ingest.model, ingest.split, ingest.target, segmenter)
    force = f"rerun `{ingest_command(*where, force=True)}`"
    resume = f"rerun `{ingest_command(*where)}`"
    findings = []
    blocks = dict(
        store.con.execute(
            "SELECT block, n_images FROM mask_blocks WHERE ingest_id = $id", {"id": ingest.ingest_id}
        ).fetchall()
    )
    n_blocks = -(-ingest.n_images // ingest.block_size)
    if ingest.status == "done" and len(blocks) != n_blocks:
        findings.append(Finding("error", f"{label} is 'done' with {len(blocks)} of {n_blocks} blocks", force))
    elif ingest.status != "done":
        findings.append(
            Finding(
                "warning",
                f"{label} is unfinished ({len(blocks)} of {n_blocks} blocks)",
                f"{resume}: it resumes from the first missing block",
            )
        )
    images = store.con.execute(
        "SELECT image_id, zarr_index, area_pixels, mask_sum FROM mask_images WHERE ingest_id = $id ORDER BY zarr_index",
        {"id": ingest.ingest_id},
    ).fetchall()
    per_block: dict[int, int] = {}
    for _, zarr_index, _, _ in images:
        per_block[zarr_index // ingest.block_size] = per_block.get(zarr_index // ingest.block_size, 0) + 1
    unmarked = sorted(set(per_block) - set(blocks))
    miscounted = sorted(b for b, n in blocks.items() if per_block.get(b, 0) != n)
    if unmarked or miscounted:
        findings.append(
            Finding(
                "error",
                f"{label}: mask_images disagree with mask_blocks "
                f"(blocks without marker {unmarked[:5]}, miscounted {miscounted[:5]})",
                force,
            )
        )
    (stray,) = store.con.execute(
        "SELECT count(*) FROM object_counts o WHERE o.ingest_id = $id AND NOT EXISTS "
        "(SELECT 1 FROM mask_images m WHERE m.ingest_id = o.ingest_id AND m.image_id = o.image_id)",
        {"id": ingest.ingest_id},
    ).fetchall()[0]
    if stray:
        findings.append(Finding("error", f"{label}: {stray} object_counts rows for images without a mask", force))
    array = _array(store, ingest.zarr_path)
    if array is None:
        if images:
            findings.append(
                Finding("error", f"{label}: the mask array is missing but {len(images)} masks are recorded", force)
            )
        return findings
    index = np.array([r[1] for r in images], dtype=np.int64)
    bad = _unreadable_rows(array, index, lambda part: np.isnan(part).any(axis=(1, 2)))
    if bad:
        blocks_hit = sorted({int(i) // ingest.block_size for i in bad})
        findings.append(
            Finding(
                "error",
                f"{label}: {len(bad)} recorded masks are missing or unreadable "
                f"(Zarr chunks of blocks {blocks_hit[:5]}{' ...' if len(blocks_hit) > 5 else ''})",
                force,
            )
        )
        return findings
    if ingest.status == "done":
        extra = sorted(_chunk_rows(store, ingest.zarr_path) - set(blocks))
        if extra:
            findings.append(
                Finding("warning", f"{label}: Zarr chunks {extra[:5]} hold masks no block row names", force)
            )
    if images and sample:
        findings += _recount(store, ingest, array, images, sample, label, force)
    return findings


def _recount(store, ingest, array, images, sample: int, label: str, force: str) -> list[Finding]:
    """Recompute N, S, M(t), area and the mask sum of a few images from the stored masks and
    class maps, and compare them with the stored rows."""
    from cityq.store.recount import recount, upsample_masks
    from cityq.store.segmentations import load_segmentation

    picked = _pick(len(images), sample, seed=ingest.ingest_id)
    ids = [images[i][0] for i in picked]
    cams = np.asarray(array.oindex[np.array([images[i][1] for i in picked])])
    masks = upsample_masks(cams, (ingest.height, ingest.width))
    try:
        maps = load_segmentation(store, ingest.segmentation_id, ids)
    except Exception as exc:  # the segmentation check names the cause
        return [
            Finding(
                "error",
                f"{label}: cannot read the class maps it was counted with ({exc})",
                "fix the segmentation first (see its finding), then " + force,
            )
        ]
    counts = recount(masks, maps, ingest.thresholds)
    mismatch = set()
    for k in range(len(ids)):
        area, mask_sum = images[picked[k]][2], images[picked[k]][3]
        if not _close_int(counts.area_pixels[k], area) or not np.isclose(
            counts.mask_sum[k], mask_sum, rtol=1e-4, atol=1e-3
        ):
            mismatch.add(ids[k])
    stored = {
        (image_id, object_id): (n, soft, m)
        for image_id, object_id, n, soft, m in store.con.execute(
            "SELECT image_id, object_id, n_pixels, soft_sum, m_pixels FROM object_counts "
            "WHERE ingest_id = $id AND list_contains($ids, image_id)",
            {"id": ingest.ingest_id, "ids": ids},
        ).fetchall()
    }
    recounted = set()
    for k, image_id in enumerate(ids):
        for object_id in np.flatnonzero(counts.n_pixels[k]).tolist():
            recounted.add((image_id, object_id))
            row = stored.get((image_id, object_id))
            if (
                row is None
                or row[0] != counts.n_pixels[k, object_id]
                or not _close_int(counts.m_pixels[k, object_id], row[2])
                or not np.isclose(row[1], counts.soft_sum[k, object_id], rtol=1e-4, atol=1e-3)
            ):
                mismatch.add(image_id)
    mismatch |= {image_id for image_id, _ in set(stored) - recounted}
    if mismatch:
        return [
            Finding(
                "error",
                f"{label}: stored counts disagree with the stored masks and maps for images {sorted(mismatch)[:5]}",
                force,
            )
        ]
    return []


def _close_int(a, b) -> bool:
    """Pixel counts at thresholds: equal, but for a pixel or two whose mask value sits on a
    threshold and rounds differently on another device."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    return a.shape == b.shape and bool((np.abs(a - b) <= 2).all())


# -- residuals -----------------------------------------------------------------------------


def _residuals(store) -> list[Finding]:
    rows = store.con.execute(
        "SELECT p.ingest_a, p.ingest_b, p.n_images, (SELECT count(*) FROM residuals r "
        "WHERE r.ingest_a = p.ingest_a AND r.ingest_b = p.ingest_b) FROM residual_pairs p ORDER BY 1, 2"
    ).fetchall()
    findings = [
        Finding(
            "error",
            f"residual pair ({a}, {b}) records {n} images but has {have} residual rows",
            f'delete the pair (`cityq sql --write "delete from residual_pairs where ingest_a = {a} and '
            f'ingest_b = {b}; delete from residuals where ingest_a = {a} and ingest_b = {b}"`) and rerun '
            "`cityq ingest` of either model",
        )
        for a, b, n, have in rows
        if n != have
    ]
    findings += _residuals_without_common(store)
    (stray,) = store.con.execute(
        "SELECT count(*) FROM residuals r WHERE NOT EXISTS (SELECT 1 FROM residual_pairs p "
        "WHERE p.ingest_a = r.ingest_a AND p.ingest_b = r.ingest_b)"
    ).fetchall()[0]
    if stray:
        findings.append(
            Finding(
                "error",
                f"{stray} residuals rows belong to no residual pair",
                'delete them: `cityq sql --write "delete from residuals r where not exists '
                '(select 1 from residual_pairs p where p.ingest_a = r.ingest_a and p.ingest_b = r.ingest_b)"`',
            )
        )
    return findings


def _residuals_without_common(store) -> list[Finding]:
    """Pairs recorded before AR at a common resolution existed (migration 0003): the AR queries
    show their ar_common as missing, and ingesting either model again computes it."""
    from cityq.store import residuals

    lacking = residuals.pairs_without_common_by_ingest(store)
    if not lacking:
        return []
    # One ingest per pair covers it: the lower one's model, as few commands as possible.
    ingests = sorted({a for a, _, _, _ in lacking})
    models = sorted({m for _, _, ma, mb in lacking for m in (ma, mb)})
    commands = "; ".join(f"`{residuals.rerun_command(store, i)}`" for i in ingests)
    return [Finding(
        "warning",
        f"{len(lacking)} residual pairs (models {', '.join(models)}) have no AR at a common resolution "
        "(recorded before cityq computed it; `ar arch vs seed` shows it as missing)",
        f"run {commands}: a finished ingest run again computes only what is missing",
    )]


# -- orphaned arrays -----------------------------------------------------------------------


def _orphan_arrays(store) -> list[Finding]:
    """Zarr arrays under masks/ and segmentations/ that no ingest or segmentation names."""
    named = {
        p
        for (p,) in store.con.execute(
            "SELECT zarr_path FROM ingests UNION SELECT zarr_path FROM segmentations"
        ).fetchall()
    }
    root = store.path / ZARR_DIR
    findings = []
    if not root.is_dir():
        return findings
    for meta in sorted(root.rglob("zarr.json")):
        folder = meta.parent
        rel = folder.relative_to(root).as_posix()
        if rel == "." or rel in named:
            continue
        try:
            node_type = json.loads(meta.read_text()).get("node_type")
        except (OSError, ValueError):
            node_type = "array"
        if node_type != "array":
            continue
        findings.append(
            Finding(
                "warning",
                f"Zarr array {rel} is named by no ingest or segmentation (left by a killed or deleted run)",
                "delete it",
                _delete(folder),
            )
        )
    return findings
