-- name: training curves
-- description: Loss and accuracy per model and epoch, on the train and the validation split
-- (the `epochs` rows `cityq train` records; imported models have none). One row per model,
-- epoch and split.
-- param model: NULL           -- one model, or NULL for all
SELECT e.model, m.arch, m.seed, e.epoch, s.split,
       CASE s.split WHEN 'train' THEN e.train_loss ELSE e.val_loss END AS loss,
       CASE s.split WHEN 'train' THEN e.train_acc ELSE e.val_acc END AS accuracy,
       e.lr, e.seconds
FROM epochs e
JOIN models m ON m.model = e.model
CROSS JOIN (VALUES ('train'), ('val')) s(split)
WHERE name_in(e.model, model)
ORDER BY e.model, e.epoch, s.split
