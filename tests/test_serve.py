"""`cityq serve` over HTTP: a real server (a subprocess on 127.0.0.1) on a store the tests build.

Every page answers; a query page shows what `cityq query` prints; the image filter and the
tiles agree with numpy on the stored masks; errors are clear pages; the SQL box neither writes
nor reads files; a writer gets into the store while the server is under load.
"""

from __future__ import annotations

import html
import io
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="cityq serve needs the 'serve' extra")

ROOT = Path(__file__).resolve().parents[1]


def q(params: dict) -> str:
    return urllib.parse.urlencode(params, doseq=True)


def cells(page: str, table_id: str = "rows") -> list[list[str]]:
    """The data-value of every cell of a table, row by row."""
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.DOTALL).group(1)
    return [[html.unescape(v) for v in re.findall(r'<td data-value="([^"]*)"', row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)]


def tile_ids(page: str) -> list[int]:
    return [int(m) for m in re.findall(r'<img class="tile" data-base="/tiles/\d+/(\d+)\.png"', page)]


@pytest.fixture(scope="module")
def study(served):
    """What the pages should show, read from the store in this process (read-only)."""
    from cityq.store import Store, browse

    with Store(served.store, read_only=True) as store:
        models = browse.ingested_models(store)
        ref = browse.model_ingest(store, models[0])
        objects = browse.present_objects(store)
        queries = [query.macro for query in __import__("cityq.queries", fromlist=["list_queries"]).list_queries()]
    return {"models": models, "ref": ref, "objects": objects, "queries": queries}


# -- every page ---------------------------------------------------------------------------------
def test_every_page_answers_200(served, study):
    m0, m1 = study["models"][:2]
    obj = study["objects"]["object"].iloc[0]
    paths = ["/", "/queries", "/sql", "/sql?" + q({"sql": "SELECT * FROM top_objects(k := 2)"}),
             "/images", "/images?" + q({"model": m0}), "/images?" + q({"model": [m0, m1], "layer": "explanation"}),
             "/images?" + q({"model": m0, "object": obj, "threshold": "0.3", "wrong": "1"}),
             "/images?" + q({"model": m0, "city": "tokyo", "layer": "segmentation"}),
             "/objects", f"/objects/{urllib.parse.quote(obj)}", "/static/vega.js", "/static/cityq.css",
             "/static/cityq.js"]
    paths += [f"/queries/{name}" for name in study["queries"]]
    for path in paths:
        status, page = served.text(path)
        assert status == 200, (path, page[-800:])
        assert "Traceback" not in page
    _, page = served.text("/")
    for model in study["models"]:
        assert model in page
    assert "Top objects by lift" in page and "p_value" in page
    # The headline findings: the lift's lower bound, and p with what it rests on, at both resolutions.
    for shown in ("95% bootstrap lower bound", "min_p", "n_relabellings", "mean_ar_common", "p_value_common",
                  "relabellings: p ="):
        assert shown in page, shown
    assert "minimum support" in page  # 4 test images per city: no object reaches the support of 5


def test_tiles_of_every_layer_are_pngs(served, study):
    ref = study["ref"]
    _, page = served.text("/images?" + q({"model": ref.model}))
    image_id = tile_ids(page)[0]
    for layer in ("overlay", "explanation", "heat", "segmentation", "image"):
        status, headers, body = served.get(f"/tiles/{ref.ingest_id}/{image_id}.png?t=0.3&layer={layer}")
        assert status == 200 and headers["content-type"] == "image/png", layer
        assert Image.open(io.BytesIO(body)).size == (ref.width, ref.height)


# -- the query page equals the CLI -------------------------------------------------------------
@pytest.mark.parametrize("name, params", [
    ("top objects", {"k": "2", "threshold": "0.3", "min_support": "1"}),  # a tiny store: few images per city
    ("rpc by city", {"threshold": "0.5", "min_mean_pixels": "0"}),
    ("ar by model pair", {"n_boot": "50"}),
])
def test_query_page_shows_what_cityq_query_prints(served, cli, name, params):
    from cityq.queries import find_query

    macro = find_query(name).macro
    args = ["query", name, *[a for k, v in params.items() for a in ("-p", f"{k}={v}")], "--store", served.store]
    result = cli([*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    expected = pd.DataFrame(json.loads(result.stdout))
    assert len(expected) > 0
    # The JSON download: the same records.
    status, _, body = served.get(f"/queries/{macro}/rows.json?{q(params)}")
    assert status == 200
    pd.testing.assert_frame_equal(pd.DataFrame(json.loads(body)), expected)
    # The page's table: the same rows, every number at full precision (sortable by it).
    status, page = served.text(f"/queries/{macro}?{q(params)}")
    assert status == 200
    shown = cells(page)
    assert len(shown) == len(expected)
    for got, (_, want) in zip(shown, expected.iterrows()):
        for text, value in zip(got, want):
            if isinstance(value, float):
                # the CLI's JSON keeps 10 decimals
                assert (text == "" and np.isnan(value)) or float(text) == pytest.approx(value, rel=1e-9, abs=1e-9)
            elif isinstance(value, bool):
                assert text == str(value).lower()
            elif value is not None:
                assert text == str(value)
    # The URL holds the parameters; the form shows them; CSV and Parquet hold the same rows.
    for key, value in params.items():
        assert f'name="{key}" value="{value}"' in page
    status, _, body = served.get(f"/queries/{macro}/rows.csv?{q(params)}")
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(body)), pd.read_csv(io.StringIO(
        cli([*args, "--format", "csv"]).stdout)))
    status, _, body = served.get(f"/queries/{macro}/rows.parquet?{q(params)}")
    assert len(pd.read_parquet(io.BytesIO(body))) == len(expected)


def test_chart_downloads_render_offline(served):
    status, _, body = served.get("/queries/top_objects/chart.svg?k=2&min_support=1")
    assert status == 200 and body.lstrip().startswith(b"<svg")
    status, _, body = served.get("/queries/top_objects/chart.png?k=2&min_support=1")
    assert status == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"


# -- the image grid and the tiles against numpy -------------------------------------------------
def _truth(served, model: str, threshold: float):
    """Per test image: city, and the objects with some pixels inside the explanation (brute force
    over the full-size masks and the class maps)."""
    from cityq.store import Store

    with Store(served.store, read_only=True) as store:
        ids, masks = store.masks(model)
        classes = store.segmentation("labels", ids, size=masks.shape[-1])
        cities = dict(store.con.execute("SELECT image_id, city FROM images").fetchall())
    inside = {int(i): set(np.unique(c[m >= threshold]).tolist()) for i, m, c in zip(ids, masks, classes)}
    return ids, masks, inside, cities


def test_object_filter_equals_brute_force(served, study):
    from cityq.objects import object_index

    model, threshold = study["ref"].model, 0.3
    _, _, inside, cities = _truth(served, model, threshold)
    checked = 0
    for name in study["objects"]["object"].tolist()[:6]:
        for city in ("tokyo", "pittsburgh"):
            want = sorted(i for i in inside if object_index(name) in inside[i] and cities[i] == city)
            status, page = served.text("/images?" + q({"model": model, "object": name, "city": city,
                                                       "threshold": threshold}))
            assert status == 200
            assert sorted(tile_ids(page)) == want, (name, city)
            assert f"{len(want)} image" in page
            checked += len(want)
    assert checked > 0  # the filter kept something somewhere


def test_wrong_prediction_filter(served, study):
    from cityq.store import Store

    model = study["ref"].model
    with Store(served.store, read_only=True) as store:
        wrong = sorted(r[0] for r in store.con.execute(
            "SELECT p.image_id FROM predictions p JOIN images i USING (image_id) "
            "WHERE p.model = $m AND i.split = 'test' AND p.pred_index <> p.true_index", {"m": model}).fetchall())
    _, page = served.text("/images?" + q({"model": model, "wrong": "1"}))
    assert sorted(tile_ids(page)) == wrong


def test_explanation_tile_equals_numpy(served, study):
    from cityq.store import Store

    ref, threshold = study["ref"], 0.4
    ids, masks, _, _ = _truth(served, ref.model, threshold)
    with Store(served.store, read_only=True) as store:
        root, path = store.con.execute(
            "SELECT d.root, i.path FROM images i JOIN datasets d USING (dataset) WHERE image_id = $i",
            {"i": int(ids[0])}).fetchall()[0]
    image = np.asarray(Image.open(Path(root) / path).convert("RGB").resize((ref.width, ref.height),
                                                                            Image.Resampling.BILINEAR), float)
    want = np.where((masks[0] >= threshold)[..., None], image, image * 0.15)
    _, _, body = served.get(f"/tiles/{ref.ingest_id}/{int(ids[0])}.png?t={threshold}&layer=explanation")
    got = np.asarray(Image.open(io.BytesIO(body)), float)
    assert np.abs(got - want).max() <= 1.0
    inside = (masks[0] >= threshold)
    assert 0 < inside.sum() < inside.size  # a real explanation: both kinds of pixels compared


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, status, says, lists", [
    ("/queries/no_such_query", 404, "unknown query 'no_such_query'", "top_objects"),
    ("/images?model=no-such-model", 404, "unknown model 'no-such-model'", "resnet18-s0"),
    ("/objects/no-such-object", 404, "unknown object 'no-such-object'", "sky"),
    ("/images?city=atlantis", 404, "unknown city 'atlantis'", "tokyo"),
    ("/images?layer=xray", 404, "unknown layer 'xray'", "overlay"),
    ("/no/such/page", 404, "nothing at /no/such/page", "/queries"),
    ("/queries/top_objects?threshold=0.123", 400, "not on the stored grid", None),
    ("/queries/top_objects?bogus=1", 400, "has no parameter 'bogus'", None),
    ("/sql?" + q({"sql": "SELEC * FROM images"}), 400, "Parser Error", None),
    ("/sql?" + q({"sql": "SELECT * FROM no_such_table"}), 400, "Table with name no_such_table does not exist", None),
    ("/tiles/999/1.png", 404, "unknown ingest '999'", None),
])
def test_errors_are_clear_pages(served, path, status, says, lists):
    got, page = served.text(path)
    assert got == status, page[-800:]
    assert says in html.unescape(page)
    if lists:
        assert lists in page
    assert "Traceback" not in page and 'File "' not in page


