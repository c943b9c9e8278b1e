-- name: accuracy
-- description: Classification accuracy per model on a split: the share of images whose
-- predicted city is the true one (the rows of `image predictions`).
-- param model: NULL           -- one model, or NULL for all
-- param split: 'test'         -- which split's images
SELECT p.model, m.arch, m.seed, count(*) AS n_images, avg(p.correct::INTEGER) AS accuracy
FROM image_predictions(model := model, split := split) p
LEFT JOIN models m ON m.model = p.model
GROUP BY p.model, m.arch, m.seed
ORDER BY p.model
