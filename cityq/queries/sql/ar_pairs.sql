-- name: ar pairs
-- description: The per-image AR rows of every pair of models (model_a < model_b) ingested on the
-- same images: image_id, ar (the masks as stored) and ar_common (both native CAMs area-averaged to
-- the coarser grid of the two first; NULL for a pair recorded before cityq computed it: ingest
-- either model again). AR does not depend on the segmenter, so a pair is read through whichever
-- ingests it was computed from; `segmenter` only chooses the models (those with a finished
-- ingest counted with it). What `ar by model pair` and `ar arch vs seed` read.
-- param model: NULL           -- only pairs with this model (or these models), or NULL for all
-- param segmenter: NULL       -- only models with a finished ingest counted with this segmenter, or NULL for all
-- param split: 'test'         -- the split the ingests cover
-- param target: 'true'        -- Grad-CAM target of the ingests: 'true' or 'predicted'
WITH ing AS (
    SELECT f.ingest_id, f.model FROM finished_ingests(split := split, target := target) f
),
chosen AS (
    SELECT DISTINCT s.model FROM finished_ingests(segmenter := segmenter, split := split, target := target) s
)
SELECT least(a.model, b.model) AS model_a, greatest(a.model, b.model) AS model_b, r.image_id, r.ar, r.ar_common
FROM residuals r
JOIN ing a ON a.ingest_id = r.ingest_a
JOIN ing b ON b.ingest_id = r.ingest_b
WHERE a.model IN (SELECT c.model FROM chosen c) AND b.model IN (SELECT c.model FROM chosen c)
  AND (name_in(a.model, model) OR name_in(b.model, model))
ORDER BY model_a, model_b, r.image_id