# -- the SQL box -------------------------------------------------------------------------------
def test_sql_box_calls_the_macros(served):
    from cityq.store import Store

    sql = "SELECT model, city, object, rpc FROM rpc_by_city(threshold := 0.5) ORDER BY model, city, object"
    with Store(served.store, read_only=True) as store:
        want = store.sql(sql)
    status, _, body = served.get("/sql/rows.json?" + q({"sql": sql}))
    assert status == 200
    pd.testing.assert_frame_equal(pd.DataFrame(json.loads(body)), want)
    status, page = served.text("/sql?" + q({"sql": sql}))
    assert status == 200 and len(cells(page)) == len(want)


@pytest.mark.parametrize("sql", [
    "INSERT INTO objects VALUES (200, 'x', 'x', false)",
    "DELETE FROM images",
    "UPDATE models SET seed = 9",
    "CREATE TEMP TABLE t AS SELECT 1",
    "DROP TABLE images",
    "SET threads = 1",
    "CALL checkpoint()",
    "INSTALL httpfs",
    "LOAD httpfs",
    "ATTACH ':memory:' AS other",
    "COPY images TO '{dir}/out.csv'",
    "SELECT 1; DELETE FROM images",
])
def test_sql_box_refuses_writes_and_side_effects(served, sql, tmp_path):
    text = sql.format(dir=tmp_path)
    for path in ("/sql?", "/sql/rows.csv?"):
        status, page = served.text(path + q({"sql": text}))
        assert status == 400 and "refused" in page, (text, page[-500:])
    assert not (tmp_path / "out.csv").exists()
    from cityq.store import Store

    with Store(served.store, read_only=True) as store:
        assert store.sql("SELECT count(*) AS n FROM images")["n"][0] > 0


