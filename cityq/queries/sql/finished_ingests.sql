-- name: finished ingests
-- description: Every finished ingest, one row each: a model's Grad-CAM masks on a split, for a
-- target, counted with one segmenter's maps. The one definition of "a model's ingest" that every
-- query and figure uses. `mask_ingest` marks, per model, split and target, the ingest whose masks
-- mask-level results read (AR, t-SNE, the figures): the first one finished (lowest ingest_id),
-- since a model's masks do not depend on the segmenter its counts used.
-- param model: NULL           -- one model, or NULL for all
-- param segmenter: NULL       -- one segmenter, or NULL for all
-- param split: 'test'         -- the split the ingests cover
-- param target: 'true'        -- Grad-CAM target of the ingests: 'true' or 'predicted'
SELECT g.ingest_id, g.model, m.arch, m.seed, m.dataset, s.segmenter, g.segmentation_id, g.split, g.target,
       g.height, g.width, g.height * g.width AS hw, g.cam_height, g.cam_width, g.thresholds, g.n_images,
       g.ingest_id = min(g.ingest_id) OVER (PARTITION BY g.model, g.split, g.target) AS mask_ingest
FROM ingests g
JOIN segmentations s ON s.segmentation_id = g.segmentation_id
JOIN models m ON m.model = g.model
WHERE g.status = 'done' AND g.split = split AND g.target = target
-- Filtered after the window, so that mask_ingest is decided over all of a model's ingests.
QUALIFY name_in(g.model, model) AND name_in(s.segmenter, segmenter)
ORDER BY g.model, g.ingest_id
