"""Benchmarks: speed is measured here, not asserted in timed tests (DESIGN.md, "Testing").

Run them from a checkout (`python bench/<name>.py`): each puts the checkout on sys.path first, so they
can import this package. The fakes they drive (fake Slack, signed requests) come from the `testkit` package."""
