"""Tests of the HTTP API: shapes, errors, roles, languages, downloads, operations."""
