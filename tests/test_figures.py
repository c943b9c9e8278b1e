"""The image figures: grid snapping, colour tables, explanations, Fig 4 and Fig 6 as PNGs
(at least 300 x 300 and not blank), the report hook and the `cityq figure` commands."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cityq.errors import CityqError
from cityq.figures import report_figures
from cityq.figures.explanations import visual_explanations
from cityq.figures.grid_layout import grid_shape, snap_to_grid
from cityq.figures.mask_grid import MaskGridOptions, mask_grid_figure
from cityq.figures.palette import JET, heatmap
from cityq.figures.tsne_thumbs import ThumbsOptions, tsne_thumbs_figure


def _embed_helpers():
    """The tiny ingested store of test_embed.py (one builder for both files)."""
    spec = importlib.util.spec_from_file_location("embed_helpers", Path(__file__).with_name("test_embed.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    from cityq.pipeline.embed import EmbedOptions, embed_model

    store, _ = _embed_helpers().build_ingested_store(tmp_path_factory.mktemp("figures"))
    embed_model(store, EmbedOptions("m-a", perplexity=5, progress=False, n_jobs=1))
    yield store
    store.close()


def assert_real_figure(image: Image.Image) -> None:
    assert image.width >= 300 and image.height >= 300
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    assert pixels.std() > 20  # not blank
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 20  # pictures and heat maps, not a few flat boxes


def test_snap_to_grid_gives_distinct_cells_near_the_points():
    rng = np.random.default_rng(0)
    xy = np.concatenate([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + [8, 0]])
    cols, rows = grid_shape(xy)
    assert cols * rows >= len(xy) and cols > rows  # wide map, wide grid
    cells = snap_to_grid(xy, cols, rows)
    assert len({tuple(c) for c in cells}) == len(xy)  # no overlaps
    left = cells[:60, 0].mean() < cells[60:, 0].mean()
    assert left and cells[:60, 0].max() < cells[60:, 0].min() + 2  # the clusters stay apart


def test_snap_keeps_up_as_up():
    cells = snap_to_grid(np.array([[0.0, 1.0], [0.0, 0.0]]), 1, 2)
    assert cells.tolist() == [[0, 0], [0, 1]]  # row 0 is the top


def test_heatmap_and_explanations():
    masks = torch.tensor([[[0.0, 0.49], [0.5, 1.0]]])
    heat = heatmap(masks)
    assert heat.shape == (1, 3, 2, 2) and heat.dtype == torch.uint8
    assert tuple(heat[0, :, 0, 0].tolist()) == tuple(JET[0]) and heat[0, 2, 0, 0] > heat[0, 0, 0, 0]  # blue
    assert heat[0, 0, 1, 1] > heat[0, 2, 1, 1]  # red at 1
    images = torch.full((1, 3, 2, 2), 200, dtype=torch.uint8)
    shown = visual_explanations(images, masks, threshold=0.5, darken=0.1)
    assert shown[0, 0].tolist() == [[20, 20], [200, 200]]


def test_fig4_png(embedded, tmp_path):
    image = tsne_thumbs_figure(embedded, "m-a", ThumbsOptions(n=30, thumb=24))
    assert_real_figure(image)
    with pytest.raises(CityqError, match="cityq embed --model m-b"):
        tsne_thumbs_figure(embedded, "m-b")
    with pytest.raises(CityqError, match="--n must be"):
        tsne_thumbs_figure(embedded, "m-a", ThumbsOptions(n=0))


def test_fig6_png(embedded):
    image = mask_grid_figure(embedded, MaskGridOptions(images=4))
    assert_real_figure(image)
    # 3 columns (image, m-a, m-b): the masks differ between models, so do the columns.
    pixels = np.asarray(image, dtype=np.int16)
    third = image.width // 3
    assert np.abs(pixels[60:, third:2 * third - 2] - pixels[60:, 2 * third:3 * third - 2]).mean() > 5
    with pytest.raises(CityqError, match="cityq ingest --model ghost"):
        mask_grid_figure(embedded, MaskGridOptions(models=("ghost",)))


def test_fig6_has_a_colour_bar(embedded):
    from cityq.figures.mask_grid import BAR

    image = np.asarray(mask_grid_figure(embedded, MaskGridOptions(images=2)))
    strip = image[20 + BAR[1] // 2, 4 + 12:4 + 12 + BAR[0]].astype(int)  # the bar's middle row, left to right
    expected = JET[np.round(np.linspace(0, len(JET) - 1, BAR[0])).astype(int)].astype(int)
    assert np.abs(strip - expected).max() <= 1


def test_overlay_shows_one_mask_on_its_image(embedded):
    import cityq

    image_id = int(embedded.masks("m-a")[0][0])
    heat = cityq.overlay(embedded, "m-a", image_id)
    shown = cityq.overlay(embedded, "m-a", image_id, threshold=0.5)
    assert heat.size == shown.size and heat.mode == "RGB"
    assert np.abs(np.asarray(heat, dtype=int) - np.asarray(shown, dtype=int)).mean() > 1
    with pytest.raises(CityqError, match="no finished ingest"):
        cityq.overlay(embedded, "ghost", image_id)


def test_report_figures(embedded):
    figures = report_figures(embedded)
    assert [title.split(":")[0] for title, _ in figures] == ["Fig 4", "Fig 6"]
    for _, data in figures:
        assert_real_figure(Image.open(io.BytesIO(data)))


def test_report_figures_of_an_empty_store(memory_store):
    assert report_figures(memory_store) == []


def test_cli_figures(embedded, cli, tmp_path):
    path = embedded.path
    embedded.close()  # the CLI opens the store itself (last test of the module)
    result = cli(["figure", "tsne-thumbs", "--model", "m-a", "-o", tmp_path / "fig4.png", "--n", "20", "--store", path])
    assert result.exit_code == 0, result.output
    assert_real_figure(Image.open(tmp_path / "fig4.png"))
    result = cli(
        ["figure", "masks", "-m", "m-a", "-m", "m-b", "--images", "3", "-o", tmp_path / "fig6.png", "--store", path]
    )
    assert result.exit_code == 0, result.output
    assert_real_figure(Image.open(tmp_path / "fig6.png"))
    result = cli(["figure", "masks", "-o", tmp_path / "fig6.jpg", "--store", path])
    assert result.exit_code == 1 and "PNG" in result.output
