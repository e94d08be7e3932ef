"""Benchmarks for flask-pact-states: ratios to baselines measured in the same run."""
