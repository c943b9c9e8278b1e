"""`cityq demo`: the whole study on synthetic cities, in one command (SPEC: the embedded default).

Generate the cities, register them, train every architecture with two seeds, ingest them all
(the dataset's labels as segmenter, and the segmenter cityq trains itself where it fits the
time), embed, write the charts, figures and the report, and print the headline tables. Each
stage is resumable, so a demo that was interrupted continues where it stopped.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

ARCHS = ("vgg11", "resnet18", "simple", "simpler")


@dataclass
class DemoConfig:
    out: Path = Path("cityq-demo")  # images/, store/, report.html, charts/, figures/
    spec: str | None = None  # city spec TOML; None = the default (tokyo, pittsburgh)
    per_city: int = 450  # synthetic images per city (6:2:2 split)
    size: int = 112  # generated image side, px
    img_size: int = 112  # the models' input side, px (VGG11: 7x7 CAMs, ResNet18: 4x4; at 96 px 3x3)
    archs: tuple[str, ...] = ARCHS
    seeds: tuple[int, ...] = (0, 1)  # "retrained" copies: same arch, other seed
    epochs: int = 4
    # The CPU budget goes where it buys the most: VGG11 costs 5x a ResNet18 per image and peaks
    # in validation at epoch 3 (both seeds); ResNet18 is cheap and still gains. Others: `epochs`.
    epochs_by_arch: dict[str, int] = field(default_factory=lambda: {"vgg11": 3, "resnet18": 6})
    batch_size: int = 32
    trained_segmenter: bool = True  # also train cityq's small segmenter and ingest with it
    segmenter_epochs: int = 6
    segmenter_seconds: float = 30.0  # the small segmenter stops after the epoch crossing this
    embed_model: str = "vgg11-s0"
    # Reliance by removal (redraw, filtered objects) for these architectures, on a fixed subset of
    # each city's test images: the removed images are made once and every model reuses them.
    reliance_archs: tuple[str, ...] = ("vgg11", "resnet18")
    reliance_images_per_city: int | None = 50  # None: the whole test split
    seed: int = 0  # generator seed
    device: str = "auto"

    def epochs_for(self, arch: str) -> int:
        return self.epochs_by_arch.get(arch, self.epochs)

    @classmethod
    def paper_scale(cls, out: Path) -> "DemoConfig":
        """The paper's configuration, for a GPU: 224 px, 10,000 images per city, 30 epochs."""
        return cls(out=out, per_city=10_000, size=224, img_size=224, epochs=30, epochs_by_arch={}, batch_size=64,
                   segmenter_epochs=12, segmenter_seconds=600.0)

    @classmethod
    def quick(cls, out: Path) -> "DemoConfig":
        """A smoke run: the same pipeline on a small data set, two minutes on a laptop CPU."""
        return cls(out=out, per_city=40, size=64, img_size=64, epochs=1, epochs_by_arch={}, trained_segmenter=False,
                   archs=("resnet18", "simple"), embed_model="resnet18-s0", reliance_images_per_city=None)


@dataclass
class DemoResult:
    store: Path
    report: Path
    stage_seconds: dict[str, float] = field(default_factory=dict)
    top_objects: pd.DataFrame | None = None
    arch_vs_seed: pd.DataFrame | None = None
    reliance: pd.DataFrame | None = None  # `rpc vs reliance` (redraw): top three each way, Spearman


