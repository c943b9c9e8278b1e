-- name: embedding separation
-- description: How well each model's mask map separates cities (the paper judges Fig 3 by eye):
-- leave-one-out k-NN accuracy of the city labels, in the 2-D t-SNE map (space 'tsne') and in
-- the PCA space t-SNE started from (space 'pca'), euclidean distance, majority vote (a tie goes
-- to the alphabetically first city). `chance` is the share of the most common city. Compares
-- every pair of images: O(N^2) per map, seconds for a few thousand images.
-- param model: NULL    -- one model, or NULL for all
-- param method: NULL   -- t-SNE implementation: 'opentsne-fast', 'opentsne' or 'sklearn', or NULL for all
-- param k: 5           -- neighbours that vote
-- param split: 'test'  -- the split the ingest covers
-- param target: 'true' -- Grad-CAM target of the ingest: 'true' or 'predicted'
WITH pts AS (
    -- The points of `embedding`, with the PCA coordinates t-SNE started from.
    SELECT p.model, p.ingest_id, p.method, p.image_id, p.city, p.x, p.y, e.pca
    FROM embedding(model := model, method := method, split := split, target := target) p
    JOIN embeddings e ON e.ingest_id = p.ingest_id AND e.method = p.method AND e.image_id = p.image_id
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
SELECT m.model, pr.method, pr.space, k AS k,
       avg((pr.predicted_city = pr.city)::DOUBLE) AS accuracy,
       cs.chance,
       count(*) AS n_images,
       pr.ingest_id
FROM predicted pr
JOIN (SELECT DISTINCT q.ingest_id, q.model FROM pts q) m ON m.ingest_id = pr.ingest_id
JOIN city_share cs ON cs.ingest_id = pr.ingest_id AND cs.method = pr.method
GROUP BY m.model, pr.method, pr.space, pr.ingest_id, cs.chance
ORDER BY m.model, pr.method, pr.space DESC
