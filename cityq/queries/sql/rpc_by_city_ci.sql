-- name: rpc by city ci
-- description: `rpc by city` with 95% bootstrap confidence intervals over images for R_pc and
-- lift (Poisson bootstrap within each model and city, percentile intervals). Resamples use
-- a fixed random subset of about boot_size images per model and city; above that the spread is
-- rescaled by sqrt(boot_size / n), the m-out-of-n bootstrap. The object filter is applied once,
-- on all images.
-- param threshold: 0.5        -- explanation threshold; any value on the stored grid
-- param min_mean_pixels: NULL -- object filter (NULL = 100 at 224x224, scaled by image area)
-- param model: NULL           -- one model, or NULL for all
-- param segmenter: NULL       -- one segmenter, or NULL for all
-- param split: 'test'         -- the split the ingest covers
-- param target: 'true'        -- Grad-CAM target of the ingest: 'true' or 'predicted'
-- param n_boot: 200           -- bootstrap resamples
-- param boot_size: 1000       -- images per model and city in a resample, about (see above)
-- param seed: 0               -- seed of the resampling (results are deterministic)
-- DuckDB's multi-argument hash() mixes its arguments weakly (hash(0, x, y) = hash(x, y)), so
-- random draws chain single-argument hashes: hash(xor(hash(xor(hash(seed), a)), b)).
WITH est AS (
    SELECT r.*
    FROM rpc_by_city(threshold := threshold, min_mean_pixels := min_mean_pixels, model := model,
                     segmenter := segmenter, split := split, target := target) r
),
ing AS (
    SELECT g.ingest_id, g.height * g.width AS hw, threshold_position(g.thresholds, threshold) AS t_pos
    FROM ingests g WHERE g.ingest_id IN (SELECT DISTINCT est.ingest_id FROM est)
),
img AS (
    SELECT ing.ingest_id, im.city, mi.image_id, mi.area_pixels[ing.t_pos] / ing.hw AS area,
           hash(xor(hash(seed::UBIGINT), mi.image_id::UBIGINT)) AS image_key,
           count(*) OVER (PARTITION BY ing.ingest_id, im.city) AS n
    FROM ing JOIN mask_images mi ON mi.ingest_id = ing.ingest_id
    JOIN images im ON im.image_id = mi.image_id
),
-- A Bernoulli sample of about boot_size images per model and city (no sort needed).
subset AS (SELECT img.* FROM img WHERE img.image_key / 18446744073709551616.0 < boot_size / img.n),
weights AS (
    -- Poisson(1) weight of each image in resample b, by inverting the CDF at a hashed uniform.
    SELECT u.ingest_id, u.city, u.image_id, u.b, u.area,
           CASE WHEN u.u < 0.36787944 THEN 0 WHEN u.u < 0.73575888 THEN 1 WHEN u.u < 0.91969860 THEN 2
                WHEN u.u < 0.98101184 THEN 3 WHEN u.u < 0.99634015 THEN 4 WHEN u.u < 0.99940582 THEN 5
                WHEN u.u < 0.99991676 THEN 6 ELSE 7 END AS w
    FROM (SELECT s.ingest_id, s.city, s.image_id, s.area, rb.b,
                 hash(xor(hash(xor(s.image_key, s.ingest_id::UBIGINT)), rb.b::UBIGINT)) / 18446744073709551616.0 AS u
          FROM subset s, range(n_boot) rb(b)) u
),
area_b AS (
    SELECT w.ingest_id, w.city, w.b, sum(w.w * w.area) / nullif(sum(w.w), 0) AS mean_area
    FROM weights w GROUP BY w.ingest_id, w.city, w.b
),
objects_m AS (
    -- The subset's own estimate: the centre of its bootstrap distribution.
    SELECT s.ingest_id, s.city, oc.object_id, sum(oc.m_pixels[ing.t_pos]::BIGINT) AS m_sum,
           sum(oc.n_pixels::BIGINT) AS n_sum
    FROM subset s JOIN ing ON ing.ingest_id = s.ingest_id
    JOIN object_counts oc ON oc.ingest_id = s.ingest_id AND oc.image_id = s.image_id
    GROUP BY s.ingest_id, s.city, oc.object_id
),
area_m AS (SELECT s.ingest_id, s.city, avg(s.area) AS mean_area, any_value(s.n) AS n, count(*) AS m
           FROM subset s GROUP BY s.ingest_id, s.city),
rpc_b AS (
    SELECT w.ingest_id, w.city, oc.object_id, w.b,
           sum(w.w * oc.m_pixels[ing.t_pos]) / nullif(sum(w.w * oc.n_pixels), 0) AS rpc
    FROM weights w JOIN ing ON ing.ingest_id = w.ingest_id
    JOIN object_counts oc ON oc.ingest_id = w.ingest_id AND oc.image_id = w.image_id
    GROUP BY w.ingest_id, w.city, oc.object_id, w.b
),
ci AS (
    SELECT r.ingest_id, r.city, r.object_id,
           quantile_cont(r.rpc, 0.025) AS rpc_q_low, quantile_cont(r.rpc, 0.975) AS rpc_q_high,
           quantile_cont(r.rpc / nullif(a.mean_area, 0), 0.025) AS lift_q_low,
           quantile_cont(r.rpc / nullif(a.mean_area, 0), 0.975) AS lift_q_high
    FROM rpc_b r JOIN area_b a ON a.ingest_id = r.ingest_id AND a.city = r.city AND a.b = r.b
    GROUP BY r.ingest_id, r.city, r.object_id
)
SELECT est.model, est.segmenter, est.city, est.object, est.threshold,
       est.rpc,
       est.rpc + sqrt(am.m / am.n) * (ci.rpc_q_low - om.m_sum / om.n_sum) AS rpc_low,
       est.rpc + sqrt(am.m / am.n) * (ci.rpc_q_high - om.m_sum / om.n_sum) AS rpc_high,
       est.lift,
       est.lift + sqrt(am.m / am.n) * (ci.lift_q_low - (om.m_sum / om.n_sum) / am.mean_area) AS lift_low,
       est.lift + sqrt(am.m / am.n) * (ci.lift_q_high - (om.m_sum / om.n_sum) / am.mean_area) AS lift_high,
       est.n_images, est.mean_pixels, est.ingest_id
FROM est
LEFT JOIN ci ON ci.ingest_id = est.ingest_id AND ci.city = est.city AND ci.object_id = est.object_id
LEFT JOIN objects_m om ON om.ingest_id = est.ingest_id AND om.city = est.city AND om.object_id = est.object_id
LEFT JOIN area_m am ON am.ingest_id = est.ingest_id AND am.city = est.city
ORDER BY est.model, est.segmenter, est.city, est.rpc DESC, est.object
