-- name: rpc by city
-- description: R_pc and lift per model, city and object at one threshold: R_pc = sum_i M_p,i(t) /
-- sum_i N_p,i over the ingest's images of the city; lift = R_pc / chance_rpc, where chance_rpc =
-- sum_i a_i N_p,i / sum_i N_p,i is what a random mask of each image's own explanation area a_i
-- (share of the image at t) would give: the N-weighted mean of the areas, per object. mean_area is
-- the plain mean of a_i. Only objects passing the object filter (see `objects`) are listed;
-- n_images_with is the object's support (the city's images that hold it).
-- param threshold: 0.5        -- explanation threshold; any value on the stored grid
-- param min_mean_pixels: NULL -- object filter: keep objects whose mean N over the city's images (zeros included) exceeds this; NULL = 100 at 224x224, scaled by image area
-- param model: NULL           -- one model, or NULL for all
-- param segmenter: NULL       -- one segmenter, or NULL for all
-- param split: 'test'         -- the split the ingest covers
-- param target: 'true'        -- Grad-CAM target of the ingest: 'true' or 'predicted'
WITH ing AS (
    SELECT f.ingest_id, f.model, f.segmenter, f.hw, threshold_position(f.thresholds, threshold) AS t_pos,
           coalesce(min_mean_pixels, 100.0 * f.hw / 50176) AS min_px
    FROM finished_ingests(model := model, segmenter := segmenter, split := split, target := target) f
),
img AS (
    -- a_i: the explanation's share of image i at t. image_key: (ingest, image) as one integer, so
    -- that object_counts joins on a single key (twice as fast as on the pair of columns).
    SELECT ing.ingest_id, im.city, mi.image_id, mi.area_pixels[ing.t_pos] / ing.hw AS area,
           ing.ingest_id::BIGINT * 4294967296 + mi.image_id AS image_key
    FROM ing JOIN mask_images mi ON mi.ingest_id = ing.ingest_id
    JOIN images im ON im.image_id = mi.image_id
),
per_city AS (
    SELECT img.ingest_id, img.city, count(*) AS n_images, avg(img.area) AS mean_area
    FROM img GROUP BY img.ingest_id, img.city
),
counts AS (
    SELECT img.ingest_id, img.city, oc.object_id,
           sum(oc.n_pixels::BIGINT) AS n_sum, sum(oc.m_pixels[ing.t_pos]::BIGINT) AS m_sum,
           sum(img.area * oc.n_pixels) AS an_sum, count(*) FILTER (WHERE oc.n_pixels > 0) AS n_images_with
    FROM object_counts oc
    JOIN img ON img.image_key = oc.ingest_id::BIGINT * 4294967296 + oc.image_id
    JOIN ing ON ing.ingest_id = img.ingest_id
    GROUP BY img.ingest_id, img.city, oc.object_id
)
SELECT ing.model, ing.segmenter, pc.city, o.name AS object,
       round(threshold, 6) AS threshold,
       c.m_sum / c.n_sum AS rpc,
       c.m_sum / nullif(c.an_sum, 0) AS lift,
       c.an_sum / c.n_sum AS chance_rpc,
       pc.n_images,
       c.n_images_with,
       c.n_sum / pc.n_images AS mean_pixels,
       pc.mean_area,
       ing.ingest_id,
       c.object_id
FROM counts c
JOIN per_city pc ON pc.ingest_id = c.ingest_id AND pc.city = c.city
JOIN ing ON ing.ingest_id = c.ingest_id
JOIN objects o ON o.object_id = c.object_id
WHERE c.n_sum / pc.n_images > ing.min_px
ORDER BY ing.model, ing.segmenter, pc.city, (c.m_sum / c.n_sum) DESC, o.name
