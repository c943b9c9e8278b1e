-- name: model ingests
-- description: The one finished ingest per model that mask-level queries (AR) read: the
-- first one, since a model's masks do not depend on the segmenter its counts used.
-- param segmenter: NULL       -- only ingests counted with this segmenter, or NULL for all
-- param split: 'test'         -- the split the ingests cover
-- param target: 'true'        -- Grad-CAM target of the ingests: 'true' or 'predicted'
SELECT g.model, min(g.ingest_id) AS ingest_id
FROM ingests g JOIN segmentations s ON s.segmentation_id = g.segmentation_id
WHERE g.status = 'done' AND g.split = split AND g.target = target
  AND (segmenter IS NULL OR s.segmenter = segmenter)
GROUP BY g.model
ORDER BY g.model
