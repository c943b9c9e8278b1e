-- name: objects
-- description: The object filter on its own: per model, city and object, the mean number of
-- pixels of the object over ALL of the ingest's images of that city (images without the object
-- count as 0; whole image, not the explanation), and whether it exceeds min_mean_pixels.
-- param min_mean_pixels: NULL -- the bar; NULL = 100 at 224x224, scaled by image area (100 * H * W / 224^2)
-- param model: NULL           -- one model, or NULL for all
-- param segmenter: NULL       -- one segmenter, or NULL for all
-- param split: 'test'         -- the split the ingest covers
-- param target: 'true'        -- Grad-CAM target of the ingest: 'true' or 'predicted'
WITH ing AS (
    SELECT f.ingest_id, f.model, f.segmenter, coalesce(min_mean_pixels, 100.0 * f.hw / 50176) AS min_px
    FROM finished_ingests(model := model, segmenter := segmenter, split := split, target := target) f
),
per_city AS (
    SELECT ing.ingest_id, im.city, count(*) AS n_images
    FROM ing JOIN mask_images mi ON mi.ingest_id = ing.ingest_id
    JOIN images im ON im.image_id = mi.image_id
    GROUP BY ing.ingest_id, im.city
),
counts AS (
    SELECT ing.ingest_id, im.city, oc.object_id,
           sum(oc.n_pixels::BIGINT) AS n_sum, count(*) AS n_with
    FROM ing JOIN object_counts oc ON oc.ingest_id = ing.ingest_id
    JOIN images im ON im.image_id = oc.image_id
    GROUP BY ing.ingest_id, im.city, oc.object_id
)
SELECT ing.model, ing.segmenter, pc.city, o.name AS object,
       c.n_sum / pc.n_images AS mean_pixels,
       c.n_with AS n_images_with,
       pc.n_images,
       ing.min_px AS min_mean_pixels,
       c.n_sum / pc.n_images > ing.min_px AS passes
FROM counts c
JOIN per_city pc ON pc.ingest_id = c.ingest_id AND pc.city = c.city
JOIN ing ON ing.ingest_id = c.ingest_id
JOIN objects o ON o.object_id = c.object_id
ORDER BY ing.model, ing.segmenter, pc.city, c.n_sum / pc.n_images DESC, o.name
