-- name: ar by model pair
-- description: AR (mean over images of sum|mask_a - mask_b| / (H*W)) for every pair of models
-- ingested on the same images, with a 95% bootstrap CI over images (Poisson bootstrap,
-- percentile interval). Resamples use a fixed random subset of about boot_size images; with
-- more images than that, the spread is rescaled by sqrt(m / n), the m-out-of-n bootstrap of a
-- mean, which keeps large stores fast.
-- param n_boot: 400           -- bootstrap resamples
-- param boot_size: 1000       -- images per resample, about (see above)
-- param seed: 0               -- seed of the resampling (results are deterministic)
-- param model: NULL           -- only pairs with this model, or NULL for all
-- param segmenter: NULL       -- only ingests counted with this segmenter, or NULL for all
-- param split: 'test'         -- the split the ingests cover
-- param target: 'true'        -- Grad-CAM target of the ingests: 'true' or 'predicted'
-- DuckDB's multi-argument hash() mixes its arguments weakly (hash(0, x, y) = hash(x, y)), so
-- random draws chain single-argument hashes: hash(xor(hash(xor(hash(seed), a)), b)).
WITH ing AS (
    SELECT * FROM model_ingests(segmenter := segmenter, split := split, target := target)
),
per_image AS (
    SELECT least(a.model, b.model) AS model_a, greatest(a.model, b.model) AS model_b, r.image_id, r.ar
    FROM residuals r
    JOIN ing a ON a.ingest_id = r.ingest_a
    JOIN ing b ON b.ingest_id = r.ingest_b
    WHERE (name_in(a.model, model) OR name_in(b.model, model))
),
pairs AS (
    SELECT p.model_a, p.model_b, avg(p.ar) AS ar, count(*) AS n_images,
           hash(xor(hash(seed::UBIGINT), hash(p.model_a || chr(0) || p.model_b))) AS pair_key
    FROM per_image p GROUP BY p.model_a, p.model_b
),
subset AS (
    -- A Bernoulli sample of about boot_size images per pair (no sort needed).
    SELECT pairs.pair_key, p.ar,
           hash(xor(pairs.pair_key, p.image_id::UBIGINT)) AS image_key
    FROM per_image p JOIN pairs ON pairs.model_a = p.model_a AND pairs.model_b = p.model_b
    WHERE hash(xor(pairs.pair_key, p.image_id::UBIGINT)) / 18446744073709551616.0 < boot_size / pairs.n_images
),
subset_stats AS (
    SELECT s.pair_key, count(*) AS m, avg(s.ar) AS ar_m FROM subset s GROUP BY s.pair_key
),
weights AS (
    -- Poisson(1) weight of each subset image in resample b, by inverting the CDF at a hashed uniform.
    SELECT u.pair_key, u.b, u.ar,
           CASE WHEN u.u < 0.36787944 THEN 0 WHEN u.u < 0.73575888 THEN 1 WHEN u.u < 0.91969860 THEN 2
                WHEN u.u < 0.98101184 THEN 3 WHEN u.u < 0.99634015 THEN 4 WHEN u.u < 0.99940582 THEN 5
                WHEN u.u < 0.99991676 THEN 6 ELSE 7 END AS w
    FROM (SELECT s.pair_key, rb.b, s.ar, hash(xor(s.image_key, rb.b::UBIGINT)) / 18446744073709551616.0 AS u
          FROM subset s, range(n_boot) rb(b)) u
),
ci AS (
    SELECT bt.pair_key, quantile_cont(bt.ar_b, 0.025) AS q_low, quantile_cont(bt.ar_b, 0.975) AS q_high
    FROM (SELECT w.pair_key, w.b, sum(w.w * w.ar) / nullif(sum(w.w), 0) AS ar_b
          FROM weights w GROUP BY w.pair_key, w.b) bt
    GROUP BY bt.pair_key
)
SELECT pairs.model_a, pairs.model_b, pairs.ar,
       pairs.ar + sqrt(ss.m / pairs.n_images) * (ci.q_low - ss.ar_m) AS ci_low,
       pairs.ar + sqrt(ss.m / pairs.n_images) * (ci.q_high - ss.ar_m) AS ci_high,
       pairs.n_images,
       ma.arch AS arch_a, mb.arch AS arch_b, ma.seed AS seed_a, mb.seed AS seed_b
FROM pairs
LEFT JOIN ci ON ci.pair_key = pairs.pair_key
LEFT JOIN subset_stats ss ON ss.pair_key = pairs.pair_key
LEFT JOIN models ma ON ma.model = pairs.model_a
LEFT JOIN models mb ON mb.model = pairs.model_b
ORDER BY pairs.model_a, pairs.model_b
