"""A store's summary, as relations: what `cityq info` prints and the report's details show."""

from __future__ import annotations

import duckdb

from cityq.store.core import Store


def _disk_size(store: Store) -> int:
    return sum(f.stat().st_size for f in store.path.rglob("*") if f.is_file())


SECTIONS = ("store", "images", "models", "ingests", "reliance", "stages")


def summarise(store: Store) -> dict[str, duckdb.DuckDBPyRelation]:
    """One relation per section of SECTIONS (lazy: each runs when read)."""
    sql = store.con.sql
    return {
        "store": sql(
            "SELECT $path AS path, round($size / 1e6, 2) AS size_mb, max(version) AS schema_version "
            "FROM schema_version",
            params={"path": str(store.path.resolve()), "size": _disk_size(store)}),
        "images": sql(
            "SELECT dataset, city, "
            "count(*) FILTER (WHERE split = 'train') AS train, "
            "count(*) FILTER (WHERE split = 'val') AS val, "
            "count(*) FILTER (WHERE split = 'test') AS test "
            "FROM images GROUP BY ALL ORDER BY ALL"
        ),
        "models": sql(
            "SELECT model, arch, seed, dataset, img_size, round(test_accuracy, 4) AS test_accuracy, source "
            "FROM models ORDER BY model"
        ),
        "ingests": sql(
            "SELECT i.model, i.split, i.target, s.segmenter, i.height, i.width, i.n_images, i.status, "
            "count(b.block) AS blocks_done FROM ingests i "
            "JOIN segmentations s USING (segmentation_id) LEFT JOIN mask_blocks b USING (ingest_id) "
            "GROUP BY ALL ORDER BY ALL"
        ),
        "reliance": sql(
            "SELECT r.model, r.method, s.segmenter, count(DISTINCT r.image_id) AS images, "
            "count(DISTINCT r.object_id) AS objects, count(*) AS removals FROM reliance r "
            "JOIN segmentations s USING (segmentation_id) GROUP BY ALL ORDER BY ALL"
        ),
        "stages": sql(
            "SELECT stage, status, count(*) AS runs, max(ended_at) AS last_ended "
            "FROM runs GROUP BY ALL ORDER BY ALL"
        ),
    }


def provenance(store: Store) -> dict[str, duckdb.DuckDBPyRelation]:
    """How everything was made: stage runs with their resolved configs and code versions, the
    models, the ingests with their threshold grids (the report's last section)."""
    sql = store.con.sql
    return {
        "Stage runs (resolved configs and code versions)": sql(
            "SELECT run_id, stage, subject, status, code_version, started_at, ended_at, config, message "
            "FROM runs ORDER BY run_id"),
        "Models": sql(
            "SELECT model, arch, seed, dataset, img_size, source, test_accuracy, code_version, created_at, config "
            "FROM models ORDER BY model"),
        "Ingests (threshold grids)": sql(
            "SELECT g.ingest_id, g.model, g.split, g.target, s.segmenter, g.height, g.width, g.thresholds, "
            "g.n_images, g.status, g.config FROM ingests g JOIN segmentations s USING (segmentation_id) "
            "ORDER BY g.ingest_id"),
    }


def segmenters_ingested(store: Store) -> list[str]:
    """The segmenters of the finished ingests, the dataset's own labels first, then by how many
    ingests used each: the first is what charts and the report show by default."""
    rows = store.con.execute(
        "SELECT segmenter FROM finished_ingests() GROUP BY segmenter "
        "ORDER BY (segmenter = 'labels') DESC, count(*) DESC, segmenter").fetchall()
    return [r[0] for r in rows]


def default_segmenter(store: Store) -> str | None:
    found = segmenters_ingested(store)
    return found[0] if found else None


def table_counts(store: Store, counts: bool) -> duckdb.DuckDBPyRelation:
    """The store's tables (and views) with their columns, and with --counts their row counts."""
    tables = store.con.sql(
        "SELECT t.table_name AS \"table\", t.table_type = 'VIEW' AS is_view, "
        "(SELECT count(*) FROM information_schema.columns c WHERE c.table_schema = t.table_schema "
        "AND c.table_name = t.table_name) AS columns "
        "FROM information_schema.tables t WHERE t.table_schema = 'main' AND t.table_catalog = current_database() "
        "ORDER BY 1")
    if not counts:
        return tables
    names = [r[0] for r in tables.fetchall()]
    if not names:
        return tables
    # Table names come from the catalogue, never from input; each is quoted as an identifier.
    n_rows = [store.con.execute(f'SELECT count(*) FROM "{n.replace(chr(34), chr(34) * 2)}"').fetchall()[0][0]
              for n in names]
    return store.con.sql(
        f"SELECT t.*, c.n AS rows FROM ({tables.sql_query()}) t "
        "JOIN (SELECT unnest($names) AS tname, unnest($counts) AS n) c ON c.tname = t.\"table\" ORDER BY 1",
        params={"names": names, "counts": n_rows})


def schema(store: Store, table: str | None) -> duckdb.DuckDBPyRelation:
    """Columns of every table (or one): name, type, nullable, default, in table order."""
    return store.con.sql(
        "SELECT table_name AS \"table\", column_name AS \"column\", data_type AS type, "
        "is_nullable = 'YES' AS nullable, column_default AS \"default\" "
        "FROM information_schema.columns WHERE table_schema = 'main' AND table_catalog = current_database() "
        "AND ($table IS NULL OR table_name = $table) ORDER BY table_name, ordinal_position",
        params={"table": table})
