-- name: embedding
-- description: The t-SNE map of each model's Grad-CAM masks (paper Fig 3): one row per model,
-- embedding method and image of the model's mask ingest (see `finished ingests`), with the
-- image's city and its 2-D coordinates. Written by `cityq embed`; plot x against y coloured by city.
-- param model: NULL    -- one model, or NULL for all
-- param method: NULL   -- t-SNE implementation: 'opentsne-fast', 'opentsne' or 'sklearn', or NULL for all
-- param split: 'test'  -- the split the ingest covers
-- param target: 'true' -- Grad-CAM target of the ingest: 'true' or 'predicted'
SELECT f.model, im.city, e.image_id, e.x, e.y, e.method, e.ingest_id
FROM embeddings e
JOIN finished_ingests(model := model, split := split, target := target) f ON f.ingest_id = e.ingest_id
JOIN images im ON im.image_id = e.image_id
WHERE f.mask_ingest AND (method IS NULL OR e.method = method)
ORDER BY f.model, e.method, e.image_id
