"""``make bench``: run every benchmark module of this package and write its table to results/bench."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import time

from ..paths import REPO_ROOT
from . import __path__ as BENCH_PATH


def main(argv=None) -> None:
    names = sorted(m.name for m in pkgutil.iter_modules(BENCH_PATH) if not m.name.startswith("_"))
    parser = argparse.ArgumentParser(description="Run the benchmarks; tables go to results/bench/.")
    parser.add_argument("--only", nargs="*", choices=names, help="benchmarks to run (default: all)")
    args = parser.parse_args(argv)
    out_dir = REPO_ROOT / "results" / "bench"
    for name in args.only or names:
        start = time.perf_counter()
        print(f"[bench] {name} ...", flush=True)
        table = importlib.import_module(f"{__package__}.{name}").run(out_dir)
        print(table.to_string(index=False), flush=True)
        print(f"[bench] {name}: {time.perf_counter() - start:.0f} s -> results/bench/", flush=True)


if __name__ == "__main__":
    main()
