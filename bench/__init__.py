"""Benchmarks of the product, each printing its raw figures and a ratio measured in one run.

Run them all with `python -m bench` (or `make bench`), one with `python -m bench NAME`.
"""
