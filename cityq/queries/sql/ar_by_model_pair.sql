-- name: ar by model pair
-- description: AR (mean over images of sum|mask_a - mask_b| / (H*W)) for every pair of models
-- ingested on the same images, with a 95% bootstrap CI (Poisson bootstrap, percentile interval)
-- over places where the dataset has places with several images, else over images (the `unit`
-- column says which), and ar_common, AR at a common resolution (see `ar pairs`). Resamples use
-- a fixed random subset of about boot_size units; with more units than that, the spread is
-- rescaled by sqrt(m / n), the m-out-of-n bootstrap of a mean, which keeps large stores fast.
-- param n_boot: 1000          -- bootstrap resamples
-- param boot_size: 1000       -- units (places or images) per resample, about (see above)
-- param seed: 0               -- seed of the resampling (results are deterministic)
-- param model: NULL           -- only pairs with this model, or NULL for all
-- param segmenter: NULL       -- only models with a finished ingest counted with this segmenter, or NULL for all (AR itself does not depend on it)
-- param split: 'test'         -- the split the ingests cover
-- param target: 'true'        -- Grad-CAM target of the ingests: 'true' or 'predicted'
-- param unit: NULL            -- what to resample: 'place', 'image', or NULL (places where the dataset has places with several images)
-- DuckDB's multi-argument hash() mixes its arguments weakly (hash(0, x, y) = hash(x, y)), so
-- random draws chain single-argument hashes: hash(xor(hash(xor(hash(seed), a)), b)).
WITH per_image AS (
    SELECT p.model_a, p.model_b, p.image_id, p.ar, p.ar_common, im.dataset, im.city, im.place_id
    FROM ar_pairs(model := model, segmenter := segmenter, split := split, target := target) p
    JOIN images im ON im.image_id = p.image_id
),
pairs AS (
    SELECT p.model_a, p.model_b, avg(p.ar) AS ar, avg(p.ar_common) AS ar_common,
           count(p.ar_common) AS n_common, count(*) AS n_images,
           resampling_unit(unit, any_value(p.dataset)) AS unit,
           hash(xor(hash(seed::UBIGINT), hash(p.model_a || chr(0) || p.model_b))) AS pair_key
    FROM per_image p GROUP BY p.model_a, p.model_b
),
units AS (
    -- Per pair and unit: the sum and count of AR (a place's views are drawn together).
    SELECT pairs.pair_key, sum(p.ar) AS ar_sum, count(*) AS n,
           hash(xor(pairs.pair_key, CASE WHEN pairs.unit = 'place' THEN hash(p.city || chr(0) || p.place_id)
                                         ELSE p.image_id::UBIGINT END)) AS unit_key
    FROM per_image p JOIN pairs ON pairs.model_a = p.model_a AND pairs.model_b = p.model_b
    GROUP BY pairs.pair_key, unit_key
),
counted AS (SELECT u.*, count(*) OVER (PARTITION BY u.pair_key) AS n_units FROM units u),
-- A Bernoulli sample of about boot_size units per pair (no sort needed).
subset AS (SELECT c.* FROM counted c WHERE c.unit_key / 18446744073709551616.0 < boot_size / c.n_units),
subset_stats AS (
    SELECT s.pair_key, count(*) AS m, any_value(s.n_units) AS n_units, sum(s.ar_sum) / sum(s.n) AS ar_m
    FROM subset s GROUP BY s.pair_key
),
weights AS (
    -- Poisson(1) weight of each subset unit in resample b, by inverting the CDF at a hashed uniform.
    SELECT u.pair_key, u.b, u.ar_sum, u.n,
           poisson_weight(u.u) AS w
    FROM (SELECT s.pair_key, rb.b, s.ar_sum, s.n, hash(xor(s.unit_key, rb.b::UBIGINT)) / 18446744073709551616.0 AS u
          FROM subset s, range(n_boot) rb(b)) u
),
ci AS (
    SELECT bt.pair_key, quantile_cont(bt.ar_b, 0.025) AS q_low, quantile_cont(bt.ar_b, 0.975) AS q_high
    FROM (SELECT w.pair_key, w.b, sum(w.w * w.ar_sum) / nullif(sum(w.w * w.n), 0) AS ar_b
          FROM weights w GROUP BY w.pair_key, w.b) bt
    GROUP BY bt.pair_key
)
SELECT pairs.model_a, pairs.model_b, pairs.ar,
       pairs.ar + sqrt(ss.m / ss.n_units) * (ci.q_low - ss.ar_m) AS ci_low,
       pairs.ar + sqrt(ss.m / ss.n_units) * (ci.q_high - ss.ar_m) AS ci_high,
       CASE WHEN pairs.n_common = pairs.n_images THEN pairs.ar_common END AS ar_common,
       pairs.n_images, pairs.unit, ss.n_units,
       ma.arch AS arch_a, mb.arch AS arch_b, ma.seed AS seed_a, mb.seed AS seed_b
FROM pairs
LEFT JOIN ci ON ci.pair_key = pairs.pair_key
LEFT JOIN subset_stats ss ON ss.pair_key = pairs.pair_key
LEFT JOIN models ma ON ma.model = pairs.model_a
LEFT JOIN models mb ON mb.model = pairs.model_b
ORDER BY pairs.model_a, pairs.model_b
