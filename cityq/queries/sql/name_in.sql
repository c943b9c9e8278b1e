-- name: name in
-- kind: scalar
-- description: Whether a name is selected by a parameter that takes one name or several: NULL
-- selects every name, 'a' selects a, ['a', 'b'] selects both (what `-p model=a,b` binds).
-- param value:                -- the row's name (a model, segmenter, ...)
-- param names:                -- the parameter: NULL, one name, or a list of names
names IS NULL OR list_contains(coalesce(TRY_CAST(names AS VARCHAR[]), [names::VARCHAR]), value)
