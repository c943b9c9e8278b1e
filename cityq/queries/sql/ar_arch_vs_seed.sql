-- name: ar arch vs seed
-- description: The paper's Table 2 conclusion: mean AR over model pairs of different
-- architectures ('architecture') vs pairs of one architecture ('seed': the same net trained
-- again), at the masks' own resolution (mean_ar) and at a common one (mean_ar_common: both native
-- CAMs area-averaged to the coarser grid first, see `ar pairs`). p_value: one-sided permutation
-- test of architecture > seed that relabels models: the architecture labels are permuted over the
-- models (each architecture keeps its number of models) and both means recomputed from the stored
-- pair ARs. Every distinct relabelling is enumerated when there are at most max_exact (4 archs x 2
-- seeds: 105; 2 x 2: 3), p = #{relabellings with a difference >= observed} / n_relabellings;
-- otherwise n_perm random ones with a fixed seed, p = (1 + #{>= observed}) / (1 + n_perm).
-- min_p is the smallest p the design can give. p_value_common: the same test on ar_common.
-- param n_perm: 10000         -- random relabellings, when there are more than max_exact distinct ones
-- param max_exact: 100000     -- enumerate every distinct relabelling when there are at most this many
-- param seed: 0               -- seed of the random relabellings (results are deterministic)
-- param segmenter: NULL       -- only models with a finished ingest counted with this segmenter, or NULL for all (AR itself does not depend on it)
-- param split: 'test'         -- the split the ingests cover
-- param target: 'true'        -- Grad-CAM target of the ingests: 'true' or 'predicted'
-- DuckDB's multi-argument hash() mixes its arguments weakly (hash(0, x, y) = hash(x, y)), so
-- random draws chain single-argument hashes: hash(xor(hash(xor(hash(seed), a)), b)).
WITH RECURSIVE pair_means AS (
    SELECT p.model_a, p.model_b, avg(p.ar) AS ar, avg(p.ar_common) AS ar_common,
           count(p.ar_common) = count(*) AS has_common
    FROM ar_pairs(segmenter := segmenter, split := split, target := target) p
    GROUP BY p.model_a, p.model_b
),
members AS (
    -- The models taking part, in architecture order; grp numbers the architectures.
    SELECT m.model, m.arch, row_number() OVER (ORDER BY m.arch, m.model) AS pos,
           dense_rank() OVER (ORDER BY m.arch) AS grp
    FROM models m
    WHERE m.model IN (SELECT pm.model_a FROM pair_means pm UNION SELECT pm.model_b FROM pair_means pm)
),
pairs AS (
    SELECT a.pos AS pos_a, b.pos AS pos_b, pm.ar, pm.ar_common, pm.has_common,
           CASE WHEN a.arch <> b.arch THEN 'architecture' ELSE 'seed' END AS comparison
    FROM pair_means pm JOIN members a ON a.model = pm.model_a JOIN members b ON b.model = pm.model_b
),
arch_sizes AS (SELECT m.grp, count(*) AS size FROM members m GROUP BY m.grp),
size_counts AS (SELECT a.size, count(*) AS archs FROM arch_sizes a GROUP BY a.size),
design AS (
    -- Distinct relabellings = set partitions of the models into blocks of the architectures'
    -- sizes: n! / (prod_arch size! * prod_size (archs of that size)!).
    SELECT n.n_models, s.sizes,
           round(exp(lgamma(n.n_models + 1) - s.lg - c.lg)) AS n_distinct,
           round(exp(lgamma(n.n_models + 1) - s.lg - c.lg)) <= max_exact AS exact
    FROM (SELECT count(*)::INTEGER AS n_models FROM members) n,
         (SELECT list(a.size ORDER BY a.size DESC) AS sizes, sum(lgamma(a.size + 1)) AS lg FROM arch_sizes a) s,
         (SELECT sum(lgamma(c.archs + 1)) AS lg FROM size_counts c) c
),
partitions(k, groups, sizes) AS (
    -- Every distinct relabelling, as a restricted growth string (model k joins an open block or
    -- opens the next one), keeping only prefixes whose block sizes still fit the architectures'
    -- (sorted, each no larger than its counterpart), so no work is spent on dead ends.
    SELECT 1, [1], [1] FROM design d WHERE d.exact AND d.n_models >= 2
    UNION ALL
    SELECT x.k + 1, list_append(x.groups, x.g), x.new_sizes
    FROM (SELECT p.k, p.groups, p.g,
                 CASE WHEN p.g > len(p.sizes) THEN list_append(p.sizes, 1)
                      ELSE list_transform(p.sizes, lambda s, i: s + (i = p.g)::INTEGER) END AS new_sizes
          FROM (SELECT q.k, q.groups, q.sizes, unnest(range(1, len(q.sizes) + 2)) AS g FROM partitions q) p) x,
         design d
    WHERE x.k < d.n_models AND len(x.new_sizes) <= len(d.sizes)
      AND list_bool_and(list_transform(list_sort(x.new_sizes, 'DESC'), lambda s, i: s <= d.sizes[i]))
),
shuffled AS (
    -- Random relabelling b: the models sorted by a hash of (seed, b, model) take the
    -- architecture labels in order.
    SELECT rb.b, m.pos,
           row_number() OVER (PARTITION BY rb.b ORDER BY hash(xor(hash(xor(hash(seed::UBIGINT), rb.b::UBIGINT)), m.pos::UBIGINT)), m.pos) AS r
    FROM members m, range(n_perm) rb(b), design d
    WHERE NOT d.exact
),
relabellings AS (
    SELECT p.groups FROM partitions p, design d WHERE p.k = d.n_models
    UNION ALL
    SELECT list(lab.grp ORDER BY s.pos) AS groups FROM shuffled s JOIN members lab ON lab.pos = s.r GROUP BY s.b
),
null_stats AS (
    SELECT avg(p.ar) FILTER (WHERE rl.groups[p.pos_a] <> rl.groups[p.pos_b])
           - avg(p.ar) FILTER (WHERE rl.groups[p.pos_a] = rl.groups[p.pos_b]) AS diff,
           avg(p.ar_common) FILTER (WHERE rl.groups[p.pos_a] <> rl.groups[p.pos_b])
           - avg(p.ar_common) FILTER (WHERE rl.groups[p.pos_a] = rl.groups[p.pos_b]) AS diff_common
    FROM (SELECT rl.groups, row_number() OVER () AS id FROM relabellings rl) rl, pairs p
    GROUP BY rl.id
),
observed AS (
    SELECT avg(p.ar) FILTER (WHERE p.comparison = 'architecture')
           - avg(p.ar) FILTER (WHERE p.comparison = 'seed') AS diff,
           CASE WHEN bool_and(p.has_common) THEN avg(p.ar_common) FILTER (WHERE p.comparison = 'architecture')
                - avg(p.ar_common) FILTER (WHERE p.comparison = 'seed') END AS diff_common
    FROM pairs p
),
null_max AS (SELECT max(nd.diff) AS diff, max(nd.diff_common) AS diff_common FROM null_stats nd),
test AS (
    SELECT d.exact, count(nd.diff) AS n_relabellings,
           CASE WHEN d.exact THEN count(*) FILTER (WHERE nd.diff >= o.diff - 1e-12) / count(nd.diff)
                ELSE (1 + count(*) FILTER (WHERE nd.diff >= o.diff - 1e-12)) / (1 + count(nd.diff)) END AS p_value,
           CASE WHEN d.exact THEN count(*) FILTER (WHERE nd.diff >= mx.diff - 1e-12) / count(nd.diff)
                ELSE 1 / (1 + count(nd.diff)) END AS min_p,
           CASE WHEN any_value(o.diff_common) IS NULL THEN NULL
                WHEN d.exact THEN count(*) FILTER (WHERE nd.diff_common >= o.diff_common - 1e-12) / count(nd.diff_common)
                ELSE (1 + count(*) FILTER (WHERE nd.diff_common >= o.diff_common - 1e-12)) / (1 + count(nd.diff_common))
                END AS p_value_common
    FROM null_stats nd, observed o, design d, null_max mx
    WHERE o.diff IS NOT NULL
    GROUP BY d.exact
)
SELECT p.comparison, avg(p.ar) AS mean_ar, stddev_samp(p.ar) AS sd_ar, count(*) AS n_pairs,
       min(p.ar) AS min_ar, max(p.ar) AS max_ar,
       any_value(t.p_value) AS p_value, any_value(t.min_p) AS min_p,
       any_value(t.n_relabellings) AS n_relabellings, any_value(t.exact) AS exact,
       CASE WHEN bool_and(p.has_common) THEN avg(p.ar_common) END AS mean_ar_common,
       CASE WHEN bool_and(p.has_common) THEN stddev_samp(p.ar_common) END AS sd_ar_common,
       any_value(t.p_value_common) AS p_value_common,
       count(*) FILTER (WHERE p.has_common) AS n_pairs_common
FROM pairs p LEFT JOIN test t ON true
GROUP BY p.comparison
ORDER BY p.comparison
