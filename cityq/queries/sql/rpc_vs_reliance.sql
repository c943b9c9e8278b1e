-- name: rpc vs reliance
-- description: Is Grad-CAM right about what the model uses? Per model, removal method and
-- city: the Spearman correlation, over the objects of `lift vs reliance`, between lift (what
-- Grad-CAM says) and net reliance (what removing the object costs the model), with a 95%
-- percentile interval from a Poisson bootstrap over places (lift and reliance recomputed from
-- the same resampled places, objects ranked again in each resample; ties get their average
-- rank), and the top three objects of each side by side (comma-separated). NULL below three objects.
-- param threshold: 0.5        -- explanation threshold; any value on the stored grid
-- param min_mean_pixels: NULL -- object filter (NULL = 100 at 224x224, scaled by image area)
-- param model: NULL           -- one model, or NULL for all
-- param method: NULL          -- removal method, or NULL for all
-- param segmenter: NULL       -- one segmenter, or NULL for all
-- param split: 'test'         -- the split of the ingest and of the removals
-- param target: 'true'        -- Grad-CAM target of the ingest: 'true' or 'predicted'
-- param n_boot: 200           -- bootstrap resamples (0: no interval)
-- param seed: 0               -- seed of the resampling (the same as `reliance by city`'s)
WITH lr AS (
    SELECT * FROM lift_vs_reliance(threshold := threshold, min_mean_pixels := min_mean_pixels, model := model,
                                   method := method, segmenter := segmenter, split := split, target := target)
),
-- Column names are qualified throughout: inside a macro, a bare `model` is the parameter.
ranked AS (
    SELECT lr.*,
           rank() OVER (PARTITION BY lr.model, lr.method, lr.segmenter, lr.city ORDER BY lr.lift)
             + (count(*) OVER (PARTITION BY lr.model, lr.method, lr.segmenter, lr.city, lr.lift) - 1) / 2.0 AS rank_lift,
           rank() OVER (PARTITION BY lr.model, lr.method, lr.segmenter, lr.city ORDER BY lr.net)
             + (count(*) OVER (PARTITION BY lr.model, lr.method, lr.segmenter, lr.city, lr.net) - 1) / 2.0 AS rank_net
    FROM lr
),
est AS (
    SELECT rk.model, rk.method, rk.segmenter, rk.city, count(*) AS n_objects,
           -- NaN when one side is all ties (no ranking to agree with): NULL instead.
           CASE WHEN count(*) >= 3 THEN nullif(corr(rk.rank_lift, rk.rank_net), 'NaN'::DOUBLE) END AS spearman,
           array_to_string(list(rk.object ORDER BY rk.lift DESC, rk.object)[1:3], ', ') AS top_lift,
           array_to_string(list(rk.object ORDER BY rk.net DESC, rk.object)[1:3], ', ') AS top_reliance
    FROM ranked rk GROUP BY rk.model, rk.method, rk.segmenter, rk.city
),
ing AS (
    SELECT f.ingest_id, f.hw, threshold_position(f.thresholds, threshold) AS t_pos
    FROM finished_ingests(split := split, target := target) f WHERE f.ingest_id IN (SELECT DISTINCT ingest_id FROM lr)
),
img AS (
    SELECT ing.ingest_id, im.city, mi.image_id, mi.area_pixels[ing.t_pos] / ing.hw AS area,
           hash(xor(hash(seed::UBIGINT), hash(im.dataset || '/' || im.city || '/' || im.place_id))) AS unit_key
    FROM ing JOIN mask_images mi ON mi.ingest_id = ing.ingest_id JOIN images im ON im.image_id = mi.image_id
),
rel AS (
    SELECT lr.model, lr.method, lr.segmenter, lr.city, lr.object_id,
           (r.p_before - r.p_after - (r.p_before - r.p_control))::DOUBLE AS net,
           hash(xor(hash(seed::UBIGINT), hash(im.dataset || '/' || im.city || '/' || im.place_id))) AS unit_key
    FROM lr
    JOIN segmentations s ON s.segmenter = lr.segmenter
    JOIN reliance r ON r.model = lr.model AND r.method = lr.method AND r.segmentation_id = s.segmentation_id
        AND r.object_id = lr.object_id
    JOIN images im ON im.image_id = r.image_id AND im.city = lr.city AND im.split = split
),
weights AS (
    -- Poisson(1) weight of each place in resample b, as in `reliance by city`.
    SELECT u.unit_key, u.b,
           poisson_weight(u.u) AS w
    FROM (SELECT k.unit_key, rb.b, hash(xor(k.unit_key, rb.b::UBIGINT)) / 18446744073709551616.0 AS u
          FROM (SELECT i.unit_key FROM img i UNION SELECT rl.unit_key FROM rel rl) k, range(n_boot) rb(b)) u
),
rpc_b AS (
    SELECT img.ingest_id, img.city, oc.object_id, w.b,
           -- lift as `rpc by city` defines it: sum of M over sum of a_i N (each image's own area a_i)
           sum(w.w * oc.m_pixels[ing.t_pos]) / nullif(sum(w.w * img.area * oc.n_pixels), 0) AS lift
    FROM img JOIN ing ON ing.ingest_id = img.ingest_id
    JOIN object_counts oc ON oc.ingest_id = img.ingest_id AND oc.image_id = img.image_id
    JOIN weights w ON w.unit_key = img.unit_key
    WHERE oc.object_id IN (SELECT object_id FROM lr)
    GROUP BY img.ingest_id, img.city, oc.object_id, w.b
),
net_b AS (
    SELECT rel.model, rel.method, rel.segmenter, rel.city, rel.object_id, w.b,
           sum(w.w * rel.net) / nullif(sum(w.w), 0) AS net
    FROM rel JOIN weights w ON w.unit_key = rel.unit_key
    GROUP BY rel.model, rel.method, rel.segmenter, rel.city, rel.object_id, w.b
),
both_b AS (
    SELECT lr.model, lr.method, lr.segmenter, lr.city, lr.object_id, r.b, r.lift, n.net
    FROM lr
    JOIN rpc_b r ON r.ingest_id = lr.ingest_id AND r.city = lr.city AND r.object_id = lr.object_id
    JOIN net_b n ON n.model = lr.model AND n.method = lr.method AND n.segmenter = lr.segmenter
        AND n.city = lr.city AND n.object_id = lr.object_id AND n.b = r.b
    WHERE r.lift IS NOT NULL AND n.net IS NOT NULL
),
ranked_b AS (
    SELECT bb.*,
           rank() OVER (PARTITION BY bb.model, bb.method, bb.segmenter, bb.city, bb.b ORDER BY bb.lift)
             + (count(*) OVER (PARTITION BY bb.model, bb.method, bb.segmenter, bb.city, bb.b, bb.lift) - 1) / 2.0
             AS rank_lift,
           rank() OVER (PARTITION BY bb.model, bb.method, bb.segmenter, bb.city, bb.b ORDER BY bb.net)
             + (count(*) OVER (PARTITION BY bb.model, bb.method, bb.segmenter, bb.city, bb.b, bb.net) - 1) / 2.0
             AS rank_net
    FROM both_b bb
),
rho_b AS (
    SELECT rb.model, rb.method, rb.segmenter, rb.city, rb.b, corr(rb.rank_lift, rb.rank_net) AS rho
    FROM ranked_b rb GROUP BY rb.model, rb.method, rb.segmenter, rb.city, rb.b HAVING count(*) >= 3
),
ci AS (
    SELECT rh.model, rh.method, rh.segmenter, rh.city,
           quantile_cont(rh.rho, 0.025) AS spearman_low, quantile_cont(rh.rho, 0.975) AS spearman_high
    FROM rho_b rh WHERE NOT isnan(rh.rho) GROUP BY rh.model, rh.method, rh.segmenter, rh.city
)
SELECT est.model, est.method, est.segmenter, est.city, est.n_objects, est.spearman,
       ci.spearman_low, ci.spearman_high, est.top_lift, est.top_reliance
FROM est
LEFT JOIN ci ON ci.model = est.model AND ci.method = est.method AND ci.segmenter = est.segmenter AND ci.city = est.city
ORDER BY est.model, est.method, est.segmenter, est.city
