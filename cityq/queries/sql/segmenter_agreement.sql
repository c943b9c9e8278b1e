-- name: segmenter agreement
-- description: How well a learned segmenter's pixel counts agree with the dataset's own labels, per
-- segmenter, dataset and object, on the images both segmented at the same geometry. Computed from
-- N_p,i alone, so the figures are upper bounds of the per-pixel ones: count_iou = sum_i min(N_seg, N_labels)
-- / sum_i max(N_seg, N_labels) >= IoU, and count_accuracy (the same min summed over all objects, per
-- pixel) >= pixel accuracy. The exact test-split pixel accuracy and mIoU of a trained segmenter are in
-- `segmenters.metrics` (column exact_*), measured at its own input size.
-- param segmenter: NULL   -- one segmenter, or NULL for every segmenter other than labels
-- param dataset: NULL     -- one dataset, or NULL for all datasets with labels
-- param split: NULL       -- only images of this split ('train', 'val', 'test'), or NULL for all
WITH pairs AS (
    SELECT s.segmentation_id AS seg_id, l.segmentation_id AS ref_id, s.segmenter, s.dataset,
           s.height * s.width AS hw
    FROM segmentations s
    JOIN segmentations l ON l.dataset = s.dataset AND l.height = s.height AND l.width = s.width
                        AND l.segmenter = 'labels'
    WHERE s.segmenter <> 'labels'
      AND name_in(s.segmenter, segmenter) AND name_in(s.dataset, dataset)
),
shared AS (
    SELECT p.seg_id, p.ref_id, a.image_id
    FROM pairs p
    JOIN segmented_images a ON a.segmentation_id = p.seg_id
    JOIN segmented_images b ON b.segmentation_id = p.ref_id AND b.image_id = a.image_id
    JOIN images im ON im.image_id = a.image_id
    WHERE split IS NULL OR im.split = split
),
counts AS (
    SELECT u.seg_id, u.image_id, u.object_id, sum(u.n_seg) AS n_seg, sum(u.n_ref) AS n_ref
    FROM (
        SELECT sh.seg_id, sh.image_id, x.object_id, x.n_pixels::BIGINT AS n_seg, 0::BIGINT AS n_ref
        FROM shared sh JOIN pixel_counts x ON x.segmentation_id = sh.seg_id AND x.image_id = sh.image_id
        UNION ALL
        SELECT sh.seg_id, sh.image_id, y.object_id, 0::BIGINT AS n_seg, y.n_pixels::BIGINT AS n_ref
        FROM shared sh JOIN pixel_counts y ON y.segmentation_id = sh.ref_id AND y.image_id = sh.image_id
    ) u
    GROUP BY u.seg_id, u.image_id, u.object_id
),
per_segmentation AS (
    SELECT c.seg_id, count(DISTINCT c.image_id) AS n_images,
           sum(least(c.n_seg, c.n_ref)) / sum(c.n_ref) AS count_accuracy
    FROM counts c GROUP BY c.seg_id
)
SELECT p.segmenter, p.dataset, o.name AS object,
       sum(least(c.n_seg, c.n_ref)) / nullif(sum(greatest(c.n_seg, c.n_ref)), 0) AS count_iou,
       sum(c.n_seg) / ps.n_images AS mean_pixels_segmenter,
       sum(c.n_ref) / ps.n_images AS mean_pixels_labels,
       ps.count_accuracy,
       ps.n_images,
       CAST(sg.metrics->>'pixel_accuracy' AS DOUBLE) AS exact_pixel_accuracy,
       CAST(sg.metrics->>'miou' AS DOUBLE) AS exact_miou,
       CAST(sg.metrics->'iou'->>CAST(c.object_id AS VARCHAR) AS DOUBLE) AS exact_iou,
       c.object_id
FROM counts c
JOIN pairs p ON p.seg_id = c.seg_id
JOIN per_segmentation ps ON ps.seg_id = c.seg_id
JOIN objects o ON o.object_id = c.object_id
LEFT JOIN segmenters sg ON sg.segmenter = p.segmenter
GROUP BY p.segmenter, p.dataset, o.name, c.object_id, ps.n_images, ps.count_accuracy, sg.metrics
ORDER BY p.segmenter, p.dataset, sum(c.n_ref) DESC, o.name
