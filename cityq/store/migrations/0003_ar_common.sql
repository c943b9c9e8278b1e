-- AR at a common resolution (issue 16): an architecture pair compares masks upsampled from
-- native grids of different sizes (4x4 for ResNet18 at 112 px, 28x28 for Simpler), a seed pair
-- never does. ar_common is AR after both native CAMs are area-averaged to the coarser grid of
-- the two and upsampled the same way (cityq/pipeline/residuals.py). NULL in rows written
-- before this migration: `cityq ingest` of either model computes it (and `cityq check` lists
-- the pairs that still lack it).
ALTER TABLE residuals ADD COLUMN ar_common DOUBLE;
ALTER TABLE residual_pairs ADD COLUMN mean_ar_common DOUBLE;
