"""Ground-truth generators: one module per model of THEORY.md.

A generator is a function ``generate(rng, *, n, d, N, r, sigma, delta, design, noise, **params)
-> Problem``; ``design`` and ``noise`` are the callables of :mod:`theory_check.designs` and
:mod:`theory_check.noise` with their parameters already bound. A Hydra config in ``conf/model/``
names the generator with ``_target_``.
"""
