-- name: resampling unit
-- kind: scalar
-- description: What a bootstrap over a dataset's images resamples: 'place' when the dataset has a
-- place with more than one image (Tokyo 24/7 has 12 views of each spot, Pittsburgh 24: views of
-- one place are not independent draws), else 'image'. A place is (city, images.place_id). `unit`
-- overrides the choice ('place' or 'image'); any other value stops the query with an error.
-- param unit:                 -- 'place', 'image', or NULL to decide from the dataset
-- param dataset:              -- the dataset whose images are resampled
CASE WHEN unit IS NULL
     THEN CASE WHEN EXISTS (SELECT 1 FROM images i WHERE i.dataset = dataset
                            GROUP BY i.city, i.place_id HAVING count(*) > 1)
               THEN 'place' ELSE 'image' END
     WHEN unit IN ('place', 'image') THEN unit
     ELSE error(format('unit must be ''place'', ''image'' or NULL, not ''{}''', unit)) END
