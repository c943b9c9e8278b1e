"""Parsing the header of a named-query file:

    -- name: rpc by city
    -- description: R_pc and lift per model, city and object at one threshold.
    -- param threshold: 0.5   -- explanation threshold; any value on the stored grid
    SELECT ...

The description may run over several `-- description:`/`--` continuation lines until the
first `-- param` or SQL line. A `-- kind: scalar` line makes the file a scalar macro (an
expression, not a table: `threshold_position(thresholds, threshold)`), whose parameters have
no default (`-- param thresholds:`) and are passed by position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PARAM = re.compile(r"^--\s*param\s+([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*?)\s*(?:--\s*(.*))?$")
KINDS = ("table", "scalar")


@dataclass(frozen=True)
class Param:
    name: str
    default: str  # a SQL literal: 0.5, 'test', NULL; '' for a scalar macro's positional parameter
    help: str = ""


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    params: tuple[Param, ...] = field(default_factory=tuple)
    body: str = ""
    kind: str = "table"


def parse(text: str, source: str) -> Header:
    name = None
    kind = "table"
    description: list[str] = []
    params: list[Param] = []
    body_lines: list[str] = []
    in_header = True
    for line in text.splitlines():
        stripped = line.strip()
        if in_header and stripped.startswith("--"):
            content = stripped[2:].strip()
            if content.startswith("name:"):
                name = content[5:].strip()
            elif content.startswith("kind:"):
                kind = content[5:].strip()
            elif content.startswith("description:"):
                description.append(content[12:].strip())
            elif (match := _PARAM.match(stripped)) is not None:
                params.append(Param(match.group(1), match.group(2), (match.group(3) or "").strip()))
            elif description and not params:
                description.append(content)
            continue
        if in_header and not stripped:
            continue
        in_header = False
        body_lines.append(line)
    if not name:
        raise ValueError(f"{source}: named query has no '-- name:' header line")
    if kind not in KINDS:
        raise ValueError(f"{source}: kind {kind!r} is not one of {', '.join(KINDS)}")
    body = "\n".join(body_lines).strip().rstrip(";").strip()
    if not body:
        raise ValueError(f"{source}: named query {name!r} has no SQL")
    return Header(name=name, description=" ".join(d for d in description if d), params=tuple(params), body=body,
                  kind=kind)
