"""``make bench``: run the benchmark modules of this package and write their tables to
results/bench (by default every module but those with ``BY_DEFAULT = False``, which take an hour
and run only when named with ``--only``)."""

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
    parser.add_argument("--only", nargs="*", choices=names,
                        help="benchmarks to run (default: all but paper_scale)")
    args = parser.parse_args(argv)
    out_dir = REPO_ROOT / "results" / "bench"
    modules = {name: importlib.import_module(f"{__package__}.{name}") for name in names}
    for name in args.only or [n for n in names if getattr(modules[n], "BY_DEFAULT", True)]:
        start = time.perf_counter()
        print(f"[bench] {name} ...", flush=True)
        table = modules[name].run(out_dir)
        print(table.to_string(index=False), flush=True)
        print(f"[bench] {name}: {time.perf_counter() - start:.0f} s -> results/bench/", flush=True)


if __name__ == "__main__":
    main()
