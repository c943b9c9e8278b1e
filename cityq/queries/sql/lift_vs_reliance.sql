-- name: lift vs reliance
-- description: What Grad-CAM says a model uses beside what it really uses, per model, removal
-- method, city and object: lift and R_pc at the threshold (`rpc by city`) and the object's net
-- reliance, its drop and its control's (`reliance by city`, without intervals). The objects
-- that pass the object filter and were removed; the counts and the removals use the same
-- segmenter's class maps.
-- param threshold: 0.5        -- explanation threshold; any value on the stored grid
-- param min_mean_pixels: NULL -- object filter (NULL = 100 at 224x224, scaled by image area)
-- param model: NULL           -- one model, or NULL for all
-- param method: NULL          -- removal method, or NULL for all
-- param segmenter: NULL       -- one segmenter, or NULL for all
-- param split: 'test'         -- the split of the ingest and of the removals
-- param target: 'true'        -- Grad-CAM target of the ingest: 'true' or 'predicted'
SELECT rr.model, rr.method, rr.segmenter, rr.city, rr.object, rp.lift, rp.rpc, rr.net, rr.drop,
       rr.control_drop, rr.flip_share, rr.n_images AS n_removed, rp.n_images, rp.mean_pixels, rp.ingest_id, rr.object_id
FROM reliance_by_city(model := model, method := method, segmenter := segmenter, split := split, n_boot := 0) rr
JOIN rpc_by_city(threshold := threshold, min_mean_pixels := min_mean_pixels, model := model, segmenter := segmenter,
                 split := split, target := target) rp
    ON rp.model = rr.model AND rp.segmenter = rr.segmenter AND rp.city = rr.city AND rp.object_id = rr.object_id
ORDER BY rr.model, rr.method, rr.segmenter, rr.city, rp.lift DESC, rr.object
