-- name: reliance by city
-- description: Reliance by removal (SPEC §11) per model, removal method, city and object: over
-- the city's images that show the object, the mean drop in the model's probability of the true
-- city when the object is removed (drop = p_before - p_after), the share of predictions that
-- change (flip_share), the control's mean drop (the same shape removed elsewhere in the image,
-- the same way) and the net drop (net = drop - control_drop), the object's reliance. 95%
-- percentile intervals from a Poisson bootstrap over places (all views of a place share one
-- weight; without a place pattern each image is its own place), the same resamples for every
-- model, method and object.
-- param model: NULL           -- one model, or NULL for all
-- param method: NULL          -- 'redraw', 'impute', 'mean' or 'blur', or NULL for all
-- param segmenter: NULL       -- only removals whose object pixels came from this segmenter, or NULL
-- param split: 'test'         -- the split of the images
-- param n_boot: 200           -- bootstrap resamples (0: no intervals)
-- param seed: 0               -- seed of the resampling (results are deterministic)
WITH r AS (
    SELECT r.model, r.method, s.segmenter, im.city, r.object_id, r.pixels,
           hash(xor(hash(seed::UBIGINT), hash(im.dataset || '/' || im.city || '/' || im.place_id))) AS unit_key,
           (r.p_before - r.p_after)::DOUBLE AS drop, (r.p_before - r.p_control)::DOUBLE AS control_drop,
           (r.pred_after <> r.pred_before)::INTEGER AS flip, (r.pred_control <> r.pred_before)::INTEGER AS control_flip
    FROM reliance r
    JOIN images im ON im.image_id = r.image_id
    JOIN segmentations s ON s.segmentation_id = r.segmentation_id
    WHERE im.split = split AND name_in(r.model, model)
      AND (method IS NULL OR r.method = (SELECT removal_method(method)))  -- a scalar subquery: checked once, rows or not
      AND name_in(s.segmenter, segmenter)
),
est AS (
    SELECT r.model, r.method, r.segmenter, r.city, r.object_id, count(*) AS n_images, avg(r.pixels) AS mean_pixels,
           avg(r.drop) AS drop, avg(r.flip) AS flip_share, avg(r.control_drop) AS control_drop,
           avg(r.control_flip) AS control_flip_share, avg(r.drop - r.control_drop) AS net
    FROM r GROUP BY r.model, r.method, r.segmenter, r.city, r.object_id
),
weights AS (
    -- Poisson(1) weight of each place in resample b, by inverting the CDF at a hashed uniform.
    SELECT u.unit_key, u.b,
           poisson_weight(u.u) AS w
    FROM (SELECT k.unit_key, rb.b, hash(xor(k.unit_key, rb.b::UBIGINT)) / 18446744073709551616.0 AS u
          FROM (SELECT DISTINCT unit_key FROM r) k, range(n_boot) rb(b)) u
),
boot AS (
    SELECT r.model, r.method, r.segmenter, r.city, r.object_id, w.b,
           sum(w.w * r.drop) / nullif(sum(w.w), 0) AS drop, sum(w.w * (r.drop - r.control_drop)) / nullif(sum(w.w), 0) AS net
    FROM r JOIN weights w ON w.unit_key = r.unit_key
    GROUP BY r.model, r.method, r.segmenter, r.city, r.object_id, w.b
),
ci AS (
    SELECT bt.model, bt.method, bt.segmenter, bt.city, bt.object_id,
           quantile_cont(bt.drop, 0.025) AS drop_low, quantile_cont(bt.drop, 0.975) AS drop_high,
           quantile_cont(bt.net, 0.025) AS net_low, quantile_cont(bt.net, 0.975) AS net_high
    FROM boot bt GROUP BY bt.model, bt.method, bt.segmenter, bt.city, bt.object_id
)
SELECT est.model, est.method, est.segmenter, est.city, o.name AS object, est.n_images, est.mean_pixels,
       est.drop, ci.drop_low, ci.drop_high, est.flip_share, est.control_drop, est.control_flip_share,
       est.net, ci.net_low, ci.net_high, est.object_id
FROM est
JOIN objects o ON o.object_id = est.object_id
LEFT JOIN ci ON ci.model = est.model AND ci.method = est.method AND ci.segmenter = est.segmenter
    AND ci.city = est.city AND ci.object_id = est.object_id
ORDER BY est.model, est.method, est.segmenter, est.city, est.net DESC, o.name
