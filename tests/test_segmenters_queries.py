"""The named query `rpc segmenter sensitivity` on hand-written rows with known answers."""

from __future__ import annotations

import pytest

from cityq.store import Store


@pytest.fixture
def store():
    s = Store(":memory:")
    yield s
    s.close()


def test_rpc_segmenter_sensitivity(store):
    con = store.con
    con.execute("INSERT INTO datasets VALUES ('d', '/x', ['a','b'], 0, NULL, NULL, current_timestamp)")
    con.execute("INSERT INTO models (model, arch, dataset, cities, img_size, source, checkpoint, created_at) "
                "VALUES ('m', 'simple', 'd', ['a', 'b'], 10, 'imported', 'm.pt', current_timestamp)")
    for image_id, city in [(1, "a"), (2, "a"), (3, "b")]:
        con.execute("INSERT INTO images (image_id, dataset, city, path, width, height, sha256, place_id, split, "
                    "labels_path, added_at) VALUES (?, 'd', ?, ?, 10, 10, 'h', ?, 'test', NULL, current_timestamp)",
                    [image_id, city, f"{city}/{image_id}.png", str(image_id)])
    for seg_id, segmenter in [(1, "labels"), (2, "unet")]:
        con.execute("INSERT INTO segmentations VALUES (?, ?, 'd', 10, 10, ?, current_timestamp)",
                    [seg_id, segmenter, f"segmentations/{seg_id}"])
        con.execute("INSERT INTO ingests VALUES (?, 'm', 'test', 'true', ?, [0.25, 0.5], 10, 10, 5, 5, 8, 3, "
                    "'masks/x', 'done', NULL, current_timestamp, current_timestamp)", [seg_id, seg_id])
        for image_id in (1, 2, 3):
            con.execute(
                "INSERT INTO mask_images VALUES (?, ?, ?, 0, 0, [50, 30], 40.0)", [seg_id, image_id, image_id - 1]
            )
    # object 32 (fence) in city a: labels N = 40 + 20, M(0.5) = 30 + 0; unet N = 30 + 30, M(0.5) = 25 + 15.
    rows = [
        (1, 1, 32, 40, [35, 30]),
        (1, 2, 32, 20, [5, 0]),
        (2, 1, 32, 30, [20, 25]),
        (2, 2, 32, 30, [20, 15]),
        (1, 3, 2, 100, [60, 50]),
        (2, 3, 2, 90, [60, 45]),
    ]
    for ingest_id, image_id, obj, n, m in rows:
        con.execute("INSERT INTO object_counts VALUES (?, ?, ?, ?, 0.0, ?)", [ingest_id, image_id, obj, n, m])
    out = store.query("rpc segmenter sensitivity", threshold=0.5, min_mean_pixels=0)
    fence = out[(out.city == "a") & (out.object == "fence")].iloc[0]
    assert fence.segmenter == "unet" and fence.model == "m"
    assert fence.rpc_labels == pytest.approx(30 / 60) and fence.rpc_segmenter == pytest.approx(40 / 60)
    assert fence.rpc_difference == pytest.approx(10 / 60)
    sky = out[(out.city == "b") & (out.object == "sky")].iloc[0]
    assert sky.rpc_labels == pytest.approx(0.5) and sky.rpc_segmenter == pytest.approx(0.5)
    assert sky.mean_pixels_labels == 100 and sky.mean_pixels_segmenter == 90
    at_quarter = store.query("rpc segmenter sensitivity", threshold=0.25, min_mean_pixels=0)
    fence = at_quarter[at_quarter.object == "fence"].iloc[0]
    assert fence.rpc_labels == pytest.approx(40 / 60) and fence.rpc_segmenter == pytest.approx(40 / 60)
    assert fence.rpc_difference == pytest.approx(0)
    # The object filter uses the true labels' mean N per image of the city (fence: 60 / 2 = 30).
    filtered = store.query("rpc segmenter sensitivity", threshold=0.5, min_mean_pixels=31)
    assert "fence" not in set(filtered.object)
