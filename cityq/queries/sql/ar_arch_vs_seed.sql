-- name: ar arch vs seed
-- description: The paper's Table 2 conclusion: mean AR over model pairs of different
-- architectures ('architecture') vs pairs of one architecture with different seeds ('seed'),
-- and the one-sided p-value of a permutation test (architecture > seed) that shuffles the
-- labels over pair-level mean ARs; n_perm fixed-seed permutations, p = (1 + #{perm >= observed}) / (1 + n_perm).
-- param n_perm: 10000         -- permutations
-- param seed: 0               -- seed of the permutations (results are deterministic)
-- param segmenter: NULL       -- only ingests counted with this segmenter, or NULL for all
-- param split: 'test'         -- the split the ingests cover
-- param target: 'true'        -- Grad-CAM target of the ingests: 'true' or 'predicted'
-- DuckDB's multi-argument hash() mixes its arguments weakly (hash(0, x, y) = hash(x, y)), so
-- random draws chain single-argument hashes: hash(xor(hash(xor(hash(seed), a)), b)).
WITH ing AS (
    SELECT * FROM model_ingests(segmenter := segmenter, split := split, target := target)
),
pair_means AS (
    SELECT least(a.model, b.model) AS model_a, greatest(a.model, b.model) AS model_b, avg(r.ar) AS ar
    FROM residuals r
    JOIN ing a ON a.ingest_id = r.ingest_a
    JOIN ing b ON b.ingest_id = r.ingest_b
    GROUP BY least(a.model, b.model), greatest(a.model, b.model)
),
labelled AS (
    SELECT p.model_a, p.model_b, p.ar,
           CASE WHEN ma.arch <> mb.arch THEN 'architecture'
                WHEN ma.seed IS DISTINCT FROM mb.seed THEN 'seed' END AS comparison
    FROM pair_means p
    JOIN models ma ON ma.model = p.model_a
    JOIN models mb ON mb.model = p.model_b
),
pairs AS (
    SELECT l.*, row_number() OVER (ORDER BY l.model_a, l.model_b) AS pair_id,
           count(*) FILTER (WHERE l.comparison = 'architecture') OVER () AS n_arch
    FROM labelled l WHERE l.comparison IS NOT NULL
),
observed AS (
    SELECT avg(p.ar) FILTER (WHERE p.comparison = 'architecture')
           - avg(p.ar) FILTER (WHERE p.comparison = 'seed') AS diff
    FROM pairs p
),
shuffled AS (
    -- Permutation b: the n_arch pairs with the smallest hash keys play 'architecture'.
    SELECT rb.b, p.ar,
           row_number() OVER (PARTITION BY rb.b ORDER BY hash(xor(hash(xor(hash(seed::UBIGINT), rb.b::UBIGINT)), p.pair_id::UBIGINT)), p.pair_id) <= p.n_arch AS is_arch
    FROM pairs p, range(n_perm) rb(b)
),
null_diffs AS (
    SELECT s.b, avg(s.ar) FILTER (WHERE s.is_arch) - avg(s.ar) FILTER (WHERE NOT s.is_arch) AS diff
    FROM shuffled s GROUP BY s.b
),
test AS (
    SELECT (1 + count(*) FILTER (WHERE nd.diff >= o.diff - 1e-12)) / (1 + count(*)) AS p_value
    FROM null_diffs nd, observed o
    WHERE o.diff IS NOT NULL
)
SELECT p.comparison, avg(p.ar) AS mean_ar, stddev_samp(p.ar) AS sd_ar, count(*) AS n_pairs,
       min(p.ar) AS min_ar, max(p.ar) AS max_ar, any_value(t.p_value) AS p_value
FROM pairs p LEFT JOIN test t ON true
GROUP BY p.comparison
ORDER BY p.comparison
