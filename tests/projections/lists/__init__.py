"""Tests of the lists, search and the counter's look-ups (projections/lists/)."""
