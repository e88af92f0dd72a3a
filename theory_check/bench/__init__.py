"""Benchmarks (``make bench``): each module has ``run(out_dir) -> DataFrame`` writing its table."""
