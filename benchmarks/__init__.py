"""Benchmark harness: compares ways of deploying Django static files to S3.

Run it with ``python -m benchmarks.run --help``; see benchmarks/README.md.
"""
