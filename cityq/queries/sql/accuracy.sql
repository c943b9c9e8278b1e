-- name: accuracy
-- description: Classification accuracy per model on a split: the share of images whose
-- predicted city is the true one (from `predictions`; for models without predictions, from the
-- predictions recorded with their true-target ingests).
-- param model: NULL           -- one model, or NULL for all
-- param split: 'test'         -- which split's images
WITH preds AS (
    SELECT p.model, p.image_id, p.true_index, p.pred_index FROM predictions p
    UNION
    SELECT g.model, mi.image_id, mi.target_index, mi.pred_index
    FROM mask_images mi JOIN ingests g ON g.ingest_id = mi.ingest_id
    WHERE g.target = 'true' AND g.model NOT IN (SELECT DISTINCT p2.model FROM predictions p2)
)
SELECT pr.model, m.arch, m.seed, count(*) AS n_images,
       avg((pr.pred_index = pr.true_index)::INTEGER) AS accuracy
FROM preds pr
JOIN images im ON im.image_id = pr.image_id
LEFT JOIN models m ON m.model = pr.model
WHERE im.split = split AND (model IS NULL OR pr.model = model)
GROUP BY pr.model, m.arch, m.seed
ORDER BY pr.model
