"""Lists and search (SPEC §7): a read model of its own over the event log — volunteers,
organisations, exchange points, API keys and transactions, with cursor pagination, filters and
name search (Chinese included). See docs/lists.md."""

from projections.lists.lists import Lists, Page

__all__ = ["Lists", "Page"]
