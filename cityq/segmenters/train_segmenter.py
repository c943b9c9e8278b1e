"""`cityq segmenter train`: fit the small U-Net on a dataset's train split, score it on test.

Straight-line on purpose (nanoGPT style): load, fit, evaluate, save, record. Images and label
maps are squashed to `input_size` once and held in memory; the synthetic cities at 96 px fit
in a few MB.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cityq.device import resolve_device
from cityq.errors import CityqError
from cityq.objects import N_CLASSES
from cityq.segmenters.labels import read_label_map
from cityq.segmenters.small_net import SmallUNet, normalize, save_trained


@dataclass
class SegmenterTrainConfig:
    epochs: int = 10  # passes over the train split
    input_size: int = 64  # square side the net sees (images squashed, as for the classifiers)
    width: int = 12  # channels of the first U-Net stage (doubled per stage)
    batch_size: int = 16
    lr: float = 3e-3  # Adam
    seed: int = 0
    max_seconds: float | None = 90.0  # stop after the epoch that crosses this budget (2-core CPU budget)


def _load_split(store, dataset: str, split: str, size: int):
    from cityq.store.image_cache import load_image_tensor
    from cityq.store.segmenters import labelled_split

    frame = labelled_split(store, dataset, split)
    if not len(frame):
        raise CityqError(f"dataset {dataset!r} has no {split} images; add it with `cityq dataset add`.")
    if frame["labels_path"].isna().any():
        raise CityqError(
            f"dataset {dataset!r} has images without label maps; `cityq segmenter train` needs labels for every image."
        )
    images = load_image_tensor(store, frame["image_id"].tolist(), size)
    labels = np.stack(
        [
            np.asarray(Image.fromarray(read_label_map(Path(root) / p)).resize((size, size), Image.NEAREST))
            for root, p in zip(frame["root"], frame["labels_path"])
        ]
    )
    return images, torch.from_numpy(labels)


def evaluate(pred: torch.Tensor, truth: torch.Tensor) -> dict:
    """Pixel accuracy, and mean IoU over the classes present in the truth."""
    pred, truth = pred.reshape(-1).long(), truth.reshape(-1).long()
    confusion = torch.bincount(truth * N_CLASSES + pred, minlength=N_CLASSES * N_CLASSES).view(N_CLASSES, N_CLASSES)
    tp = confusion.diag().double()
    present = confusion.sum(1) > 0
    iou = tp / (confusion.sum(0) + confusion.sum(1) - confusion.diag()).double().clamp(min=1)
    return {
        "pixel_accuracy": float(tp.sum() / confusion.sum()),
        "miou": float(iou[present].mean()),
        "iou": {int(c): round(float(iou[c]), 4) for c in torch.nonzero(present).flatten()},
    }


def train_segmenter(
    store,
    dataset: str,
    name: str | None = None,
    config: SegmenterTrainConfig | None = None,
    device: str = "auto",
    progress: bool = True,
) -> dict:
    """Train, evaluate on test, save the weights and add the `segmenters` row; returns the metrics."""
    from cityq.progress import bar
    from cityq.segmenters.catalog import register_trained
    from cityq.store.segmenters import segmenter_row

    cfg = config or SegmenterTrainConfig()
    name = name or f"unet-{dataset}"
    if segmenter_row(store, name) is not None:
        raise CityqError(f"a segmenter named {name!r} exists already; choose another --name.")
    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    with store.run("segmenter train", subject=name, config={"dataset": dataset, **asdict(cfg)}):
        train_x, train_y = _load_split(store, dataset, "train", cfg.input_size)
        test_x, test_y = _load_split(store, dataset, "test", cfg.input_size)
        classes = torch.unique(train_y).tolist()
        to_compact = torch.full((N_CLASSES,), -100, dtype=torch.long)  # unseen classes are ignored
        to_compact[classes] = torch.arange(len(classes))
        net = SmallUNet(len(classes), cfg.width).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=cfg.epochs * -(-len(train_x) // cfg.batch_size)
        )
        gen = torch.Generator().manual_seed(cfg.seed)
        started, history = time.perf_counter(), []
        for epoch in bar(
            range(cfg.epochs), desc=f"train segmenter {name}", unit="epoch", disable=None if progress else True
        ):
            net.train()
            order, total = torch.randperm(len(train_x), generator=gen), 0.0
            for start in range(0, len(order), cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                x = normalize(train_x[idx].to(dev))
                if torch.rand(1, generator=gen).item() < 0.5:  # street scenes are left-right symmetric
                    x, y = x.flip(-1), train_y[idx].flip(-1)
                else:
                    y = train_y[idx]
                loss = F.cross_entropy(net(x), to_compact[y.long()].to(dev), ignore_index=-100)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
            history.append(round(total / len(train_x), 4))
            if cfg.max_seconds is not None and time.perf_counter() - started > cfg.max_seconds:
                break
        seconds = time.perf_counter() - started
        net.eval()
        lookup = torch.tensor(classes, dtype=torch.uint8, device=dev)
        with torch.no_grad():
            preds = torch.cat(
                [lookup[net(normalize(test_x[i : i + 64].to(dev))).argmax(1)].cpu() for i in range(0, len(test_x), 64)]
            )
        metrics = evaluate(preds, test_y)
        metrics.update(
            {
                "epochs_run": len(history),
                "train_loss": history,
                "seconds": round(seconds, 2),
                "n_train": len(train_x),
                "n_test": len(test_x),
                "dataset": dataset,
                "evaluated_at": f"{cfg.input_size}x{cfg.input_size}",
            }
        )
        model_config = {"classes": classes, "input_size": cfg.input_size, "width": cfg.width, "train": asdict(cfg)}
        relative = Path("checkpoints") / f"segmenter-{name}.pt"
        save_trained(store.path / relative, net.cpu(), model_config)
        register_trained(store, name, str(relative), model_config, metrics)
    return metrics
