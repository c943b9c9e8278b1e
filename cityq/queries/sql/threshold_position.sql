-- name: threshold position
-- kind: scalar
-- description: The 1-based position of a threshold in an ingest's grid (thresholds are matched
-- at 6 decimals, the precision grids are stored at), or NULL when it is not on the grid.
-- param thresholds:           -- the ingest's grid (ingests.thresholds)
-- param threshold:            -- the threshold asked for
list_position(list_transform(thresholds, lambda v: round(v, 6)), round(threshold, 6))
