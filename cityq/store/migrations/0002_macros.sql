-- The named queries are table macros stored in the database file itself, so that any DuckDB
-- client (the duckdb shell, DBeaver, duckdb.connect(path, read_only=True) in a notebook) can
-- call them. This table records the definitions installed, so that a cityq with other
-- definitions replaces them (cityq/store/macros.py) and drops the ones it no longer ships.
CREATE TABLE cityq_macros (
    name           VARCHAR PRIMARY KEY,  -- the macro's identifier: rpc_by_city
    kind           VARCHAR NOT NULL,     -- 'table' (a named query) or 'scalar'
    definition     VARCHAR NOT NULL,     -- the CREATE MACRO statement as installed
    cityq_version  VARCHAR NOT NULL,
    installed_at   TIMESTAMP NOT NULL
);
