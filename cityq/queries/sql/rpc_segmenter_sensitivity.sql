-- name: rpc segmenter sensitivity
-- description: How segmentation errors move R_pc: for each model, city and object, R_pc counted with a
-- learned segmenter beside R_pc counted with the dataset's true labels, from two ingests of the same
-- model, split and target (same masks, different N and M). The paper never measured this.
-- param threshold: 0.5        -- explanation threshold; any value on both ingests' grids
-- param segmenter: NULL       -- the learned segmenter, or NULL for every one with a labels twin
-- param model: NULL           -- one model, or NULL for all
-- param split: 'test'         -- the split the ingests cover
-- param target: 'true'        -- Grad-CAM target of the ingests: 'true' or 'predicted'
-- param min_mean_pixels: NULL -- keep objects whose mean N with the true labels (zeros included) exceeds this; NULL = 100 at 224x224, scaled by area
WITH ing AS (
    SELECT f.ingest_id, f.model, f.segmenter, f.dataset, f.height, f.width,
           threshold_position(f.thresholds, threshold) AS t_pos,
           coalesce(min_mean_pixels, 100.0 * f.hw / 50176) AS min_px
    FROM finished_ingests(model := model, split := split, target := target) f
),
pairs AS (
    SELECT a.model, a.segmenter, a.ingest_id AS seg_ingest, b.ingest_id AS ref_ingest,
           a.t_pos AS seg_pos, b.t_pos AS ref_pos, b.min_px
    FROM ing a JOIN ing b ON b.model = a.model AND b.dataset = a.dataset
                         AND b.height = a.height AND b.width = a.width AND b.segmenter = 'labels'
    WHERE a.segmenter <> 'labels' AND name_in(a.segmenter, segmenter)
      AND a.t_pos IS NOT NULL AND b.t_pos IS NOT NULL
),
city_images AS (
    SELECT mi.ingest_id, im.city, count(*) AS n_images
    FROM mask_images mi JOIN images im ON im.image_id = mi.image_id
    GROUP BY mi.ingest_id, im.city
),
sums AS (
    SELECT p.seg_ingest, p.ref_ingest, im.city, oc.object_id,
           sum(CASE WHEN oc.ingest_id = p.seg_ingest THEN oc.n_pixels ELSE 0 END)::BIGINT AS n_seg,
           sum(CASE WHEN oc.ingest_id = p.seg_ingest THEN oc.m_pixels[p.seg_pos] ELSE 0 END)::BIGINT AS m_seg,
           sum(CASE WHEN oc.ingest_id = p.ref_ingest THEN oc.n_pixels ELSE 0 END)::BIGINT AS n_ref,
           sum(CASE WHEN oc.ingest_id = p.ref_ingest THEN oc.m_pixels[p.ref_pos] ELSE 0 END)::BIGINT AS m_ref
    FROM pairs p
    JOIN object_counts oc ON oc.ingest_id IN (p.seg_ingest, p.ref_ingest)
    JOIN images im ON im.image_id = oc.image_id
    GROUP BY p.seg_ingest, p.ref_ingest, im.city, oc.object_id
)
SELECT p.model, p.segmenter, s.city, o.name AS object, round(threshold, 6) AS threshold,
       s.m_seg / nullif(s.n_seg, 0) AS rpc_segmenter,
       s.m_ref / nullif(s.n_ref, 0) AS rpc_labels,
       s.m_seg / nullif(s.n_seg, 0) - s.m_ref / nullif(s.n_ref, 0) AS rpc_difference,
       s.n_seg / ci.n_images AS mean_pixels_segmenter,
       s.n_ref / ci.n_images AS mean_pixels_labels,
       ci.n_images,
       p.seg_ingest, p.ref_ingest, s.object_id
FROM sums s
JOIN pairs p ON p.seg_ingest = s.seg_ingest AND p.ref_ingest = s.ref_ingest
JOIN city_images ci ON ci.ingest_id = p.ref_ingest AND ci.city = s.city
JOIN objects o ON o.object_id = s.object_id
WHERE s.n_ref / ci.n_images > p.min_px
ORDER BY p.model, p.segmenter, s.city, abs(s.m_seg / nullif(s.n_seg, 0) - s.m_ref / nullif(s.n_ref, 0)) DESC NULLS LAST, o.name
