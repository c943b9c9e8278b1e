-- name: poisson weight
-- kind: scalar
-- description: A Poisson(1) draw from a uniform u in [0, 1), by inverting the CDF (capped at 7,
-- which the CDF leaves with probability 1e-5): the weight of one resampling unit in one
-- resample of the Poisson bootstrap. The queries feed it a hashed uniform of (unit, resample),
-- so every run and every query draws the same weights.
-- param u:                    -- the uniform
CASE WHEN u < 0.36787944 THEN 0 WHEN u < 0.73575888 THEN 1 WHEN u < 0.91969860 THEN 2
     WHEN u < 0.98101184 THEN 3 WHEN u < 0.99634015 THEN 4 WHEN u < 0.99940582 THEN 5
     WHEN u < 0.99991676 THEN 6 ELSE 7 END
