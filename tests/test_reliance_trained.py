"""Known answer (b): the demo's shallow nets that rank signboard second by lift rely on it.

simple-s0 and simpler-s0, trained exactly as `cityq demo` trains them (docs/reproduction.md:
they rank tokyo's signboard second by lift), lose more of their probability of tokyo when the
signboards are drawn out of the scene than when the same shapes are removed elsewhere: the net
drop's 95% interval lies above zero. The cheapest honest setup is the demo's own: its data,
its training, seed 0; only the removal is narrowed to the one object asked about. 6.2 minutes
on the shared 2-core machine at load 8-9 (2026-12-02), so it is slow.
"""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_shallow_nets_that_rank_signboard_second_rely_on_it(tmp_path):
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.demo import DemoConfig
    from cityq.pipeline.ingest import IngestOptions, ingest_model
    from cityq.pipeline.reliance import RelianceOptions, measure_reliance
    from cityq.pipeline.train import train_model
    from cityq.pipeline.train_config import TrainConfig
    from cityq.store import Store
    from cityq.synth.writer import generate_dataset

    demo = DemoConfig(out=tmp_path)
    generate_dataset(tmp_path / "images", per_city=demo.per_city, size=demo.size, seed=demo.seed, workers=2,
                     progress=False)
    with Store.create(tmp_path / "store") as store:
        add_dataset(store, tmp_path / "images", "synth", progress=False)
        for arch in ("simple", "simpler"):
            train_model(store, TrainConfig(dataset="synth", arch=arch, seed=0, epochs=demo.epochs_for(arch),
                                           img_size=demo.img_size, batch_size=demo.batch_size, device="cpu"),
                        progress=False)
            name = f"{arch}-s0"
            ingest_model(store, name, IngestOptions(device="cpu", progress=False))
            top = store.query("top objects", k=2, model=name, segmenter="labels")
            tokyo = top[top["city"] == "tokyo"].sort_values("rank")["object"].tolist()
            assert "signboard" in tokyo, (name, tokyo)  # the demo's finding, reproduced
            measure_reliance(store, name, RelianceOptions(objects="signboard", method="redraw", device="cpu",
                                                          progress=False))
            rows = store.query("reliance by city", model=name, n_boot=400)
            sign = rows[(rows["city"] == "tokyo") & (rows["object"] == "signboard")].iloc[0]
            assert sign["n_images"] >= 30
            assert sign["net_low"] > 0, sign.to_dict()  # above the control, beyond the resampling noise
            assert sign["drop"] > sign["control_drop"]
