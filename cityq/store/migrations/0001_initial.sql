-- The first schema of a cityq store. Small dimension tables have keys; the large fact tables
-- (counts, residuals, embeddings, predictions) have none: keys and indexes slow DuckDB's
-- bulk inserts, and every writer replaces a whole unit (a block, a pair) in one transaction.

CREATE TABLE objects (
    object_id  SMALLINT PRIMARY KEY,  -- 0-based ADE20K-150 model output index
    name       VARCHAR NOT NULL,      -- first synonym: 'signboard', 'fence', 'skyscraper', 'earth'
    synonyms   VARCHAR NOT NULL,
    is_stuff   BOOLEAN NOT NULL
);

CREATE SEQUENCE run_ids START 1;
CREATE TABLE runs (
    run_id        INTEGER PRIMARY KEY DEFAULT nextval('run_ids'),
    stage         VARCHAR NOT NULL,   -- 'dataset add', 'train', 'segment', 'ingest', 'embed', ...
    subject       VARCHAR,            -- what it ran on: a dataset, model or segmenter name
    config        JSON,               -- the resolved config of the stage
    code_version  VARCHAR,
    started_at    TIMESTAMP NOT NULL,
    ended_at      TIMESTAMP,
    status        VARCHAR NOT NULL,   -- 'running', 'done', 'failed' (a killed run stays 'running')
    message       VARCHAR
);

CREATE TABLE datasets (
    dataset        VARCHAR PRIMARY KEY,
    root           VARCHAR NOT NULL,  -- absolute path of the class-folder root
    cities         VARCHAR[] NOT NULL, -- sorted; a model's class index is the position here
    split_seed     INTEGER NOT NULL,
    place_pattern  VARCHAR,           -- regex whose first group is the place id, or NULL
    config         JSON,
    created_at     TIMESTAMP NOT NULL
);

CREATE SEQUENCE image_ids START 1;
CREATE TABLE images (
    image_id     INTEGER PRIMARY KEY DEFAULT nextval('image_ids'),
    dataset      VARCHAR NOT NULL,
    city         VARCHAR NOT NULL,
    path         VARCHAR NOT NULL,    -- relative to the dataset root
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    sha256       VARCHAR NOT NULL,
    place_id     VARCHAR NOT NULL,    -- the file stem when no place pattern is given
    split        VARCHAR NOT NULL,    -- 'train', 'val', 'test'
    labels_path  VARCHAR,             -- relative path of '<stem>.labels.png', or NULL
    added_at     TIMESTAMP NOT NULL
);

CREATE TABLE bad_files (
    dataset   VARCHAR NOT NULL,
    path      VARCHAR NOT NULL,
    reason    VARCHAR NOT NULL,
    seen_at   TIMESTAMP NOT NULL
);

CREATE TABLE models (
    model          VARCHAR PRIMARY KEY,
    arch           VARCHAR NOT NULL,
    seed           INTEGER,
    dataset        VARCHAR NOT NULL,
    cities         VARCHAR[] NOT NULL, -- output index -> city
    img_size       INTEGER NOT NULL,   -- square input side in pixels
    source         VARCHAR NOT NULL,   -- 'trained' or 'imported'
    config         JSON,               -- resolved training config
    metrics        JSON,               -- best epoch, timings, ...
    test_accuracy  DOUBLE,
    checkpoint     VARCHAR NOT NULL,   -- path relative to the store directory
    code_version   VARCHAR,
    created_at     TIMESTAMP NOT NULL
);

CREATE TABLE epochs (
    model       VARCHAR NOT NULL,
    epoch       INTEGER NOT NULL,
    lr          DOUBLE,
    train_loss  DOUBLE,
    train_acc   DOUBLE,
    val_loss    DOUBLE,
    val_acc     DOUBLE,
    seconds     DOUBLE
);

CREATE TABLE predictions (
    model       VARCHAR NOT NULL,
    image_id    INTEGER NOT NULL,
    true_index  SMALLINT NOT NULL,
    pred_index  SMALLINT NOT NULL,
    probs       FLOAT[] NOT NULL       -- softmax, in the order of models.cities
);

CREATE TABLE segmenters (
    segmenter   VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,     -- registry name: 'labels', 'mit-semseg', 'segformer', 'trained'
    path        VARCHAR,              -- weights folder or file (absolute, or relative to the store)
    config      JSON,
    metrics     JSON,                 -- pixel accuracy, mIoU on the test split where known
    created_at  TIMESTAMP NOT NULL
);

