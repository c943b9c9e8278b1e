-- name: removal method
-- kind: scalar
-- description: A removal method parameter, checked: 'redraw', 'impute', 'mean', 'blur' or NULL (all)
-- pass; any other value stops the query with an error that lists them (a typo must not answer
-- with no rows).
-- param method:               -- the parameter
CASE WHEN method IS NULL OR method IN ('redraw', 'impute', 'mean', 'blur') THEN method
     ELSE error(format('unknown removal method ''{}''; methods: redraw, impute, mean, blur', method)) END
