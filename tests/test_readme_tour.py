"""The README's tour, run as written but scaled down: every command in its bash block, in order,
with smaller images, fewer images and one epoch. A command added to the tour runs here too; a
scaling rule that no longer matches the README fails, so the tour and this test cannot drift.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

# README text -> what the test runs instead: the same commands at a size that takes seconds.
SCALE = {
    "--per-city 600": "--per-city 15",
    "--size 128": "--size 32",
    "--img-size 128": "--img-size 32",
    "--epochs 4": "--epochs 1",
    "--epochs 10": "--epochs 1 --input-size 32 --max-seconds 20",
    "~/weights/ade20k-resnet50dilated-ppm_deepsup": "{weights}/ade20k-resnet50dilated-ppm_deepsup",
    "my_resnet18.pth": "{weights}/my_resnet18.pth",
}


def tour_commands() -> list[str]:
    text = README.read_text()
    section = text.split("## A tour, step by step", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def _weights(folder: Path) -> None:
    """What the tour expects on disk: a state_dict of a resnet18 trained elsewhere, and an
    ADE20K mit-semseg checkpoint folder (random weights in the real format)."""
    import torch

    from cityq.models.registry import create_model
    from cityq.segmenters.mit_semseg import build_mit_semseg

    torch.manual_seed(0)
    torch.save(create_model("resnet18", 2).state_dict(), folder / "my_resnet18.pth")
    encoder, decoder = build_mit_semseg("resnet50dilated", "ppm_deepsup")
    mit = folder / "ade20k-resnet50dilated-ppm_deepsup"
    mit.mkdir()
    torch.save(encoder.state_dict(), mit / "encoder_epoch_20.pth")
    torch.save(decoder.state_dict(), mit / "decoder_epoch_20.pth")


def test_every_scaling_rule_still_matches_the_readme():
    tour = "\n".join(tour_commands())
    assert tour_commands()[0].startswith("cityq synth")
    for written in SCALE:
        assert written in tour, f"the README's tour no longer says {written!r}: update SCALE"


def test_the_readme_tour_runs(cli, tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    weights.mkdir()
    _weights(weights)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CITYQ_STORE", str(tmp_path / "cityq-store"))
    monkeypatch.setenv("CITYQ_PROGRESS", "0")
    outputs: dict[str, str] = {}
    for line in tour_commands():
        for written, scaled in SCALE.items():
            line = line.replace(written, scaled.format(weights=weights))
        words = shlex.split(line)
        target = None
        if ">" in words:  # `cityq ... > file`: what the shell would do with stdout
            target = words[words.index(">") + 1]
            words = words[: words.index(">")]
        assert words[0] == "cityq"
        args = words[1:]
        if args[0] == "embed":  # t-SNE needs more than 3 x perplexity images; the tour's test split has 6
            args += ["--perplexity", "1"]
        result = cli(args)
        assert result.exit_code == 0, f"`{line}` failed:\n{result.output}"
        if target:
            Path(target).write_text(result.stdout)
        outputs[line] = result.output
    # The tour's promises: AR for every pair of same-size models, and the files it names.
    ingest = next(out for line, out in outputs.items() if line.startswith("cityq ingest --model vgg11-s0"))
    assert re.search(r"AR resnet18-s0 vs vgg11-s0: \d", ingest) and re.search(r"AR mine vs (vgg11|resnet18)-s0", ingest)
    assert "no AR" not in ingest
    for name in ("rpc.csv", "ar.parquet", "fig5.html", "sweep.png", "fig4.png", "fig6.png", "report.html"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "rpc.csv").read_text().startswith("model,segmenter,city,object")


def test_ingest_says_why_a_pair_has_no_ar(cli, tiny_ingested, copy_store, tmp_path):
    """Models of another input size get no AR with this one, and the ingest says so."""
    import torch

    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model

    store = copy_store(tiny_ingested)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "big.pt", create_model("simple", 2), "simple", 2, {"img_size": 96})
    assert cli(["model", "import", "--arch", "simple", "--checkpoint", tmp_path / "big.pt", "--name", "big",
                "--dataset", "tiny", "--device", "cpu", "--store", store]).exit_code == 0
    result = cli(["ingest", "-m", "big", "--device", "cpu", "--batch-size", "4", "--store", store])
    assert result.exit_code == 0, result.output
    for other in ("resnet18-s0", "resnet18-s1", "simple-s0"):
        assert f"no AR big vs {other}: its masks are 64x64 px and these 96x96" in result.stderr
    assert "--img-size" in result.stderr


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
