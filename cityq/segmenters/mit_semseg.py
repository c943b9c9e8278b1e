"""The `mit-semseg` segmenter: a local CSAILVision/semantic-segmentation-pytorch checkpoint.

A folder holds `encoder_epoch_N.pth` + `decoder_epoch_N.pth` (state_dicts). The architecture
is `<encoder>-<decoder>` as in their config names (`resnet50dilated-ppm_deepsup`,
`resnet50-upernet`, ...); when not given it is read from the folder name
(`ade20k-resnet50dilated-ppm_deepsup`). Their own builder loads with strict=False and silently
accepts weights of another architecture; here every key must match (only BatchNorm's
`num_batches_tracked` bookkeeping may be missing or extra).

Inference as their test.py: RGB/255, ImageNet mean/std, short side resized to each scale (by
default one scale: the image's own short side), long side capped at 1000, sides rounded up to
the padding constant (8 dilated, 32 otherwise), PIL bilinear resize; per scale the logits are
resized bilinearly to the target size, softmaxed and averaged; argmax.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from cityq.errors import CityqError
from cityq.objects import N_CLASSES
from cityq.segmenters.mit_decoders import DECODERS, build_decoder
from cityq.segmenters.mit_encoders import RESNET_DEPTHS, ResnetEncoder
from cityq.segmenters.registry import (
    ImageBatch,
    ScoreSegmenter,
    SegmenterRecord,
    check_class_count,
    register_segmenter,
)

# Their multi-scale test sizes (config DATASET.imgSizes) and long-side cap (imgMaxSize).
PAPER_SCALES = (300, 375, 450, 525, 600)
MAX_SIZE = 1000
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ENCODERS = tuple(f"resnet{d}{s}" for d in RESNET_DEPTHS for s in ("", "dilated"))
# The key of each decoder's final classifier, to name a wrong class count before anything else.
CLASSIFIER_KEYS = {
    "c1": "conv_last.weight",
    "c1_deepsup": "conv_last.weight",
    "ppm": "conv_last.4.weight",
    "ppm_deepsup": "conv_last.4.weight",
    "upernet": "conv_last.1.weight",
    "upernet_lite": "conv_last.1.weight",
}
_ARCH_RE = re.compile(
    rf"({'|'.join(sorted(ENCODERS, key=len, reverse=True))})-({'|'.join(sorted(DECODERS, key=len, reverse=True))})"
)


def parse_arch(arch: str | None, folder: Path) -> tuple[str, str]:
    """(encoder, decoder) from `--arch`, or from the folder name as their downloads are named."""
    text = arch if arch else folder.name
    m = _ARCH_RE.fullmatch(text) if arch else _ARCH_RE.search(text)
    if not m:
        if arch:
            raise CityqError(
                f"unknown mit-semseg arch {arch!r}; use <encoder>-<decoder> with encoder in "
                f"{', '.join(ENCODERS)} and decoder in {', '.join(DECODERS)}."
            )
        raise CityqError(
            f"cannot tell the architecture of {folder} from its name; pass --arch, e.g. resnet50dilated-ppm_deepsup."
        )
    encoder, decoder = m.group(1), m.group(2)
    if decoder.startswith("upernet") and encoder.startswith("resnet18"):
        raise CityqError(f"mit-semseg has no {encoder}-{decoder}: UPerNet needs a ResNet50 or ResNet101 encoder.")
    return encoder, decoder


def find_checkpoint(folder: Path, epoch: int | None) -> tuple[int, Path, Path]:
    """(epoch, encoder file, decoder file): the highest epoch, or the one asked for."""
    if not folder.is_dir():
        raise CityqError(f"mit-semseg checkpoint folder {folder} does not exist.")
    epochs = sorted(
        int(m.group(1)) for p in folder.iterdir() if (m := re.fullmatch(r"encoder_epoch_(\d+)\.pth", p.name))
    )
    if epoch is None:
        if not epochs:
            raise CityqError(
                f"{folder} has no encoder_epoch_N.pth; a mit-semseg folder holds encoder_epoch_N.pth and "
                "decoder_epoch_N.pth."
            )
        epoch = epochs[-1]
    encoder, decoder = folder / f"encoder_epoch_{epoch}.pth", folder / f"decoder_epoch_{epoch}.pth"
    for p in (encoder, decoder):
        if not p.is_file():
            raise CityqError(
                f"mit-semseg checkpoint folder {folder} has no {p.name}; it needs encoder_epoch_N.pth and "
                "decoder_epoch_N.pth."
            )
    return epoch, encoder, decoder


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors all mean the same thing to the user
        raise CityqError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}".splitlines()[0]) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CityqError(f"checkpoint {path} holds a {type(state).__name__}, not a state_dict.")
    return state


# Buffers that carry no weights: BatchNorm's counter (absent before torch 0.4.1) and the
# running-average scratch of their SynchronizedBatchNorm2d (present only in some releases).
BN_BOOKKEEPING = ("num_batches_tracked", "_tmp_running_mean", "_tmp_running_var", "_running_iter")


def _is_bookkeeping(key: str, bn_prefixes: set[str]) -> bool:
    prefix, _, name = key.rpartition(".")
    return name in BN_BOOKKEEPING and prefix in bn_prefixes


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], path: Path, arch: str) -> None:
    bn_prefixes = {n for n, m in module.named_modules() if isinstance(m, nn.BatchNorm2d)}
    expected = {k: v for k, v in module.state_dict().items() if not _is_bookkeeping(k, bn_prefixes)}
    given = {k: v for k, v in state.items() if not _is_bookkeeping(k, bn_prefixes)}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(given) if tuple(expected[k].shape) != tuple(given[k].shape))
    if missing or unexpected or wrong_shape:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {keys[0]})")
        raise CityqError(
            f"{path} does not hold {arch} weights: {'; '.join(parts)}; pass the --arch it was trained with."
        )
    module.load_state_dict(given, strict=False)  # strictness checked above, bookkeeping excepted


def round_up(x: int, p: int) -> int:
    return ((x - 1) // p + 1) * p


def input_size(height: int, width: int, short_side: int | None, max_size: int, padding: int) -> tuple[int, int]:
    """Their TestDataset arithmetic, including int() truncation before rounding up."""
    short = short_side if short_side is not None else min(height, width)
    scale = min(short / float(min(height, width)), max_size / float(max(height, width)))
    return round_up(int(height * scale), padding), round_up(int(width * scale), padding)


class MitSemsegSegmenter(ScoreSegmenter):
    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, padding: int, scales, device: torch.device, config: dict
    ):
        self.encoder = encoder.to(device).eval()
        self.decoder = decoder.to(device).eval()
        self.padding = padding
        self.scales = tuple(scales) if scales else (None,)  # None = the image's own short side
        self.device = device
        self.config = config
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    def _prepare(self, image: np.ndarray, short_side: int | None) -> torch.Tensor:
        h, w = image.shape[:2]
        th, tw = input_size(h, w, short_side, MAX_SIZE, self.padding)
        # PIL's bilinear (antialiased on downscale) is what their loader uses; torch's differs.
        resized = np.asarray(Image.fromarray(image).resize((tw, th), Image.BILINEAR), dtype=np.float32)
        return torch.from_numpy(resized / 255.0).permute(2, 0, 1)

    @torch.no_grad()
    def scores(self, batch: ImageBatch, height: int, width: int) -> torch.Tensor:
        n = len(batch.images)
        total = torch.zeros(n, N_CLASSES, height, width, device=self.device)
        for short_side in self.scales:
            prepared = [self._prepare(img, short_side) for img in batch.images]
            # Images resized to the same shape run as one batch (eval-mode BN is per-image).
            groups: dict[tuple[int, int], list[int]] = {}
            for i, t in enumerate(prepared):
                groups.setdefault(tuple(t.shape[1:]), []).append(i)
            for idx in groups.values():
                x = torch.stack([prepared[i] for i in idx]).to(self.device)
                x = (x - self.mean) / self.std
                logits = self.decoder(self.encoder(x))
                logits = F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)
                total[idx] += F.softmax(logits, dim=1) / len(self.scales)
        return total


def build_mit_semseg(encoder_name: str, decoder_name: str, num_class: int = N_CLASSES) -> tuple[nn.Module, nn.Module]:
    depth = int(re.match(r"resnet(\d+)", encoder_name).group(1))
    encoder = ResnetEncoder(depth, dilated=encoder_name.endswith("dilated"))
    decoder = build_decoder(decoder_name, num_class, fc_dim=encoder.out_channels)
    return encoder, decoder


@register_segmenter("mit-semseg")
def load_mit_semseg(record: SegmenterRecord, store_root: Path | None, device: torch.device) -> MitSemsegSegmenter:
    folder = record.resolved_path(store_root)
    if folder is None:
        raise CityqError(
            "a mit-semseg segmenter needs --path, the folder with encoder_epoch_N.pth and decoder_epoch_N.pth."
        )
    cfg = record.config or {}
    encoder_name, decoder_name = parse_arch(cfg.get("arch"), folder)
    arch = f"{encoder_name}-{decoder_name}"
    epoch, encoder_file, decoder_file = find_checkpoint(folder, cfg.get("epoch"))
    encoder_state, decoder_state = _read_state(encoder_file), _read_state(decoder_file)
    classifier = decoder_state.get(CLASSIFIER_KEYS[decoder_name])
    if classifier is not None and classifier.ndim == 4:
        check_class_count(int(classifier.shape[0]), f"mit-semseg checkpoint {decoder_file}")
    encoder, decoder = build_mit_semseg(encoder_name, decoder_name)
    load_strict(encoder, encoder_state, encoder_file, arch)
    load_strict(decoder, decoder_state, decoder_file, arch)
    scales = cfg.get("scales")
    scales = (
        {None: None, "native": None, "paper": PAPER_SCALES}.get(scales, scales)
        if not isinstance(scales, list)
        else scales
    )
    padding = 8 if encoder_name.endswith("dilated") else 32
    resolved = {
        "arch": arch,
        "epoch": epoch,
        "scales": list(scales) if scales else "native",
        "padding": padding,
        "max_size": MAX_SIZE,
    }
    return MitSemsegSegmenter(encoder, decoder, padding, scales, device, resolved)
