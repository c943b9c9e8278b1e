-- name: top objects
-- description: The top k objects by lift per model and city, among the objects passing the
-- object filter and present in at least min_support of the city's images (the rows and the
-- rank of `rpc by city ci`, which resamples only these k); ties broken by R_pc, then by name.
-- lift_low is the lift's 95% bootstrap lower bound: a lift whose lower bound is near 1 is not
-- evidence that the explanations favour the object.
-- param k: 5                  -- how many objects per model and city
-- param min_support: 5        -- keep objects present in at least this many of the city's images
-- param threshold: 0.5        -- explanation threshold; any value on the stored grid
-- param min_mean_pixels: NULL -- object filter (NULL = 100 at 224x224, scaled by image area)
-- param model: NULL           -- one model, or NULL for all
-- param segmenter: NULL       -- one segmenter, or NULL for all
-- param split: 'test'         -- the split the ingest covers
-- param target: 'true'        -- Grad-CAM target of the ingest: 'true' or 'predicted'
-- param n_boot: 1000          -- bootstrap resamples of the lower bound (see `rpc by city ci`)
-- param seed: 0               -- seed of the resampling (results are deterministic)
-- param unit: NULL            -- what to resample: 'place', 'image', or NULL (places where the dataset has places with several images)
SELECT r.model, r.segmenter, r.city, r.rank, r.object, r.rpc, r.lift, r.lift_low, r.lift_high, r.chance_rpc,
       r.n_images_with, r.threshold, r.mean_pixels, r.unit
FROM rpc_by_city_ci(threshold := threshold, min_mean_pixels := min_mean_pixels, model := model,
                    segmenter := segmenter, split := split, target := target,
                    n_boot := n_boot, seed := seed, unit := unit, min_support := min_support, k := k) r
ORDER BY r.model, r.segmenter, r.city, r.rank
