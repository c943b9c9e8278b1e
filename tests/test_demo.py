"""`cityq demo`: the quick smoke run in the default suite; the full study and its findings
(the paper's) in the slow suite."""

from __future__ import annotations

import pytest


def test_quick_demo_runs_every_stage(tmp_path, cli):
    result = cli(["demo", "--quick", "--out", tmp_path / "demo", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "demo"
    assert (out / "report.html").stat().st_size > 10_000
    assert any((out / "charts").glob("*.png"))
    assert "Top objects by lift" in result.stdout and "architecture" in result.stdout
    # The printout shows the lift's lower bound and support, and p with what it rests on.
    for column in ("lift_low", "n_images_with", "p_value", "min_p", "n_relabellings", "mean_ar_common"):
        assert column in result.stdout, column
    assert "Try next:" in result.stdout
    assert "What the models rely on" in result.stdout and "top_reliance" in result.stdout
    from cityq.store import Store

    with Store(out / "store", read_only=True) as store:
        assert len(store.query("top objects", k=2)) > 0
        assert store.query("ar arch vs seed")["comparison"].tolist() == ["architecture", "seed"]
        assert len(store.query("embedding")) > 0
        assert set(store.query("rpc vs reliance")["model"]) == {"resnet18-s0", "resnet18-s1"}
    # A second run resumes: nothing is trained or ingested again.
    again = cli(["demo", "--quick", "--out", out, "--device", "cpu"])
    assert again.exit_code == 0
    with Store(out / "store", read_only=True) as store:
        runs = store.fetch_df("SELECT stage, count(*) AS n FROM runs WHERE stage IN ('train', 'ingest', 'reliance') "
                              "GROUP BY stage")
        assert dict(zip(runs["stage"], runs["n"])) == {"train": 4, "ingest": 4, "reliance": 2}


@pytest.mark.slow
def test_full_demo_reproduces_the_papers_findings(tmp_path):
    """VGG11 and ResNet18 put each city's planted objects on top by lift, and AR between
    architectures exceeds AR between seeds (docs/reproduction.md)."""
    from cityq.pipeline.demo import DemoConfig, run_demo

    result = run_demo(DemoConfig(out=tmp_path / "demo"), progress=False)
    planted = {"tokyo": {"signboard", "fence"}, "pittsburgh": {"skyscraper", "earth"}}
    top = result.top_objects
    for model in ("vgg11-s0", "vgg11-s1", "resnet18-s0", "resnet18-s1"):
        for city, objects in planted.items():
            rows = top[(top["model"] == model) & (top["city"] == city) & (top["segmenter"] == "labels")]
            assert set(rows.sort_values("rank")["object"].head(2)) == objects, (model, city, rows)
    table = result.arch_vs_seed.set_index("comparison")
    assert table.loc["architecture", "mean_ar"] > table.loc["seed", "mean_ar"]
