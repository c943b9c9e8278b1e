-- name: embedding separation
-- description: How well each model's mask map separates cities (the paper judges Fig 3 by eye):
-- leave-one-out k-NN accuracy of the city labels, in the 2-D t-SNE map (space 'tsne') and in
-- the PCA space t-SNE started from (space 'pca'), euclidean distance, majority vote (a tie goes
-- to the alphabetically first city). `chance` is the share of the most common city. Compares
-- every pair of images: O(N^2) per map, seconds for a few thousand images.
-- param model: NULL    -- one model, or NULL for all
-- param method: NULL   -- t-SNE implementation: 'sklearn' or 'opentsne', or NULL for all
-- param k: 5           -- neighbours that vote
-- param split: 'test'  -- the split the ingest covers
-- param target: 'true' -- Grad-CAM target of the ingest: 'true' or 'predicted'
WITH pts AS (
    SELECT g.model, e.ingest_id, e.method, e.image_id, im.city, e.x, e.y, e.pca
    FROM embeddings e
    JOIN ingests g ON g.ingest_id = e.ingest_id
    JOIN images im ON im.image_id = e.image_id
    WHERE g.split = split AND g.target = target
      AND (model IS NULL OR g.model = model)
      AND (method IS NULL OR e.method = method)
),
-- The k nearest other images of each image, in each space (min_by keeps the k smallest).
neighbours AS (
    SELECT a.ingest_id, a.method, a.image_id, a.city, 'tsne' AS space,
           min_by(b.city, sqrt((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)), k) AS cities
    FROM pts a JOIN pts b
      ON b.ingest_id = a.ingest_id AND b.method = a.method AND b.image_id <> a.image_id
    GROUP BY a.ingest_id, a.method, a.image_id, a.city
    UNION ALL
    SELECT a.ingest_id, a.method, a.image_id, a.city, 'pca' AS space,
           min_by(b.city, list_distance(a.pca, b.pca), k) AS cities
    FROM pts a JOIN pts b
      ON b.ingest_id = a.ingest_id AND b.method = a.method AND b.image_id <> a.image_id
    GROUP BY a.ingest_id, a.method, a.image_id, a.city
),
votes AS (
    SELECT n.ingest_id, n.method, n.space, n.image_id, n.city, v.voted, count(*) AS n_votes
    FROM neighbours n, unnest(n.cities) AS v(voted)
    GROUP BY n.ingest_id, n.method, n.space, n.image_id, n.city, v.voted
),
predicted AS (
    SELECT vt.ingest_id, vt.method, vt.space, vt.image_id, vt.city,
           first(vt.voted ORDER BY vt.n_votes DESC, vt.voted) AS predicted_city
    FROM votes vt
    GROUP BY vt.ingest_id, vt.method, vt.space, vt.image_id, vt.city
),
city_share AS (
    SELECT p.ingest_id, p.method, max(p.n) / sum(p.n) AS chance
    FROM (SELECT q.ingest_id, q.method, q.city, count(*) AS n FROM pts q GROUP BY ALL) p
    GROUP BY p.ingest_id, p.method
)
SELECT g.model, pr.method, pr.space, k AS k,
       avg((pr.predicted_city = pr.city)::DOUBLE) AS accuracy,
       cs.chance,
       count(*) AS n_images,
       pr.ingest_id
FROM predicted pr
JOIN ingests g ON g.ingest_id = pr.ingest_id
JOIN city_share cs ON cs.ingest_id = pr.ingest_id AND cs.method = pr.method
GROUP BY g.model, pr.method, pr.space, pr.ingest_id, cs.chance
ORDER BY g.model, pr.method, pr.space DESC
