-- name: ar by model pair
-- description: AR (mean over images of sum|mask_a - mask_b| / (H*W)) for every pair of models
-- ingested on the same images, with a 95% bootstrap CI over images (Poisson bootstrap,
-- percentile interval). Resamples use at most boot_size images (a fixed random subset); above
-- that the spread is rescaled by sqrt(boot_size / n), the m-out-of-n bootstrap of a mean.
-- param n_boot: 400           -- bootstrap resamples
-- param boot_size: 2000       -- images per resample at most (see above)
-- param seed: 0               -- seed of the resampling (results are deterministic)
-- param model: NULL           -- only pairs with this model, or NULL for all
-- param segmenter: NULL       -- only ingests counted with this segmenter, or NULL for all
-- param split: 'test'         -- the split the ingests cover
-- param target: 'true'        -- Grad-CAM target of the ingests: 'true' or 'predicted'
-- DuckDB's multi-argument hash() mixes its arguments weakly (hash(0, x, y) = hash(x, y)), so
-- random draws chain single-argument hashes: hash(xor(hash(xor(hash(seed), a)), b)).
WITH ing AS (
    SELECT g.ingest_id, g.model
    FROM ingests g JOIN segmentations s ON s.segmentation_id = g.segmentation_id
    WHERE g.status = 'done' AND g.split = split AND g.target = target
      AND (segmenter IS NULL OR s.segmenter = segmenter)
),
per_image AS (
    -- One AR per model pair and image, even when a model has several ingests (segmenters).
    SELECT least(a.model, b.model) AS model_a, greatest(a.model, b.model) AS model_b, r.image_id,
           avg(r.ar) AS ar
    FROM residuals r
    JOIN ing a ON a.ingest_id = r.ingest_a
    JOIN ing b ON b.ingest_id = r.ingest_b
    WHERE a.model <> b.model AND (model IS NULL OR a.model = model OR b.model = model)
    GROUP BY least(a.model, b.model), greatest(a.model, b.model), r.image_id
),
numbered AS (
    SELECT p.model_a, p.model_b, p.image_id, p.ar,
           dense_rank() OVER (ORDER BY p.model_a, p.model_b) AS pair_id,
           row_number() OVER (PARTITION BY p.model_a, p.model_b ORDER BY hash(xor(hash(seed::UBIGINT), p.image_id::UBIGINT)), p.image_id) AS pos
    FROM per_image p
),
pairs AS (
    SELECT n.pair_id, n.model_a, n.model_b, avg(n.ar) AS ar, count(*) AS n_images,
           least(count(*), boot_size) AS m, avg(n.ar) FILTER (WHERE n.pos <= boot_size) AS ar_m
    FROM numbered n GROUP BY n.pair_id, n.model_a, n.model_b
),
weights AS (
    -- Poisson(1) weight of image (pos) in resample b, by inverting the CDF at a hashed uniform.
    SELECT u.pair_id, u.b, u.ar,
           CASE WHEN u.u < 0.36787944 THEN 0 WHEN u.u < 0.73575888 THEN 1 WHEN u.u < 0.91969860 THEN 2
                WHEN u.u < 0.98101184 THEN 3 WHEN u.u < 0.99634015 THEN 4 WHEN u.u < 0.99940582 THEN 5
                WHEN u.u < 0.99991676 THEN 6 ELSE 7 END AS w
    FROM (SELECT n.pair_id, rb.b, n.ar, hash(xor(hash(xor(hash(xor(hash(seed::UBIGINT), n.pair_id::UBIGINT)), n.pos::UBIGINT)), rb.b::UBIGINT)) / 18446744073709551616.0 AS u
          FROM numbered n, range(n_boot) rb(b) WHERE n.pos <= boot_size) u
),
ci AS (
    SELECT bt.pair_id, quantile_cont(bt.ar_b, 0.025) AS q_low, quantile_cont(bt.ar_b, 0.975) AS q_high
    FROM (SELECT w.pair_id, w.b, sum(w.w * w.ar) / nullif(sum(w.w), 0) AS ar_b
          FROM weights w GROUP BY w.pair_id, w.b) bt
    GROUP BY bt.pair_id
)
SELECT pairs.model_a, pairs.model_b, pairs.ar,
       pairs.ar + sqrt(pairs.m / pairs.n_images) * (ci.q_low - pairs.ar_m) AS ci_low,
       pairs.ar + sqrt(pairs.m / pairs.n_images) * (ci.q_high - pairs.ar_m) AS ci_high,
       pairs.n_images,
       ma.arch AS arch_a, mb.arch AS arch_b, ma.seed AS seed_a, mb.seed AS seed_b
FROM pairs
LEFT JOIN ci ON ci.pair_id = pairs.pair_id
LEFT JOIN models ma ON ma.model = pairs.model_a
LEFT JOIN models mb ON mb.model = pairs.model_b
ORDER BY pairs.model_a, pairs.model_b
