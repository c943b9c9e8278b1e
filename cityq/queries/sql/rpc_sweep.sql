-- name: rpc sweep
-- description: R_pc and lift against the threshold, for every threshold of the stored grid, per
-- model, city and object (the objects passing the object filter, as in `rpc by city`); lift =
-- R_pc / chance_rpc, the N-weighted mean explanation area at that threshold (see `rpc by city`).
-- param min_mean_pixels: NULL -- object filter (NULL = 100 at 224x224, scaled by image area)
-- param model: NULL           -- one model, or NULL for all
-- param segmenter: NULL       -- one segmenter, or NULL for all
-- param split: 'test'         -- the split the ingest covers
-- param target: 'true'        -- Grad-CAM target of the ingest: 'true' or 'predicted'
WITH ing AS (
    SELECT f.ingest_id, f.model, f.segmenter, f.hw, f.thresholds,
           coalesce(min_mean_pixels, 100.0 * f.hw / 50176) AS min_px
    FROM finished_ingests(model := model, segmenter := segmenter, split := split, target := target) f
),
img AS (
    -- image_key: (ingest, image) as one integer, so that object_counts joins on a single key.
    SELECT ing.ingest_id, im.city, mi.image_id, mi.area_pixels, ing.ingest_id::BIGINT * 4294967296 + mi.image_id AS image_key
    FROM ing JOIN mask_images mi ON mi.ingest_id = ing.ingest_id
    JOIN images im ON im.image_id = mi.image_id
),
per_city AS (
    SELECT img.ingest_id, img.city, count(*) AS n_images FROM img GROUP BY img.ingest_id, img.city
),
area AS (
    SELECT a.ingest_id, a.city, a.k, avg(a.area) AS mean_pixels_area
    FROM (SELECT img.ingest_id, img.city, unnest(img.area_pixels) AS area,
                 generate_subscripts(img.area_pixels, 1) AS k FROM img) a
    GROUP BY a.ingest_id, a.city, a.k
),
n_counts AS (
    SELECT ing.ingest_id, im.city, oc.object_id, sum(oc.n_pixels::BIGINT) AS n_sum
    FROM ing JOIN object_counts oc ON oc.ingest_id = ing.ingest_id
    JOIN images im ON im.image_id = oc.image_id
    GROUP BY ing.ingest_id, im.city, oc.object_id
),
kept AS (
    SELECT nc.* , pc.n_images FROM n_counts nc
    JOIN per_city pc ON pc.ingest_id = nc.ingest_id AND pc.city = nc.city
    JOIN ing ON ing.ingest_id = nc.ingest_id
    WHERE nc.n_sum / pc.n_images > ing.min_px
),
m_counts AS (
    -- M and the image's explanation area at each threshold k (two lists unnested side by side).
    SELECT u.ingest_id, u.city, u.object_id, u.k, sum(u.m::BIGINT) AS m_sum, sum(u.area * u.n) AS an_pixels
    FROM (SELECT oc.ingest_id, img.city, oc.object_id, oc.n_pixels::DOUBLE AS n,
                 unnest(oc.m_pixels) AS m, unnest(img.area_pixels) AS area,
                 generate_subscripts(oc.m_pixels, 1) AS k
          FROM object_counts oc
          JOIN img ON img.image_key = oc.ingest_id::BIGINT * 4294967296 + oc.image_id
          JOIN kept ON kept.ingest_id = oc.ingest_id AND kept.city = img.city AND kept.object_id = oc.object_id) u
    GROUP BY u.ingest_id, u.city, u.object_id, u.k
)
SELECT ing.model, ing.segmenter, kept.city, o.name AS object,
       round(ing.thresholds[mc.k], 6) AS threshold,
       mc.m_sum / kept.n_sum AS rpc,
       mc.m_sum / nullif(mc.an_pixels / ing.hw, 0) AS lift,
       mc.an_pixels / ing.hw / kept.n_sum AS chance_rpc,
       kept.n_images,
       kept.n_sum / kept.n_images AS mean_pixels,
       a.mean_pixels_area / ing.hw AS mean_area
FROM m_counts mc
JOIN kept ON kept.ingest_id = mc.ingest_id AND kept.city = mc.city AND kept.object_id = mc.object_id
JOIN area a ON a.ingest_id = mc.ingest_id AND a.city = mc.city AND a.k = mc.k
JOIN ing ON ing.ingest_id = mc.ingest_id
JOIN objects o ON o.object_id = mc.object_id
ORDER BY ing.model, ing.segmenter, kept.city, o.name, mc.k
