-- name: top objects
-- description: The top k objects by lift per model and city, among the objects passing the
-- object filter (the rows of `rpc by city`); ties broken by R_pc, then by name.
-- param k: 5                  -- how many objects per model and city
-- param threshold: 0.5        -- explanation threshold; any value on the stored grid
-- param min_mean_pixels: NULL -- object filter (NULL = 100 at 224x224, scaled by image area)
-- param model: NULL           -- one model, or NULL for all
-- param segmenter: NULL       -- one segmenter, or NULL for all
-- param split: 'test'         -- the split the ingest covers
-- param target: 'true'        -- Grad-CAM target of the ingest: 'true' or 'predicted'
WITH ranked AS (
    SELECT r.model, r.segmenter, r.city, r.object, r.rpc, r.lift, r.threshold, r.mean_pixels, r.ingest_id,
           row_number() OVER (PARTITION BY r.ingest_id, r.city
                              ORDER BY r.lift DESC NULLS LAST, r.rpc DESC, r.object) AS rank
    FROM rpc_by_city(threshold := threshold, min_mean_pixels := min_mean_pixels, model := model,
                     segmenter := segmenter, split := split, target := target) r
)
SELECT ranked.model, ranked.segmenter, ranked.city, ranked.rank, ranked.object, ranked.rpc, ranked.lift,
       ranked.threshold, ranked.mean_pixels
FROM ranked
WHERE ranked.rank <= k
ORDER BY ranked.model, ranked.segmenter, ranked.city, ranked.rank