class _Stages:
    """Times each stage and tells `say` what it is doing (the CLI prints it; a library stays quiet)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.seconds: dict[str, float] = {}
        self.say = say

    @contextlib.contextmanager
    def __call__(self, name: str):
        self.say(f"[demo] {name} ...")
        started = time.perf_counter()
        yield
        spent = time.perf_counter() - started
        self.seconds[name] = self.seconds.get(name, 0.0) + spent
        self.say(f"[demo] {name}: {spent:.1f} s")


def run_demo(config: DemoConfig, progress: bool | None = None,
             say: Callable[[str], None] = lambda message: None) -> DemoResult:
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.ingest import IngestOptions, ingest_model
    from cityq.pipeline.train import train_model
    from cityq.pipeline.train_config import TrainConfig
    from cityq.store import Store
    from cityq.store.datasets import count_images
    from cityq.store.models import existing_model
    from cityq.store.segmenters import segmenter_row
    from cityq.synth.writer import generate_dataset

    out = Path(config.out)
    images, store_path = out / "images", out / "store"
    stage = _Stages(say)
    show = progress is not False
    with stage("generate synthetic cities"):
        if not (images / "synth.json").exists():
            generate_dataset(images, spec=config.spec, per_city=config.per_city, size=config.size,
                             seed=config.seed, workers=2, progress=show)
    with Store.create(store_path) as store:
        with stage("register dataset"):
            add_dataset(store, images, "synth", progress=show)
        models = []
        for arch in config.archs:
            for seed in config.seeds:
                name = f"{arch}-s{seed}"
                with stage(f"train {name}"):
                    if existing_model(store, name) is None:
                        train_model(store, TrainConfig(
                            dataset="synth", arch=arch, seed=seed, epochs=config.epochs_for(arch),
                            img_size=config.img_size, batch_size=config.batch_size, device=config.device),
                            progress=show)
                models.append(name)
        options = IngestOptions(device=config.device, progress=progress)
        for name in models:
            with stage(f"ingest {name}"):
                ingest_model(store, name, options)
        if config.trained_segmenter:
            from cityq.segmenters.train_segmenter import SegmenterTrainConfig, train_segmenter

            with stage("train the small segmenter"):
                if segmenter_row(store, "small-seg") is None:
                    seg_config = SegmenterTrainConfig(
                        epochs=config.segmenter_epochs,
                        input_size=min(96, config.img_size),
                        max_seconds=config.segmenter_seconds,
                    )
                    train_segmenter(
                        store, "synth", name="small-seg", config=seg_config, device=config.device, progress=show
                    )
            seg_options = IngestOptions(segmenter="small-seg", device=config.device, progress=progress)
            for name in models:
                if name.split("-")[0] in ("vgg11", "resnet18"):
                    with stage(f"ingest {name} (small-seg)"):
                        ingest_model(store, name, seg_options)
        from cityq.pipeline.reliance import RelianceOptions, measure_reliance

        removal = RelianceOptions(method="redraw", objects="filtered", images_per_city=config.reliance_images_per_city,
                                  device=config.device, progress=progress)
        for name in models:
            if name.split("-")[0] in config.reliance_archs:
                with stage(f"reliance {name} (redraw)"):
                    measure_reliance(store, name, removal)
        if config.embed_model in models:
            from cityq.pipeline.embed import EmbedOptions, embed_model

            with stage(f"embed {config.embed_model}"):
                # t-SNE needs more than 3 x perplexity points: the quick run has few test images.
                n_test = count_images(store, split="test")
                embed_model(
                    store,
                    EmbedOptions(config.embed_model, perplexity=min(30.0, max(2.0, (n_test - 1) // 3)), progress=show),
                )
        with stage("charts, figures and report"):
            report = write_outputs(store, out)
        top = store.query("top objects", k=3, segmenter="labels")
        arch_vs_seed = store.query("ar arch vs seed")
        reliance = store.query("rpc vs reliance", method="redraw", segmenter="labels")
    return DemoResult(
        store=store_path, report=report, stage_seconds=stage.seconds, top_objects=top, arch_vs_seed=arch_vs_seed,
        reliance=reliance,
    )


def write_outputs(store, out: Path) -> Path:
    """Every registered chart (HTML and PNG, the dataset's labels as segmenter) and the report."""
    from cityq.charts.export import save_chart
    from cityq.charts.registry import chart_names, chart_of
    from cityq.errors import CityqError
    from cityq.report import write_report

    charts = out / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    for name in chart_names():
        try:
            chart = chart_of(store, name)
        except CityqError:  # no rows for it in this store (e.g. no embedding): no chart
            continue
        stem = name.replace(" ", "_")
        save_chart(chart, charts / f"{stem}.html")
        save_chart(chart, charts / f"{stem}.png")
    return write_report(store, out / "report.html")


def config_dict(config: DemoConfig) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
