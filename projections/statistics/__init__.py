"""Statistics: summaries and breakdowns by region, organisation, category, exchange point and
month (SPEC §3), from daily figures and distinct counts.

- `tables.py`: its tables and the keys their rows are filed under (groups, scopes, measures);
- `dimensions.py`: regions, their levels and roll-up keys, region names, days and months;
- `projection.py`: its rule, following the log (`StatisticsProjection`);
- `queries.py`: its answers (`StatisticsQueries`: summary, breakdown);
- `bulk.py`: its rule in set-based SQL for PostgreSQL's bulk rebuild (`StatisticsBulk`).
"""
