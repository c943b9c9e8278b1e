"""The training configuration: kept apart from the training loop so that reading its defaults
(the CLI does, to show them in --help) does not import torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    dataset: str
    arch: str
    seed: int = 0
    # schedule
    epochs: int = 12  # passes over the train split
    lr: float = 1e-4  # Adam's initial learning rate (paper)
    lr_step: int = 10  # epochs between learning-rate decays (paper)
    lr_gamma: float = 0.1  # decay factor (paper)
    # data
    img_size: int = 64  # square input side; images are squashed, not cropped
    batch_size: int = 32
    augment: bool = True  # random flips and shifts of training images (see pipeline/augment.py)
    # bf16 autocast of the forward pass; weights, optimiser and evaluation stay fp32. "auto" takes
    # bf16 where the hardware runs it natively (1.3-1.9x more images/s on this CPU, docs/benchmarks.md).
    precision: str = "auto"  # auto | fp32 | bf16
    # where
    device: str = "auto"  # auto | cpu | cuda
    decode: str = "auto"  # auto | pil | torch: who decodes images not cached yet (auto: torch on a GPU)
    num_threads: int | None = None  # torch CPU threads; None keeps torch's default
    name: str | None = None  # default "<arch>-s<seed>"

    @property
    def model_name(self) -> str:
        return self.name or f"{self.arch}-s{self.seed}"
