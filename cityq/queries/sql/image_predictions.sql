-- name: image predictions
-- description: Each image's true and predicted city per model on a split, with `correct`: from
-- `predictions` (written by training and import), or, for a model without rows there, from the
-- predictions recorded with its true-target ingests. What `accuracy` and `accuracy by city`
-- average; filter `NOT correct` to see a model's mistakes.
-- param model: NULL           -- one model, or NULL for all
-- param split: 'test'         -- which split's images
WITH preds AS (
    SELECT p.model, p.image_id, p.true_index, p.pred_index FROM predictions p
    UNION
    SELECT g.model, mi.image_id, mi.target_index, mi.pred_index
    FROM mask_images mi JOIN ingests g ON g.ingest_id = mi.ingest_id
    WHERE g.target = 'true' AND g.model NOT IN (SELECT DISTINCT p2.model FROM predictions p2)
)
SELECT pr.model, pr.image_id, im.city, im.split, pr.true_index, pr.pred_index,
       pr.pred_index = pr.true_index AS correct
FROM preds pr
JOIN images im ON im.image_id = pr.image_id
WHERE im.split = split AND name_in(pr.model, model)
ORDER BY pr.model, pr.image_id