@pytest.mark.parametrize("template", [
    "SELECT * FROM read_csv('{f}.csv')",
    "SELECT * FROM read_csv_auto('{f}.csv')",
    "SELECT * FROM '{f}.csv'",
    "SELECT * FROM read_text('{f}.csv')",
    "SELECT * FROM read_blob('{f}.csv')",
    "SELECT * FROM read_json('{f}.json')",
    "SELECT * FROM read_parquet('{f}.parquet')",
    "SELECT * FROM '{f}.parquet'",
    "SELECT * FROM glob('{d}/*')",
    "SELECT * FROM sniff_csv('{f}.csv')",
    "WITH x AS (SELECT * FROM read_text('{f}.csv')) SELECT * FROM x",
    "SELECT (SELECT content FROM read_text('{f}.csv')) AS c",
])
def test_sql_box_reads_no_files(served, template, tmp_path):
    secret = "cityq-secret-4f2a"
    pd.DataFrame({"secret": [secret]}).to_csv(tmp_path / "s.csv", index=False)
    pd.DataFrame({"secret": [secret]}).to_json(tmp_path / "s.json", orient="records")
    pd.DataFrame({"secret": [secret]}).to_parquet(tmp_path / "s.parquet")
    text = template.format(f=tmp_path / "s", d=tmp_path)
    for path in ("/sql?", "/sql/rows.csv?"):
        status, page = served.text(path + q({"sql": text}))
        assert status == 400 and "refused" in page, (text, page[-500:])
        assert secret not in page and "s.csv" not in page.split("refused")[0].split("<textarea")[-1][:0]


