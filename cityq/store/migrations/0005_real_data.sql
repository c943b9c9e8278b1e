-- Real data as it ships (issue 22): what a layout knows about each image, and the images whose
-- place could only partly be worked out. Columns are NULL where a data set does not say.

ALTER TABLE images ADD COLUMN role VARCHAR;          -- 'database' or 'query' (layouts that divide them)
ALTER TABLE images ADD COLUMN source_split VARCHAR;  -- the data set's own split, e.g. pitts250k_train.mat
ALTER TABLE images ADD COLUMN utm_easting DOUBLE;    -- metres, from the data set's .mat files
ALTER TABLE images ADD COLUMN utm_northing DOUBLE;
ALTER TABLE images ADD COLUMN utm_zone VARCHAR;      -- '17T' Pittsburgh, '54S' Tokyo
ALTER TABLE images ADD COLUMN latitude DOUBLE;       -- degrees, e.g. Tokyo 24/7's query .csv files
ALTER TABLE images ADD COLUMN longitude DOUBLE;

-- One row per (image or metadata file, kind) a layout or --place-pattern could only partly
-- place: the place id fell back to the stem, or the image has no metadata. Rows accumulate
-- over adds (a registered image keeps its place id); `cityq check` summarises them.
CREATE TABLE place_warnings (
    dataset  VARCHAR NOT NULL,
    path     VARCHAR NOT NULL,   -- relative to the dataset root
    kind     VARCHAR NOT NULL,   -- e.g. 'does not match --place-pattern'
    detail   VARCHAR NOT NULL,
    fallback BOOLEAN NOT NULL,   -- the place id fell back to the stem: its place's views may straddle splits
    seen_at  TIMESTAMP NOT NULL
);
