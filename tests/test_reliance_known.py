"""Known answer (a): a fixed network that looks only at one class's pixels.

The network scores the share of pixels in one colour range (magenta, painted onto every
signboard of real synthetic scenes): removing the signboards must flip its prediction, removing
anything else must not lower its p_true, and its Grad-CAM must put signboard first by lift.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cityq.imaging import IMAGENET_MEAN, IMAGENET_STD, normalize
from cityq.objects import object_index
from cityq.pipeline.gradcam import gradcam_masks
from cityq.reliance.control import control_region, control_seed
from cityq.reliance.removal import from_uint8, impute, to_uint8
from cityq.synth import generate_dataset
from cityq.synth.replay import BACKDROP, Replayer, SynthRecord

SIGN = object_index("signboard")
BACKDROP_IDS = {object_index(n) for n in BACKDROP}
MAGENTA = np.array([255, 0, 255], np.uint8)
TOKYO, PITTSBURGH = 0, 1


class ColourShare(nn.Module):
    """logit(tokyo) = gain * (share of pixels within L1 `tolerance` of `colour` - `share0`);
    logit(pittsburgh) = -logit(tokyo). Input: ImageNet-normalised, as every cityq model's."""

    def __init__(self, colour=(1.0, 0.0, 1.0), tolerance=0.3, gain=400.0, share0=0.01, tokyo=TOKYO):
        super().__init__()
        mean, std, colour = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD), torch.tensor(colour)
        self.difference = nn.Conv2d(3, 6, 1)  # +-(pixel - colour) per channel, in [0, 1] units
        self.split = nn.ReLU()
        self.closeness = nn.Conv2d(6, 1, 1)  # 1 - L1 distance / tolerance
        self.indicator = nn.ReLU()  # the Grad-CAM target layer: 1 on the colour, 0 away from it
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1, 2)
        with torch.no_grad():
            w = torch.zeros(6, 3, 1, 1)
            for c in range(3):
                w[2 * c, c], w[2 * c + 1, c] = std[c], -std[c]
            b = torch.stack([mean - colour, colour - mean], dim=1).flatten()
            self.difference.weight.copy_(w)
            self.difference.bias.copy_(b)
            self.closeness.weight.fill_(-1.0 / tolerance)
            self.closeness.bias.fill_(1.0)
            sign = torch.tensor([1.0, -1.0] if tokyo == 0 else [-1.0, 1.0])
            self.fc.weight.copy_(gain * sign[:, None])
            self.fc.bias.copy_(-gain * share0 * sign)

    def forward(self, x):
        share = self.pool(self.indicator(self.closeness(self.split(self.difference(x))))).flatten(1)
        return self.fc(share)


def _magenta_signs(rgb, labels):
    out = rgb.copy()
    out[labels == SIGN] = MAGENTA
    return out


def _p_true(model, images, cities):
    x = normalize(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous())
    with torch.no_grad():
        p = torch.softmax(model(x), dim=1)
    return p[torch.arange(len(cities)), torch.tensor(cities)].numpy(), p.argmax(1).numpy()


def _lift(masks, labels, threshold):
    """Per class: R_pc / (the N-weighted mean explanation area), brute force over images."""
    inside = masks >= threshold
    area = inside.mean(axis=(1, 2))
    lift = {}
    for k in np.unique(labels):
        n = (labels == k).sum(axis=(1, 2))
        m = ((labels == k) & inside).sum(axis=(1, 2))
        chance = (area * n).sum() / n.sum()
        lift[int(k)] = (m.sum() / n.sum()) / chance if chance > 0 else 0.0
    return lift


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("known")
    generate_dataset(root, per_city=10, size=64, seed=4, progress=False)
    replayer = Replayer(SynthRecord.read(root))
    out = []
    for city, index in (("tokyo", TOKYO), ("pittsburgh", PITTSBURGH)):
        for place in range(10):
            rel = f"{city}/{place:06d}.png"
            drawn = replayer.draw(rel)
            if city == "pittsburgh" or (drawn.labels == SIGN).mean() > 0.02:
                out.append((rel, index, drawn.rgb, drawn.labels))
    assert sum(c == TOKYO for _, c, _, _ in out) >= 4
    return replayer, out


