-- name: model ingests
-- description: The one finished ingest per model that mask-level queries (AR) read: its mask
-- ingest (see `finished ingests`), since a model's masks do not depend on the segmenter its
-- counts used.
-- param segmenter: NULL       -- only ingests counted with this segmenter, or NULL for all
-- param split: 'test'         -- the split the ingests cover
-- param target: 'true'        -- Grad-CAM target of the ingests: 'true' or 'predicted'
SELECT f.model, f.ingest_id
FROM finished_ingests(segmenter := segmenter, split := split, target := target) f
WHERE f.mask_ingest
ORDER BY f.model
