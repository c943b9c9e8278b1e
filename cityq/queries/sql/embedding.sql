-- name: embedding
-- description: The t-SNE map of each model's Grad-CAM masks (paper Fig 3): one row per model,
-- embedding method and image, with the image's city and its 2-D coordinates. Written by
-- `cityq embed`; plot x against y coloured by city.
-- param model: NULL    -- one model, or NULL for all
-- param method: NULL   -- t-SNE implementation: 'sklearn' or 'opentsne', or NULL for all
-- param split: 'test'  -- the split the ingest covers
-- param target: 'true' -- Grad-CAM target of the ingest: 'true' or 'predicted'
SELECT g.model, im.city, e.image_id, e.x, e.y, e.method, e.ingest_id
FROM embeddings e
JOIN ingests g ON g.ingest_id = e.ingest_id
JOIN images im ON im.image_id = e.image_id
WHERE g.split = split AND g.target = target
  AND (model IS NULL OR g.model = model)
  AND (method IS NULL OR e.method = method)
ORDER BY g.model, e.method, e.image_id
