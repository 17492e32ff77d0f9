"""Read models built from Hour Ledger's global event log: balances and statements, as-of
balances, statistics by region, organisation, category, exchange point and month.

Dependencies point one way: projections import ledger, never api. See docs/projections.md.
"""

from projections.read_models import ReadModels

__all__ = ["ReadModels"]
