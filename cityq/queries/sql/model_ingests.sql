-- name: model ingests
-- description: The one finished ingest per model that mask-level queries read: its mask ingest
-- (see `finished ingests`), since a model's masks do not depend on the segmenter its counts used.
-- With a segmenter, the models that have a finished ingest counted with it, each still with its
-- mask ingest (which may have been counted with another segmenter).
-- param segmenter: NULL       -- only models with a finished ingest counted with this segmenter, or NULL for all
-- param split: 'test'         -- the split the ingests cover
-- param target: 'true'        -- Grad-CAM target of the ingests: 'true' or 'predicted'
WITH chosen AS (
    SELECT DISTINCT s.model FROM finished_ingests(segmenter := segmenter, split := split, target := target) s
)
SELECT f.model, f.ingest_id
FROM finished_ingests(split := split, target := target) f
WHERE f.mask_ingest AND f.model IN (SELECT c.model FROM chosen c)
ORDER BY f.model
