"""Named queries (`.sql` files with a header) and ad-hoc SQL over a store."""

from cityq.queries.registry import NamedQuery, find_query, list_queries

__all__ = ["NamedQuery", "find_query", "list_queries"]
