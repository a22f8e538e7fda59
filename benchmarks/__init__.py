"""Benchmarks of the KPI engine (not part of the test suite)."""