# -- the server never keeps a writer out ---------------------------------------------------------
_WRITER = """
import sys, time
from cityq.store import Store
started = time.monotonic()
waits = []
with Store(sys.argv[1]) as store:          # opens for writing, retrying while readers hold the file
    waits.append(time.monotonic() - started)
    for block in range(3):                 # as an ingest does: let go of the file, compute, commit
        store.release()
        time.sleep(0.3)
        started = time.monotonic()
        store.con                          # connects again, retrying while readers hold the file
        waits.append(time.monotonic() - started)
        with store.run("serve-test-writer"):
            pass
print(max(waits))
"""


def test_a_writer_gets_in_while_the_server_is_busy(served, study):
    paths = ["/queries/top_objects?k=2", "/images?" + q({"model": study["models"][0]}), "/queries/rpc_by_city"]
    for path in paths:  # warm: the load below is of answered pages, not of first imports
        assert served.get(path)[0] == 200
    done = threading.Event()
    requests: list[tuple[float, float, int]] = []  # (start, end, status)

    def client(k: int):
        n = k
        while not done.is_set():
            began = time.monotonic()
            status = served.get(paths[n % len(paths)])[0]
            requests.append((began, time.monotonic(), status))
            n += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the load is on
    env = {"PYTHONPATH": str(ROOT), "CITYQ_WAIT": "10", "PATH": "/usr/bin:/bin"}
    writer_start = time.monotonic()
    writer = subprocess.run([sys.executable, "-c", _WRITER, str(served.store)], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    writer_end = time.monotonic()
    time.sleep(0.5)
    done.set()
    for t in threads:
        t.join()
    assert writer.returncode == 0, writer.stderr[-1500:]
    # It got in every time, each within about a second (the server's window after its query in
    # flight), well before its 10 s patience ran out.
    assert float(writer.stdout.strip()) < 3.0
    # The server was busy all along: requests were in flight while the writer tried.
    during = [r for r in requests if r[0] < writer_end and r[1] > writer_start]
    assert len(during) >= 6
    assert {status for _, _, status in requests} == {200}  # requests waited for the writer, none failed
    from cityq.store import Store

    with Store(served.store, read_only=True) as store:
        assert store.sql("SELECT count(*) AS n FROM runs WHERE stage = 'serve-test-writer'")["n"][0] >= 3


_HOLDER = """
import sys, time
from cityq.store import Store
store = Store(sys.argv[1])
print("open", flush=True)
time.sleep(30)
"""


def test_store_busy_is_a_clear_error(tmp_path, copy_store, tiny_ingested):
    from cityq.serve.gate import GateTimes, StoreBusy, StoreGate
    from cityq.store.connection import writer_running

    store = copy_store(tiny_ingested)
    assert not writer_running(store)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(store)],
        stdout=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        assert holder.stdout.readline().strip() == "open"
        assert writer_running(store)  # the gate sees the writer (its writer lock) without waiting
        gate = StoreGate(store, GateTimes(busy_wait=0.5))
        started = time.monotonic()
        with pytest.raises(StoreBusy, match=rf"store busy: .* in use by process {holder.pid}"), gate.store():
            pass
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    assert not writer_running(store)  # the kernel dropped the dead writer's lock