-- One segmentation = one segmenter run over one dataset at one geometry (the classifier's input).
CREATE SEQUENCE segmentation_ids START 1;
CREATE TABLE segmentations (
    segmentation_id  INTEGER PRIMARY KEY DEFAULT nextval('segmentation_ids'),
    segmenter        VARCHAR NOT NULL,
    dataset          VARCHAR NOT NULL,
    height           INTEGER NOT NULL,
    width            INTEGER NOT NULL,
    zarr_path        VARCHAR NOT NULL,
    created_at       TIMESTAMP NOT NULL
);

-- Which images of a segmentation are complete: written to Zarr and counted, in one transaction.
CREATE TABLE segmented_images (
    segmentation_id  INTEGER NOT NULL,
    image_id         INTEGER NOT NULL,
    zarr_index       INTEGER NOT NULL  -- row of the image in the Zarr array
);

-- N_p,i: pixels of object p in image i (absent objects have no row: N = 0).
CREATE TABLE pixel_counts (
    segmentation_id  INTEGER NOT NULL,
    image_id         INTEGER NOT NULL,
    object_id        SMALLINT NOT NULL,
    n_pixels         INTEGER NOT NULL
);

-- One ingest = the masks of one model on one split, for one target, counted with one segmentation.
CREATE SEQUENCE ingest_ids START 1;
CREATE TABLE ingests (
    ingest_id        INTEGER PRIMARY KEY DEFAULT nextval('ingest_ids'),
    model            VARCHAR NOT NULL,
    split            VARCHAR NOT NULL,
    target           VARCHAR NOT NULL,  -- 'true' or 'predicted'
    segmentation_id  INTEGER NOT NULL,
    thresholds       DOUBLE[] NOT NULL, -- the grid; M and area lists follow its order
    height           INTEGER NOT NULL,
    width            INTEGER NOT NULL,
    cam_height       INTEGER NOT NULL,
    cam_width        INTEGER NOT NULL,
    block_size       INTEGER NOT NULL,
    n_images         INTEGER NOT NULL,
    zarr_path        VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,  -- 'running' until every block is in, then 'done'
    config           JSON,
    created_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP
);

-- A block of images whose masks are in Zarr and whose counts are below; written atomically.
CREATE TABLE mask_blocks (
    ingest_id   INTEGER NOT NULL,
    block       INTEGER NOT NULL,
    n_images    INTEGER NOT NULL,
    written_at  TIMESTAMP NOT NULL
);

-- One row per image of an ingest: where its mask is and what the model said.
CREATE TABLE mask_images (
    ingest_id     INTEGER NOT NULL,
    image_id      INTEGER NOT NULL,
    zarr_index    INTEGER NOT NULL,
    target_index  SMALLINT NOT NULL,
    pred_index    SMALLINT NOT NULL,
    area_pixels   INTEGER[] NOT NULL,  -- explanation area at each threshold of the grid
    mask_sum      DOUBLE NOT NULL      -- sum of the full-size mask (its mean area, soft)
);

-- Per image and object present in it: N, the soft sum S and M(t) at each threshold of the grid.
CREATE TABLE object_counts (
    ingest_id   INTEGER NOT NULL,
    image_id    INTEGER NOT NULL,
    object_id   SMALLINT NOT NULL,
    n_pixels    INTEGER NOT NULL,
    soft_sum    DOUBLE NOT NULL,
    m_pixels    INTEGER[] NOT NULL
);

-- AR per image for a pair of ingests on the same images (ingest_a < ingest_b).
CREATE TABLE residuals (
    ingest_a  INTEGER NOT NULL,
    ingest_b  INTEGER NOT NULL,
    image_id  INTEGER NOT NULL,
    ar        DOUBLE NOT NULL
);

CREATE TABLE residual_pairs (
    ingest_a     INTEGER NOT NULL,
    ingest_b     INTEGER NOT NULL,
    n_images     INTEGER NOT NULL,
    mean_ar      DOUBLE NOT NULL,
    computed_at  TIMESTAMP NOT NULL
);

CREATE TABLE embeddings (
    ingest_id   INTEGER NOT NULL,
    method      VARCHAR NOT NULL,  -- 'sklearn' or 'opentsne'
    image_id    INTEGER NOT NULL,
    x           DOUBLE NOT NULL,
    y           DOUBLE NOT NULL,
    pca         FLOAT[]            -- the PCA coordinates t-SNE started from
);

CREATE TABLE embedding_runs (
    ingest_id   INTEGER NOT NULL,
    method      VARCHAR NOT NULL,
    config      JSON,
    seconds     DOUBLE,
    created_at  TIMESTAMP NOT NULL
);