def test_removing_the_one_class_the_net_uses_flips_it_and_nothing_else_lowers_it(scenes):
    replayer, items = scenes
    model = ColourShare().eval()
    images, cities, cases = [], [], []  # one forward pass over every variant
    for rel, city, rgb, labels in items:
        original = _magenta_signs(rgb, labels)
        images.append(original)
        cities.append(city)
        cases.append((rel, city, None, "original"))
        for k in sorted(set(np.unique(labels).tolist())):
            if k not in BACKDROP_IDS:
                redrawn = replayer.draw(rel, [k])
                images.append(_magenta_signs(redrawn.rgb, redrawn.labels))
                cases.append((rel, city, k, "redraw"))
            images.append(to_uint8(impute(from_uint8(original), labels == k, rng=np.random.default_rng(k))))
            cases.append((rel, city, k, "impute"))
            # The control (the shape moved off the object) changes nothing for this net.
            region = control_region(labels == k, control_seed(rel, k))
            if not (region.mask & (labels == SIGN)).any():
                images.append(to_uint8(impute(from_uint8(original), region.mask, rng=np.random.default_rng(k))))
                cases.append((rel, city, k, "control"))
            cities += [city] * (len(images) - len(cities))
    p, pred = _p_true(model, images, cities)
    flips = kept = 0
    before = {}
    for (rel, city, k, what), p1, pred1 in zip(cases, p, pred):
        if what == "original":
            assert pred1 == city  # right on every image: signs (> 2%) in tokyo, none in pittsburgh
            before[rel] = p1
        elif what == "control":
            assert abs(p1 - before[rel]) < 1e-6
        elif k == SIGN:
            assert city == TOKYO and pred1 == PITTSBURGH and p1 < 0.01, (rel, what)
            flips += 1
        else:  # nothing else is magenta: equal, or higher where a removed object hid a sign
            assert pred1 == city and p1 >= before[rel] - 1e-6, (rel, k, what, before[rel], p1)
            kept += 1
    assert flips >= 8 and kept >= 60


def test_grad_cam_of_the_fixed_net_ranks_the_class_it_uses_first_by_lift(scenes):
    _, items = scenes
    tokyo = [(rgb, labels) for _, city, rgb, labels in items if city == TOKYO]
    model = ColourShare()
    painted = np.stack([_magenta_signs(r, lab) for r, lab in tokyo])
    x = normalize(torch.from_numpy(painted).permute(0, 3, 1, 2).contiguous())
    masks, _ = gradcam_masks(model, model.indicator, x, torch.full((len(tokyo),), TOKYO))
    lift = _lift(masks.numpy(), np.stack([lab for _, lab in tokyo]), threshold=0.5)
    ranked = sorted(lift, key=lift.get, reverse=True)
    assert ranked[0] == SIGN and lift[SIGN] > 5 and max(v for k, v in lift.items() if k != SIGN) < 1


def test_through_the_store_the_fixed_net_relies_on_signboard_and_grad_cam_agrees(tmp_path, cli):
    """The same known answer through `cityq reliance`, the ingest and the queries: signboard
    tops both Grad-CAM's lift and the reliance ranking in tokyo, and removing it flips every
    tokyo image that shows one. Images on disk carry magenta signs, so removal is by impute."""
    from PIL import Image

    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import register_arch

    # The store's cities are sorted: pittsburgh 0, tokyo 1.
    register_arch("test-colour-share", "indicator", "test only: scores the share of magenta pixels")(
        lambda n: ColourShare(share0=0.002, tokyo=1))
    root = tmp_path / "images"
    generate_dataset(root, per_city=20, size=64, seed=5, progress=False)
    for path in root.rglob("*.labels.png"):
        image = path.with_name(path.name.replace(".labels", ""))
        labels = np.asarray(Image.open(path))
        Image.fromarray(_magenta_signs(np.asarray(Image.open(image)), labels)).save(image)
    weights = tmp_path / "colour.pt"
    save_checkpoint(weights, ColourShare(share0=0.002, tokyo=1), "test-colour-share", 2, {"img_size": 64})
    store = tmp_path / "store"
    for args in (["dataset", "add", root, "--name", "painted"],
                 ["model", "import", "--arch", "test-colour-share", "--checkpoint", weights, "--name", "colour",
                  "--dataset", "painted"],
                 ["ingest", "--model", "colour", "--device", "cpu"],
                 ["reliance", "--model", "colour", "--method", "impute", "--device", "cpu"]):
        result = cli([*args, "--store", store])
        assert result.exit_code == 0, result.output
    from cityq.store import Store

    with Store(store, read_only=True) as opened:
        versus = opened.query("rpc vs reliance", model="colour", n_boot=0).set_index("city")
        by_city = opened.query("reliance by city", model="colour", n_boot=0)
    assert versus.loc["tokyo", "top_lift"].split(", ")[0] == "signboard"
    assert versus.loc["tokyo", "top_reliance"].split(", ")[0] == "signboard"
    sign = by_city[(by_city["city"] == "tokyo") & (by_city["object"] == "signboard")].iloc[0]
    others = by_city[by_city["object"] != "signboard"]
    assert sign["flip_share"] == 1.0 and sign["net"] > 0.5
    assert (others["flip_share"] == 0).all() and (others["drop"].abs() < 1e-4).all()
    # (A large object's control can land on the signs, and its net then goes negative: the
    # control removes the same number of pixels elsewhere, whatever they show.)
