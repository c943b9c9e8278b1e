-- name: threshold position
-- kind: scalar
-- description: The 1-based position of a threshold in an ingest's grid (thresholds are matched
-- at 6 decimals, the precision grids are stored at). A threshold that is not on the grid (or
-- NULL) stops the query with an error naming the grid: every query that reads M(t) or the
-- explanation area at one threshold refuses it this way, per ingest, whether it is called by
-- `cityq query`, from Python or from ad-hoc SQL, instead of answering with NULL rows.
-- param thresholds:           -- the ingest's grid (ingests.thresholds)
-- param threshold:            -- the threshold asked for
CASE WHEN list_position(list_transform(thresholds, lambda v: round(v, 6)), round(threshold, 6)) IS NULL
     THEN error(format('threshold {} is not on the stored grid of an ingest ({}); pick one of those, or re-ingest with --thresholds',
                       coalesce(round(threshold, 6)::VARCHAR, 'NULL'),
                       array_to_string(list_transform(thresholds, lambda v: format('{:g}', round(v, 6))), ', ')))
     ELSE list_position(list_transform(thresholds, lambda v: round(v, 6)), round(threshold, 6)) END
