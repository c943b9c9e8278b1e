-- name: explanation area
-- description: The mean explanation area fraction (pixels with mask >= t over H*W) per model,
-- city and threshold, over the ingest's images of the city; also the mean soft area (mask sum / H*W).
-- param threshold: NULL       -- one threshold of the stored grid, or NULL for the whole grid
-- param model: NULL           -- one model, or NULL for all
-- param segmenter: NULL       -- one segmenter, or NULL for all
-- param split: 'test'         -- the split the ingest covers
-- param target: 'true'        -- Grad-CAM target of the ingest: 'true' or 'predicted'
WITH ing AS (
    SELECT f.ingest_id, f.model, f.segmenter, f.hw, f.thresholds
    FROM finished_ingests(model := model, segmenter := segmenter, split := split, target := target) f
),
per_image AS (
    SELECT ing.ingest_id, im.city, unnest(mi.area_pixels) / ing.hw AS area_fraction,
           generate_subscripts(mi.area_pixels, 1) AS k, mi.mask_sum / ing.hw AS soft_fraction
    FROM ing JOIN mask_images mi ON mi.ingest_id = ing.ingest_id
    JOIN images im ON im.image_id = mi.image_id
),
agg AS (
    SELECT p.ingest_id, p.city, p.k, avg(p.area_fraction) AS mean_area, avg(p.soft_fraction) AS mean_soft_area,
           count(*) AS n_images
    FROM per_image p GROUP BY p.ingest_id, p.city, p.k
)
SELECT ing.model, ing.segmenter, agg.city, round(ing.thresholds[agg.k], 6) AS threshold,
       agg.mean_area, agg.mean_soft_area, agg.n_images
FROM agg JOIN ing ON ing.ingest_id = agg.ingest_id
WHERE threshold IS NULL OR agg.k = threshold_position(ing.thresholds, threshold)
ORDER BY ing.model, ing.segmenter, agg.city, agg.k
