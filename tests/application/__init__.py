"""Tests of the use cases (HourLedger and its services) against both stores."""
