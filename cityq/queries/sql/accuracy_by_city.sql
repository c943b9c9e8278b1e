-- name: accuracy by city
-- description: Classification accuracy per model and true city on a split (the recall of each
-- city), from the same predictions as `accuracy`.
-- param model: NULL           -- one model, or NULL for all
-- param split: 'test'         -- which split's images
WITH preds AS (
    SELECT p.model, p.image_id, p.true_index, p.pred_index FROM predictions p
    UNION
    SELECT g.model, mi.image_id, mi.target_index, mi.pred_index
    FROM mask_images mi JOIN ingests g ON g.ingest_id = mi.ingest_id
    WHERE g.target = 'true' AND g.model NOT IN (SELECT DISTINCT p2.model FROM predictions p2)
)
SELECT pr.model, im.city, count(*) AS n_images,
       avg((pr.pred_index = pr.true_index)::INTEGER) AS accuracy
FROM preds pr
JOIN images im ON im.image_id = pr.image_id
WHERE im.split = split AND (model IS NULL OR pr.model = model)
GROUP BY pr.model, im.city
ORDER BY pr.model, im.city
