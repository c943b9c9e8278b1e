-- Reliance by removal (SPEC §11, issue 17): for each model, removal method, image and object,
-- the model's probability of the true city and its prediction before the object is removed,
-- after, and after the control (the same shape removed elsewhere in the image, the same way).
-- One row per (model, method, segmentation_id, image_id, object_id). Like the other fact
-- tables it has no key: `cityq reliance` writes a block of images in one transaction and skips
-- the pairs already there, and `cityq check` looks for duplicates.
CREATE TABLE reliance (
    model            VARCHAR NOT NULL,
    method           VARCHAR NOT NULL,   -- 'redraw', 'impute', 'mean', 'blur'
    segmentation_id  INTEGER NOT NULL,   -- the class maps that say which pixels are the object's
    image_id         INTEGER NOT NULL,
    object_id        SMALLINT NOT NULL,
    pixels           INTEGER NOT NULL,   -- the object's pixels at the model's input size (N_p,i)
    control_overlap  REAL NOT NULL,      -- share of the control's pixels on the object itself (0 where it fits elsewhere)
    target_index     SMALLINT NOT NULL,  -- the true city, as the model's class index
    p_before         REAL NOT NULL,      -- softmax probability of the true city
    p_after          REAL NOT NULL,
    p_control        REAL NOT NULL,
    pred_before      SMALLINT NOT NULL,  -- predicted class index
    pred_after       SMALLINT NOT NULL,
    pred_control     SMALLINT NOT NULL,
    written_at       TIMESTAMP NOT NULL
);
