"""Problems found while reading many files, summarised: a count per kind and a few examples.

A real data set has hundreds of thousands of files; one line per problem buries the one that
matters. Callers keep the full list (in a table, for `cityq check`) and print `summary()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

EXAMPLES = 5


class Item(NamedTuple):
    kind: str  # short and fixed per cause: the summary groups by it
    path: str
    detail: str = ""
    fallback: bool = False  # the file's place id is a fallback: its views may straddle splits


@dataclass
class Problems:
    items: list[Item] = field(default_factory=list)

    def add(self, kind: str, path: str, detail: str = "", fallback: bool = False) -> None:
        self.items.append(Item(kind, path, detail, fallback))

    def __len__(self) -> int:
        return len(self.items)

    def by_kind(self) -> dict[str, list[tuple[str, str]]]:
        """kind -> [(path, detail)], kinds in order of first appearance."""
        out: dict[str, list[tuple[str, str]]] = {}
        for item in self.items:
            out.setdefault(item.kind, []).append((item.path, item.detail))
        return out

    def summary(self, indent: str = "    ", examples: int = EXAMPLES) -> list[str]:
        """One line per kind: `kind: N (e.g. a, b, c, d, e ...)`."""
        lines = []
        for kind, rows in self.by_kind().items():
            shown = ", ".join(path for path, _ in rows[:examples])
            more = " ..." if len(rows) > examples else ""
            lines.append(f"{indent}{kind}: {len(rows)} (e.g. {shown}{more})")
        return lines
