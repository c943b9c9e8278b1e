"""cityq/places.py: the place pattern, the shared-prefix heuristic, grouping by distance."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cityq.errors import CityqError
from cityq.places import compile_pattern, group_within, local_metres, mostly_alone, place_from_pattern, shared_prefixes


def test_pattern_is_matched_against_the_name_unless_told_the_path():
    pattern = compile_pattern(r"^(\d+)_pitch")
    assert place_from_pattern(pattern, "000/000123_pitch1_yaw2.jpg") == "000123"
    assert place_from_pattern(pattern, "000/000123_pitch1_yaw2.jpg", on="path") is None
    assert place_from_pattern(compile_pattern(r"^(\d+)/"), "007/x.jpg", on="path") == "007"
    assert place_from_pattern(compile_pattern(r"^(\d*)x"), "x.jpg") is None  # an empty group is no place
    with pytest.raises(CityqError, match="group"):
        compile_pattern(r"\d+")
    with pytest.raises(CityqError, match="not a valid regex"):
        compile_pattern(r"(")


def _names(fmt, places, views):
    return [fmt.format(p=p, v=v) for p in range(places) for v in range(views)]


@pytest.mark.parametrize("names", [
    _names("{p:06d}_pitch{v}_yaw1.jpg", 6, 24),  # Pittsburgh
    _names("Xy{p}_aB-c{p}dEfGhIjKlMnOpQrS_012_{v:03d}.png", 5, 12),  # Tokyo panorama ids hold _ and -
    _names("{p:06d}_{v:02d}.png", 10, 3),  # cityq synth with views
    _names("city_{p:04d}_view{v}.jpg", 4, 2),  # the place after a shared first word
])
def test_names_of_views_share_prefixes(names):
    found = shared_prefixes(names)
    assert found is not None and found.grouped == len(names)


@pytest.mark.parametrize("names", [
    _names("{p:06d}.png", 50, 1),  # cityq synth: plain numbers
    _names("IMG_{p:04d}.JPG", 50, 1),  # a camera: one shared word, one group
    ["a_1.jpg", "b_2.jpg", "c_3.jpg", "d_4.jpg", "e_5.jpg"],  # nothing shared
    ["x_1.jpg", "x_2.jpg", "y_3.jpg"],  # too few to say
])
def test_names_of_single_images_do_not(names):
    assert shared_prefixes(names) is None


def test_mostly_alone():
    assert mostly_alone(248, 232) and not mostly_alone(248, 200) and not mostly_alone(3, 3)


def test_group_within_is_single_linkage():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 200, size=(300, 2))
    labels = group_within(points, 10.0)
    # brute force: connected components of the graph "closer than 10 m"
    n = len(points)
    near = [[j for j in range(n) if np.hypot(*(points[i] - points[j])) <= 10.0] for i in range(n)]
    component = [-1] * n
    for start in range(n):
        if component[start] < 0:
            stack, component[start] = [start], start
            while stack:
                for j in near[stack.pop()]:
                    if component[j] < 0:
                        component[j] = start
                        stack.append(j)
    for i, j in itertools.combinations(range(0, n, 7), 2):
        assert (labels[i] == labels[j]) == (component[i] == component[j])


def test_local_metres():
    xy = local_metres(np.array([35.0, 35.001]), np.array([139.0, 139.0]))
    assert abs((xy[1, 1] - xy[0, 1]) - 111.2) < 0.5 and abs(xy[1, 0] - xy[0, 0]) < 1e-6
