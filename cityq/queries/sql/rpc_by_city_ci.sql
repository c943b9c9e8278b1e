-- name: rpc by city ci
-- description: `rpc by city` with 95% bootstrap confidence intervals for R_pc and lift (Poisson
-- bootstrap within each model and city, percentile intervals). The resampled unit is the place
-- (`images.place_id`) where the dataset has places with several images (Tokyo 24/7's 12 views
-- of a spot are one draw, not 12), else the image; the `unit` column says which. Resamples use a
-- fixed random subset of about boot_size units per model and city; above that the spread is
-- rescaled by sqrt(m / n), the m-out-of-n bootstrap. The object filter is applied once, on all images.
-- rank: the object's rank by lift in its model and city among the objects listed (ties: R_pc, then name).
-- param threshold: 0.5        -- explanation threshold; any value on the stored grid
-- param min_mean_pixels: NULL -- object filter (NULL = 100 at 224x224, scaled by image area)
-- param model: NULL           -- one model, or NULL for all
-- param segmenter: NULL       -- one segmenter, or NULL for all
-- param split: 'test'         -- the split the ingest covers
-- param target: 'true'        -- Grad-CAM target of the ingest: 'true' or 'predicted'
-- param n_boot: 1000          -- bootstrap resamples
-- param boot_size: 1000       -- units (places or images) per model and city in a resample, about (see above)
-- param seed: 0               -- seed of the resampling (results are deterministic)
-- param unit: NULL            -- what to resample: 'place', 'image', or NULL (places where the dataset has places with several images)
-- param min_support: 1        -- list only objects present in at least this many of the city's images
-- param k: NULL               -- list (and resample) only the k objects of largest lift per model and city, or NULL for all
-- DuckDB's multi-argument hash() mixes its arguments weakly (hash(0, x, y) = hash(x, y)), so
-- random draws chain single-argument hashes: hash(xor(hash(xor(hash(seed), a)), b)).
WITH ranked AS (
    SELECT r.*, row_number() OVER (PARTITION BY r.ingest_id, r.city
                                   ORDER BY r.lift DESC NULLS LAST, r.rpc DESC, r.object) AS rank
    FROM rpc_by_city(threshold := threshold, min_mean_pixels := min_mean_pixels, model := model,
                     segmenter := segmenter, split := split, target := target) r
    WHERE r.n_images_with >= min_support
),
est AS (SELECT ranked.* FROM ranked WHERE k IS NULL OR ranked.rank <= k),
ing AS (
    SELECT f.ingest_id, f.hw, threshold_position(f.thresholds, threshold) AS t_pos,
           resampling_unit(unit, f.dataset) AS unit
    FROM finished_ingests(model := model, segmenter := segmenter, split := split, target := target) f
    WHERE f.ingest_id IN (SELECT DISTINCT est.ingest_id FROM est)
),
img AS (
    -- unit_key names a unit within its ingest and city (the seed mixed in).
    SELECT ing.ingest_id, im.city, mi.image_id, mi.area_pixels[ing.t_pos] / ing.hw AS area,
           ing.ingest_id::BIGINT * 4294967296 + mi.image_id AS image_key,
           hash(xor(hash(seed::UBIGINT),
                    CASE WHEN ing.unit = 'place' THEN hash(im.city || chr(0) || im.place_id)
                         ELSE mi.image_id::UBIGINT END)) AS unit_key
    FROM ing JOIN mask_images mi ON mi.ingest_id = ing.ingest_id
    JOIN images im ON im.image_id = mi.image_id
),
units AS (
    SELECT img.ingest_id, img.city, img.unit_key, count(*) OVER (PARTITION BY img.ingest_id, img.city) AS n
    FROM img GROUP BY img.ingest_id, img.city, img.unit_key
),
-- A Bernoulli sample of about boot_size units per model and city (no sort needed); ukey: one
-- integer for (ingest, unit), so that the large join below is on a single integer.
subset AS (
    SELECT u.*, hash(xor(u.unit_key, u.ingest_id::UBIGINT)) AS ukey
    FROM units u WHERE u.unit_key / 18446744073709551616.0 < boot_size / u.n
),
sizes AS (SELECT s.ingest_id, s.city, count(*) AS m, any_value(s.n) AS n FROM subset s GROUP BY s.ingest_id, s.city),
listed AS (
    -- The listed objects, numbered: the bootstrap groups by (lid, resample), two integers.
    SELECT l.*, row_number() OVER () AS lid FROM (SELECT DISTINCT est.ingest_id, est.city, est.object_id FROM est) l
),
unit_sums AS (
    -- Per unit and listed object: the sums R_pc (m / n) and lift (m / an) are ratios of (as
    -- DOUBLE: sums of BIGINT are HUGEINT, which the 10^7-row weighting below multiplies slowly).
    SELECT s.ukey, l.lid,
           sum(oc.m_pixels[ing.t_pos])::DOUBLE AS m_sum, sum(oc.n_pixels)::DOUBLE AS n_sum,
           sum(img.area * oc.n_pixels) AS an_sum
    FROM subset s
    JOIN img ON img.ingest_id = s.ingest_id AND img.city = s.city AND img.unit_key = s.unit_key
    JOIN ing ON ing.ingest_id = img.ingest_id
    JOIN object_counts oc ON oc.ingest_id::BIGINT * 4294967296 + oc.image_id = img.image_key
    JOIN listed l ON l.ingest_id = oc.ingest_id AND l.city = img.city AND l.object_id = oc.object_id
    GROUP BY s.ukey, l.lid
),
weights AS (
    -- Poisson(1) weight of each unit in resample b, by inverting the CDF at a hashed uniform;
    -- the units a resample leaves out (weight 0, 37% of them) add nothing and are dropped. The
    -- uniform hangs on the unit and the seed only, never on the ingest's number: a unit weighs
    -- the same in every model's resample b, and an ingest run again (a new ingest_id) gets the
    -- same interval.
    SELECT u.ukey, u.b, poisson_weight(u.u)::DOUBLE AS w
    FROM (SELECT s.ukey, rb.b, hash(xor(s.unit_key, rb.b::UBIGINT)) / 18446744073709551616.0 AS u
          FROM subset s, range(n_boot) rb(b)) u
    WHERE u.u >= 0.36787944
),
boot AS (
    SELECT us.lid, w.b,
           sum(w.w * us.m_sum) / nullif(sum(w.w * us.n_sum), 0) AS rpc,
           sum(w.w * us.m_sum) / nullif(sum(w.w * us.an_sum), 0) AS lift
    FROM unit_sums us JOIN weights w ON w.ukey = us.ukey
    GROUP BY us.lid, w.b
),
ci AS (
    SELECT l.ingest_id, l.city, l.object_id,
           quantile_cont(bt.rpc, 0.025) AS rpc_q_low, quantile_cont(bt.rpc, 0.975) AS rpc_q_high,
           quantile_cont(bt.lift, 0.025) AS lift_q_low, quantile_cont(bt.lift, 0.975) AS lift_q_high
    FROM boot bt JOIN listed l ON l.lid = bt.lid
    GROUP BY l.ingest_id, l.city, l.object_id
),
centre AS (
    -- The subset's own estimates: the centre of its bootstrap distribution.
    SELECT l.ingest_id, l.city, l.object_id,
           sum(us.m_sum) / sum(us.n_sum) AS rpc, sum(us.m_sum) / nullif(sum(us.an_sum), 0) AS lift
    FROM unit_sums us JOIN listed l ON l.lid = us.lid GROUP BY l.ingest_id, l.city, l.object_id
)
SELECT est.model, est.segmenter, est.city, est.object, est.threshold,
       est.rpc,
       est.rpc + sqrt(sz.m / sz.n) * (ci.rpc_q_low - ce.rpc) AS rpc_low,
       est.rpc + sqrt(sz.m / sz.n) * (ci.rpc_q_high - ce.rpc) AS rpc_high,
       est.lift,
       est.lift + sqrt(sz.m / sz.n) * (ci.lift_q_low - ce.lift) AS lift_low,
       est.lift + sqrt(sz.m / sz.n) * (ci.lift_q_high - ce.lift) AS lift_high,
       est.chance_rpc, est.n_images, est.n_images_with, est.mean_pixels, est.rank,
       ing.unit, sz.n AS n_units,
       est.ingest_id, est.object_id
FROM est
JOIN ing ON ing.ingest_id = est.ingest_id
LEFT JOIN ci ON ci.ingest_id = est.ingest_id AND ci.city = est.city AND ci.object_id = est.object_id
LEFT JOIN centre ce ON ce.ingest_id = est.ingest_id AND ce.city = est.city AND ce.object_id = est.object_id
LEFT JOIN sizes sz ON sz.ingest_id = est.ingest_id AND sz.city = est.city
ORDER BY est.model, est.segmenter, est.city, est.rpc DESC, est.object
