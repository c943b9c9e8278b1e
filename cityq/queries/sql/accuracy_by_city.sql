-- name: accuracy by city
-- description: Classification accuracy per model and true city on a split (the recall of each
-- city), from the same rows as `accuracy` (`image predictions`).
-- param model: NULL           -- one model, or NULL for all
-- param split: 'test'         -- which split's images
SELECT p.model, p.city, count(*) AS n_images, avg(p.correct::INTEGER) AS accuracy
FROM image_predictions(model := model, split := split) p
GROUP BY p.model, p.city
ORDER BY p.model, p.city
