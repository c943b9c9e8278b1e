"""`cityq check` on datasets: place leakage, and the problems `dataset add` recorded.

- error: a place with views in more than one split (a model is then tested on places it
  trained on), or a city whose every image is its own place while the file names share
  prefixes the way views of one place do (a missing or wrong --place-pattern / --layout);
- warning: images whose place id fell back to their stem (place_warnings.fallback);
- note: the other place warnings (no metadata) and the bad files an add skipped.
Each finding counts, shows five examples and says how to list them all.
"""

from __future__ import annotations

import json

from cityq.places import mostly_alone, shared_prefixes

EXAMPLES = 5


def dataset_findings(store) -> list:
    from cityq.store.check import Finding

    findings = []
    for dataset, n, examples in store.con.execute(
            "SELECT dataset, count(*), list(city || '/' || place_id ORDER BY city, place_id)[1:5] FROM "
            "(SELECT dataset, city, place_id FROM images GROUP BY ALL HAVING count(DISTINCT split) > 1) "
            "GROUP BY dataset ORDER BY dataset").fetchall():
        findings.append(Finding(
            "error", f"dataset {dataset}: {n} place(s) have views in more than one split (e.g. {', '.join(examples)}): "
                     "accuracies and test-split results are inflated by place leakage",
            f"register the folder again under a new --name (`cityq dataset add ROOT --name NEW ...`); list them "
            f"with `cityq sql \"select city, place_id, list(distinct split) from images where dataset = '{dataset}' "
            "group by all having count(distinct split) > 1\"`"))
    for dataset, city, images, alone, config in store.con.execute(
            "SELECT i.dataset, i.city, count(*), count(*) FILTER (WHERE i.views = 1), any_value(d.config) "
            "FROM (SELECT dataset, city, count(*) OVER (PARTITION BY dataset, city, place_id) AS views FROM images) i "
            "JOIN datasets d USING (dataset) GROUP BY ALL ORDER BY 1, 2").fetchall():
        if not mostly_alone(images, alone) or json.loads(config or "{}").get("single_view"):
            continue
        paths = [p for (p,) in store.con.execute(
            "SELECT path FROM images WHERE dataset = $d AND city = $c ORDER BY path",
            {"d": dataset, "c": city}).fetchall()]
        found = shared_prefixes(paths)
        if found:
            findings.append(Finding(
                "error", f"dataset {dataset}, city {city}: {found.line(alone)}: views of one place are likely in train "
                         "and test alike",
                "register the folder again under a new --name with --layout (pitts250k, tokyo247) or a --place-pattern "
                "whose group 1 is the shared part of the file name (or --single-view if every image is its own place)"))
    for dataset, kind, n, fallback, examples in store.con.execute(
            "SELECT dataset, kind, count(*), bool_or(fallback), list(path ORDER BY path)[1:5] FROM place_warnings "
            "GROUP BY ALL ORDER BY 1, 2").fetchall():
        effect = ("its place id fell back to the file stem, so its views may straddle splits" if fallback
                  else "nothing is wrong with its place")
        findings.append(Finding(
            "warning" if fallback else "note",
            f"dataset {dataset}: {n} image(s): {kind} ({effect}; e.g. {', '.join(examples)})",
            f"list them: `cityq sql \"select path, detail from place_warnings where dataset = '{dataset}' "
            f"and kind = '{kind}'\"`" + ("; register again under a new --name with a pattern or layout that "
                                         "places every file" if fallback else "")))
    for dataset, n, examples in store.con.execute(
            "SELECT dataset, count(*), list(path || ' (' || reason || ')' ORDER BY path)[1:3] FROM bad_files "
            "GROUP BY ALL ORDER BY 1").fetchall():
        findings.append(Finding(
            "note", f"dataset {dataset}: {n} bad file(s) were skipped when it was added (e.g. {'; '.join(examples)})",
            f"list them: `cityq sql \"select path, reason from bad_files where dataset = '{dataset}'\"`; fix them "
            "and add the folder again to register them"))
    return findings
