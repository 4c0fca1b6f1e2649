"""Benchmarks: speed is measured here, not asserted in timed tests (DESIGN.md, "Testing")."""