def test_gate_releases_the_store_when_idle(copy_store, tiny_ingested):
    from cityq.serve.gate import StoreGate
    from cityq.store import Store

    store = copy_store(tiny_ingested)
    gate = StoreGate(store)
    with gate.store() as opened:
        assert opened.sql("SELECT count(*) AS n FROM models")["n"][0] == 3
        with pytest.raises(Exception, match="disabled by configuration"):
            opened.con.execute("SELECT * FROM read_text('/etc/hostname')").fetchall()
    # Nobody waiting: closed at once, so a writer (here, this process) opens it straight away.
    with Store(store, wait_seconds=0) as writer:
        writer.con.execute("SELECT 1")
    assert gate.opens == 1


def test_a_query_past_the_timeout_is_stopped_and_releases_the_store(copy_store, tiny_ingested):
    from cityq.queries import sandbox
    from cityq.serve.gate import GateTimes, StoreGate, TooLong
    from cityq.store import Store

    store = copy_store(tiny_ingested)
    gate = StoreGate(store, GateTimes(query_timeout=0.5))
    started = time.monotonic()
    with pytest.raises(TooLong, match="stopped after 0.5 s"), gate.store() as opened:
        sandbox.run(opened.con, "SELECT count(*) FROM range(100000000000) a", 10)
    assert time.monotonic() - started < 10
    with gate.store() as opened:  # the connection still answers
        assert opened.sql("SELECT count(*) AS n FROM models")["n"][0] == 3
    with Store(store, wait_seconds=0) as writer:  # and nobody holds the file now
        writer.con.execute("SELECT 1")


# -- the command ---------------------------------------------------------------------------------
def test_serve_warns_off_loopback_and_fails_cleanly_without_a_store(cli, tmp_path, monkeypatch, tiny_ingested):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: calls.append(sockets))
    result = cli(["serve", "--store", tiny_ingested, "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert "warning: listening on 0.0.0.0" in result.stderr and len(calls) == 1
    for sock in calls[0]:
        sock.close()
    result = cli(["serve", "--store", tiny_ingested, "--port", "0"])
    assert "warning" not in result.stderr and "at http://127.0.0.1:" in result.stderr
    result = cli(["serve", "--store", tmp_path / "nothing"])
    assert result.exit_code == 1 and result.stderr.startswith("error: no cityq store")
    assert not (tmp_path / "nothing").exists()
