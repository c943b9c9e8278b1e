"""Issue 19, problems 3 to 6: every output right, every failure clear (exit codes, pipes,
terminals, output paths, consistency between commands and formats)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from contracts import one_line_error

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["simple-s0", "simple-s1", "vgg11-s0", "vgg11-s1"]


@pytest.fixture(scope="module")
def counts_dir(tmp_path_factory):
    """A store on disk with synthetic count rows: 4 models, 2 cities, labels."""
    from cityq.store import Store
    from cityq.store.synthetic_counts import SyntheticCountsConfig, write_synthetic_counts

    path = tmp_path_factory.mktemp("outputs") / "store"
    with Store.create(path) as store:
        write_synthetic_counts(store, SyntheticCountsConfig(n_images=40, archs=("vgg11", "simple"), seeds=(0, 1),
                                                            size=64))
    return path


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _cityq(args, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CITYQ_PROGRESS": "0"}
    return subprocess.Popen([sys.executable, "-c", "from cityq.cli import main; main()", *map(str, args)],
                            env=env, **kwargs)


# -- 3. empty answers that exit 0 -----------------------------------------------------------

def test_sql_refuses_a_missing_store_like_query(cli, tmp_path):
    for command in (["sql", "select 1"], ["query", "top objects"]):
        result = cli([*command, "--store", tmp_path / "typo"])
        one_line_error(result, "no cityq store", str(tmp_path / "typo"))
    assert not (tmp_path / "typo").exists()


def test_opening_a_missing_store_creates_nothing(tmp_path):
    from cityq.errors import CityqError
    from cityq.store import Store

    with pytest.raises(CityqError, match="no cityq store"):
        Store(tmp_path / "nonexistent")
    assert not (tmp_path / "nonexistent").exists()
    with Store.create(tmp_path / "new") as store:  # creating is explicit
        assert store.query("accuracy").empty
    with Store(tmp_path / "new") as store:  # and then it opens
        assert not store.read_only


@pytest.mark.parametrize("param, what", [
    ("model=nosuch", "model"), ("segmenter=nosuch", "segmenter"), ("model=vgg11-s0,nosuch", "model"),
])
def test_an_unknown_name_in_a_parameter_lists_the_valid_names(cli, counts_dir, param, what):
    result = cli(["query", "top objects", "-p", param, "--store", counts_dir])
    line = one_line_error(result, f"unknown {what} 'nosuch'")
    if what == "model":
        assert all(m in line for m in MODELS)
    else:
        assert "labels" in line


def test_unknown_city_and_object_names_are_errors(counts_dir):
    from cityq.errors import CityqError
    from cityq.queries.params import check_names
    from cityq.store import Store

    with Store(counts_dir, read_only=True) as store:
        with pytest.raises(CityqError, match="unknown city 'paris'.*pittsburgh, tokyo"):
            check_names(store.con, {"city": "paris"})
        with pytest.raises(CityqError, match="unknown object 'sky scraper'.*did you mean 'skyscraper'"):
            check_names(store.con, {"object": ["fence", "sky scraper"]})
        check_names(store.con, {"city": ["tokyo"], "object": "fence"})


@pytest.mark.parametrize("params", [
    ["-p", "model=vgg11-s0", "-p", "model=simple-s1"],
    ["-p", "model=vgg11-s0,simple-s1"],
    ["-p", "model=vgg11-s0, simple-s1"],
])
def test_several_models_select_all_of_them(cli, counts_dir, params):
    result = cli(["query", "top objects", *params, "-f", "csv", "--store", counts_dir])
    assert result.exit_code == 0, result.output
    assert {row["model"] for row in _csv(result.stdout)} == {"vgg11-s0", "simple-s1"}


def test_a_list_parameter_works_in_python_and_plain_sql(counts_dir):
    from cityq.store import Store

    with Store(counts_dir, read_only=True) as store:
        both = store.query("rpc by city", model=["vgg11-s0", "simple-s1"])
        assert set(both["model"]) == {"vgg11-s0", "simple-s1"}
        one = store.sql("SELECT DISTINCT model FROM rpc_by_city(model := 'vgg11-s0')")
        assert one["model"].tolist() == ["vgg11-s0"]
        listed = store.sql("SELECT DISTINCT model FROM rpc_by_city(model := ['vgg11-s0', 'simple-s0']) ORDER BY 1")
        assert listed["model"].tolist() == ["simple-s0", "vgg11-s0"]


def test_a_plain_parameter_given_twice_is_an_error(cli, counts_dir):
    result = cli(["query", "top objects", "-p", "k=2", "-p", "k=3", "--store", counts_dir])
    one_line_error(result, "'k'", "one value")


# -- 4. pipes and terminals -----------------------------------------------------------------

def test_a_reader_that_stops_early_ends_the_command_quietly(counts_dir):
    process = _cityq(["sql", "select range AS i, range * 2 AS j from range(400000)", "-f", "csv",
                      "--store", counts_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = [process.stdout.readline() for _ in range(2)]  # like `| head -2`
    process.stdout.close()
    stderr = process.stderr.read().decode()
    code = process.wait(timeout=120)
    assert first == [b"i,j\n", b"0,0\n"]
    assert stderr == "", stderr
    assert code == 141  # 128 + SIGPIPE, what Unix tools give


def test_the_table_uses_the_terminal_width(cli, counts_dir, monkeypatch):
    from cityq.cli import common

    monkeypatch.setattr(common, "_isatty", lambda stream: True)
    query = "select repeat('x', 150) AS long_text, 1.5 AS n"
    monkeypatch.setenv("COLUMNS", "60")
    narrow = cli(["sql", query, "--store", counts_dir]).stdout.splitlines()
    assert max(map(len, narrow)) <= 60 and "…" in narrow[2]
    monkeypatch.setenv("COLUMNS", "220")
    wide = cli(["sql", query, "--store", counts_dir]).stdout.splitlines()
    assert "x" * 150 in wide[2]


def test_a_table_written_to_a_pipe_keeps_every_cell_whole(counts_dir, monkeypatch):
    # `-f table` (or `cityq demo`'s summary) into a file or a pipe: no terminal to fit.
    monkeypatch.delenv("COLUMNS", raising=False)
    process = _cityq(["sql", "select repeat('x', 150) AS long_text, 1.5 AS n", "-f", "table", "--store", counts_dir],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "x" * 150 in out.decode() and "…" not in out.decode()


def test_a_pipe_gets_tab_separated_text_not_a_drawn_table(counts_dir):
    process = _cityq(["query", "accuracy", "--store", counts_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    lines = out.decode().splitlines()
    assert lines[0].split("\t") == ["model", "arch", "seed", "n_images", "accuracy"]
    assert len(lines) == 1 + len(MODELS)
    assert not any(ch in out.decode() for ch in "─│┃━")


def test_cell_text_is_never_markup(cli, counts_dir, monkeypatch):
    from cityq.cli import common

    monkeypatch.setattr(common, "_isatty", lambda stream: True)
    text = "[bold]x[/bold] :x:"
    result = cli(["sql", f"select '{text}' AS v", "--store", counts_dir])
    assert result.exit_code == 0
    assert text in result.stdout


# -- 5. output paths ------------------------------------------------------------------------

def test_an_unwritable_output_path_is_one_line(cli, counts_dir, tmp_path):
    one_line_error(cli(["query", "accuracy", "-o", "/proc/x.csv", "--store", counts_dir]), "cannot write /proc/x.csv")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    one_line_error(cli(["query", "accuracy", "-o", blocker / "sub" / "t.csv", "--store", counts_dir]),
                   "is a file, not a folder")
    one_line_error(cli(["query", "accuracy", "-o", tmp_path, "--store", counts_dir]), "is a folder")


def test_format_and_file_name_must_agree(cli, counts_dir, tmp_path):
    one_line_error(cli(["query", "accuracy", "-f", "csv", "-o", tmp_path / "t.json", "--store", counts_dir]),
                   "-f csv", "t.json")
    assert not (tmp_path / "t.json").exists()
    assert cli(["query", "accuracy", "-f", "csv", "-o", tmp_path / "t.csv", "--store", counts_dir]).exit_code == 0
    assert (tmp_path / "t.csv").read_text().startswith("model,")
    one_line_error(cli(["query", "accuracy", "-o", tmp_path / "t.xyz", "--store", counts_dir]), "t.xyz")
    one_line_error(cli(["query", "accuracy", "-f", "parquet", "--store", counts_dir]), "-o")


def test_stdout_and_files_hold_the_same_bytes(cli, counts_dir, tmp_path):
    for fmt in ("csv", "tsv", "json", "ndjson", "markdown"):
        shown = cli(["query", "top objects", "-f", fmt, "--store", counts_dir]).stdout
        target = tmp_path / f"rows.{'md' if fmt == 'markdown' else fmt}"
        assert cli(["query", "top objects", "-o", target, "--store", counts_dir]).exit_code == 0
        assert target.read_text() == shown, fmt


# -- 6. consistency -------------------------------------------------------------------------

def test_models_calls_its_column_model_like_the_table(cli, counts_dir):
    rows = _csv(cli(["models", "-f", "csv", "--store", counts_dir]).stdout)
    assert [r["model"] for r in rows] == MODELS


def test_figure_masks_takes_models_like_ingest(cli):
    from cityq.cli.common import split_names

    for command in (["ingest", "--help"], ["figure", "masks", "--help"]):
        assert "--model" in cli(command).stdout and "-m" in cli(command).stdout
    assert split_names(["a", "b,c", " d "]) == ["a", "b", "c", "d"]


def test_info_never_concatenates_tables_with_different_columns(cli, counts_dir, tmp_path):
    one_line_error(cli(["info", "-f", "csv", "--store", counts_dir]), "--section")
    models = _csv(cli(["info", "--section", "models", "-f", "csv", "--store", counts_dir]).stdout)
    assert [r["model"] for r in models] == MODELS
    everything = json.loads(cli(["info", "-f", "json", "--store", counts_dir]).stdout)
    assert set(everything) == {"store", "images", "models", "ingests", "reliance", "stages"}
    assert [r["model"] for r in everything["models"]] == MODELS
    assert cli(["info", "--section", "reliance", "-f", "csv", "--store", counts_dir]).exit_code == 0
    assert cli(["info", "-o", tmp_path / "info.json", "--store", counts_dir]).exit_code == 0
    assert json.loads((tmp_path / "info.json").read_text()) == everything


def test_csv_and_json_keep_the_same_digits(cli, counts_dir):
    query = "select 1 / 3 AS third, 2 / 3 * 1e-9 AS tiny, 'NaN'::DOUBLE AS nan"
    from_csv = _csv(cli(["sql", query, "-f", "csv", "--store", counts_dir]).stdout)[0]
    from_json = json.loads(cli(["sql", query, "-f", "json", "--store", counts_dir]).stdout)[0]
    assert float(from_csv["third"]) == from_json["third"] == 1 / 3
    assert float(from_csv["tiny"]) == from_json["tiny"] == 2 / 3 * 1e-9
    assert from_json["nan"] is None  # NaN is not JSON


def test_synth_and_dataset_add_both_report_in_prose(cli, tmp_path):
    result = cli(["synth", tmp_path / "img", "--per-city", "2", "--size", "32"])
    assert result.exit_code == 0, result.output
    with pytest.raises(ValueError):
        json.loads(result.stdout)
    assert "4 images" in result.stdout and "tokyo" in result.stdout
    assert "wrote" in result.stdout


def test_sql_errors_keep_duckdbs_hints(cli, counts_dir):
    line = one_line_error(cli(["sql", "select modl from models", "--store", counts_dir]), "Candidate bindings")
    assert '"model"' in line


@pytest.mark.parametrize("statement, kind", [
    ("update models set seed = 1", "an UPDATE statement"),
    ("install httpfs", "an INSTALL statement"),
    ("delete from models", "a DELETE statement"),
])
def test_refusals_name_the_statement_in_good_english(cli, counts_dir, statement, kind):
    one_line_error(cli(["sql", statement, "--store", counts_dir]), kind)


def test_every_command_that_prints_rows_writes_files_too(cli, counts_dir, tmp_path):
    for command in (["segmenters"], ["info", "--section", "images"], ["models"], ["datasets"], ["tables"],
                    ["schema", "models"], ["query", "accuracy"], ["sql", "select 1 AS one"]):
        target = tmp_path / f"{command[0]}.csv"
        result = cli([*command, "-o", target, "--no-headers", "--store", counts_dir])
        assert result.exit_code == 0, (command, result.output)
        assert target.exists(), command


def test_no_headers_and_the_text_formats(cli, counts_dir):
    plain = cli(["query", "accuracy", "-f", "tsv", "--no-headers", "--store", counts_dir]).stdout.splitlines()
    assert len(plain) == len(MODELS) and plain[0].split("\t")[0] == "simple-s0"
    markdown = cli(["query", "accuracy", "-f", "markdown", "--store", counts_dir]).stdout.splitlines()
    assert markdown[0] == "| model | arch | seed | n_images | accuracy |"
    assert markdown[1] == "|---|---|---:|---:|---:|"
    assert len(markdown) == 2 + len(MODELS)


def test_tables_and_schema(cli, counts_dir):
    tables = _csv(cli(["tables", "--counts", "-f", "csv", "--store", counts_dir]).stdout)
    rows = {t["table"]: int(t["rows"]) for t in tables}
    assert rows["models"] == len(MODELS) and rows["images"] == 40
    columns = _csv(cli(["schema", "models", "-f", "csv", "--store", counts_dir]).stdout)
    assert columns[0]["column"] == "model"
    one_line_error(cli(["schema", "nosuch", "--store", counts_dir]), "no table 'nosuch'", "models")


# -- 7. repair hints ------------------------------------------------------------------------

def test_check_repeats_the_segmenter_in_the_command_it_suggests(cli, tiny_ingested, copy_store):
    import duckdb

    store = copy_store(tiny_ingested)
    con = duckdb.connect(str(store / "cityq.duckdb"))
    try:  # the tiny store's ingests, as if counted with a trained segmenter
        con.execute("INSERT INTO segmenters VALUES ('small-seg', 'trained', NULL, '{}', NULL, current_timestamp)")
        con.execute("UPDATE segmentations SET segmenter = 'small-seg'")
        (zarr_path,) = con.execute("SELECT zarr_path FROM ingests WHERE model = 'resnet18-s0'").fetchone()
    finally:
        con.close()
    (store / "arrays.zarr" / zarr_path / "c" / "1" / "0" / "0").unlink()
    result = cli(["check", "--store", store])
    assert result.exit_code == 1
    advice = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert advice and all("cityq ingest --model resnet18-s0 --segmenter small-seg --force" in a for a in advice)


# -- also expected by users of datasette, sqlite-utils, dbt, MLflow ---------------------------

def test_query_show_list_and_names(cli):
    shown = cli(["query", "--show", "top objects"]).stdout
    assert "-- param k = 5" in shown and "FROM rpc_by_city_ci(" in shown and "(one or several: a,b)" in shown
    listed = {r["name"]: r for r in _csv(cli(["query", "--list", "-f", "csv"]).stdout)}
    assert listed["rpc by city"]["chart"] == "yes" and listed["finished ingests"]["chart"] == ""
    names = cli(["query", "--names", "--no-headers", "-f", "tsv"]).stdout.splitlines()
    assert "rpc by city" in names and all("\t" not in n for n in names)


def test_your_own_queries_are_listed_take_parameters_and_chart(cli, counts_dir, tmp_path):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(counts_dir, store)
    (store / "queries").mkdir()
    (store / "queries" / "planted.sql").write_text(
        "-- name: planted lift\n"
        "-- description: Lift of the planted objects only.\n"
        "-- param model: NULL   -- one model, several, or NULL\n"
        "-- param threshold: 0.5\n"
        # Columns named like a parameter are qualified: inside a macro `model` is the parameter.
        "SELECT r.model, r.city, r.object, r.lift FROM rpc_by_city(threshold := threshold, model := model) r\n"
        "WHERE r.object IN ('signboard', 'fence', 'skyscraper', 'earth')\n")
    (store / "queries" / "planted.chart.json").write_text(
        '{"mark": "bar", "encoding": {"x": {"field": "lift", "type": "quantitative"}, '
        '"y": {"field": "object", "type": "nominal"}, "row": {"field": "model", "type": "nominal"}}}')
    other = tmp_path / "mine"
    other.mkdir()
    (other / "n.sql").write_text("-- name: n models\n-- description: How many.\nSELECT count(*) AS n FROM models\n")
    listed = {r["name"]: r for r in _csv(cli(["query", "--list", "-f", "csv", "--queries", other,
                                              "--store", store]).stdout)}
    assert listed["planted lift"]["chart"] == "yes" and "n models" in listed
    rows = _csv(cli(["query", "planted lift", "-p", "model=vgg11-s0,simple-s0", "-f", "csv", "--store", store]).stdout)
    assert {r["model"] for r in rows} == {"vgg11-s0", "simple-s0"} and {r["object"] for r in rows} >= {"fence"}
    one_line_error(cli(["query", "planted lift", "-p", "model=nosuch", "--store", store]), "unknown model")
    assert _csv(cli(["query", "n models", "--queries", other, "-f", "csv", "--store", store]).stdout) == [{"n": "4"}]
    result = cli(["chart", "planted lift", "-o", tmp_path / "planted.html", "--store", store])
    assert result.exit_code == 0, result.output
    assert '"lift"' in (tmp_path / "planted.html").read_text()
    assert "planted lift" in cli(["chart", "--list", "--store", store]).stdout.splitlines()
    (store / "queries" / "clash.sql").write_text("-- name: top objects\n-- description: x\nSELECT 1\n")
    one_line_error(cli(["query", "accuracy", "--store", store]), "clash.sql", "top objects")


def test_a_store_says_what_it_holds(counts_dir):
    from cityq.store import Store

    with Store(counts_dir, read_only=True) as store:
        assert repr(store).endswith("(read-only): 1 datasets, 40 images, 4 models, 4 ingests>")


def test_chart_scale_and_pdf_from_the_command_line(cli, counts_dir, tmp_path):
    from PIL import Image

    for scale in ("1", "2"):
        assert cli(["chart", "accuracy", "-o", tmp_path / f"a{scale}.png", "--scale", scale,
                    "--store", counts_dir]).exit_code == 0
    assert Image.open(tmp_path / "a2.png").width >= 1.9 * Image.open(tmp_path / "a1.png").width
    assert cli(["chart", "accuracy", "-o", tmp_path / "a.pdf", "--store", counts_dir]).exit_code == 0
    assert (tmp_path / "a.pdf").read_bytes()[:5] == b"%PDF-"
    one_line_error(cli(["chart", "accuracy", "-o", tmp_path / "a.gif", "--store", counts_dir]), ".pdf")


def test_sql_binds_a_repeated_parameter_as_a_list(cli, counts_dir):
    from cityq.store import Store

    one = cli(["sql", "select $m AS m", "-p", "m=vgg11-s0", "-f", "csv", "--store", counts_dir]).stdout
    assert one.splitlines() == ["m", "vgg11-s0"]
    both = cli(["sql", "select count(*) AS n from models where list_contains($m, model)", "-p", "m=vgg11-s0",
                "-p", "m=simple-s0", "-f", "csv", "--store", counts_dir]).stdout
    assert both.splitlines() == ["n", "2"]
    with Store(counts_dir, read_only=True) as store:  # Python: a list stays a list, one element or not
        assert store.sql("select count(*) AS n from models where list_contains($m, model)", m=["vgg11-s0"])[
            "n"].tolist() == [1]
