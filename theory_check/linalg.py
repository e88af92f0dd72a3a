"""Factorizations shared by estimators and generators (never an inverse of a Gram matrix), and
the choice of BLAS threads by problem size for the public estimators and solvers."""

from __future__ import annotations

import functools

import numpy as np
import scipy.linalg
import scipy.linalg.lapack


def default_rcond(shape: tuple[int, int]) -> float:
    """Relative cut below which singular values count as zero: ``max(shape) · eps``.

    Scaled with the size like LAPACK's rank decisions, so condition numbers up to ~1e12 are
    kept while exact rank deficiency (s_i ~ eps · s_max) is cut.
    """
    return max(shape) * np.finfo(float).eps


def thin_svd(A: np.ndarray, *, rcond: float | None = None):
    """Thin SVD of ``A`` restricted to its numerical rank.

    Returns ``U_k (m, k), s_k (k,), Vt_k (k, p)`` with ``s_k > rcond * s_max``.
    """
    U, s, Vt = scipy.linalg.svd(A, full_matrices=False, lapack_driver="gesdd", check_finite=False)
    if rcond is None:
        rcond = default_rcond(A.shape)
    k = int(np.sum(s > rcond * s[0])) if s.size and s[0] > 0 else 0
    return U[:, :k], s[:k], Vt[:k]


def binary_exponent(size: float) -> int:
    """The exponent e with ``size · 2^-e`` in [0.5, 1), for ``size > 0`` finite.

    Dividing data by 2^e (``np.ldexp(A, -e)``) is exact: only the exponents change, so a
    computation that is homogeneous in its data gives, on the scaled data and scaled back,
    bitwise the result it would give in exact-range arithmetic. Entries that fall below the
    subnormal range by the division are below ε·2^-1021 of the largest one.
    """
    return int(np.frexp(size)[1])


def truncate(A: np.ndarray, rank: int) -> np.ndarray:
    """Best rank-``rank`` approximation ``[A]_r`` (Eckart–Young), by :func:`top_singular_triplets`."""
    P, c, Qt = top_singular_triplets(A, rank)
    return (P * c) @ Qt


#: Smaller side of A from which :func:`top_singular_triplets` finds the top subspace from the
#: Gram matrix (0.18–0.21 of a full SVD's time at 512–1152, one BLAS thread; below it the full
#: SVD costs milliseconds and is used as before, bitwise).
GRAM_MIN_SIZE = 500
#: ... and largest rank, as a fraction of the smaller side (the eigenvectors' back-transform
#: grows with the rank).
GRAM_MAX_RANK_FRACTION = 1 / 8
#: Largest a-priori bound on sin θ between the Gram path's top subspace and the exact one;
#: beyond it (s_r and s_{r+1} nearly tied against the rounding of the Gram matrix) the full
#: SVD decides.
GRAM_SUBSPACE_TOL = 1e-6


def top_singular_triplets(A: np.ndarray, rank: int):
    """The top ``r' = min(rank, *A.shape)`` singular triplets of A (m, p):
    ``P (m, r'), c (r',), Qt (r', p)`` with ``[A]_r = P diag(c) Qt``.

    At n = N = 2048 a full SVD took 5.2 s (one BLAS thread) for the r = 2 triplets a truncation
    keeps. From ``GRAM_MIN_SIZE`` on, with rank at most ``GRAM_MAX_RANK_FRACTION`` of the
    smaller side s, the top r + 1 eigenpairs of the s×s Gram matrix (LAPACK's MRRR for a subset)
    give an orthonormal basis U of the top left (or right) subspace, about a fifth of the SVD's
    time; the triplets are then those of the r×p matrix UᵀA by a small SVD, so c are singular
    values of A restricted to col(U), not square roots of eigenvalues. The Gram matrix's
    rounding (``‖ΔG‖₂ <= γ_p‖A‖_F²``, Higham's γ, plus the eigensolver's backward error
    ``γ_s λ_1``) moves the subspace by at most ``sin θ <= ‖ΔG‖₂ / (λ_r − λ_{r+1})``
    (Davis–Kahan); when that bound exceeds ``GRAM_SUBSPACE_TOL`` the full SVD is taken instead.
    Measured against the full SVD on the n sweeps' instances at 2048, the fits agreed to 1e-13
    (the hard family, s_r/s_{r+1} = 1.001) and 2e-15 (the others).
    """
    m, p = A.shape
    small = min(m, p)
    if small < GRAM_MIN_SIZE or rank + 1 > GRAM_MAX_RANK_FRACTION * small:
        return _svd_triplets(A, rank)
    wide = m <= p
    B = A if wide else A.T  # (s, q), s <= q: the smaller Gram matrix
    G = B @ B.T
    values, U = scipy.linalg.eigh(G, subset_by_index=[small - rank - 1, small - 1],
                                  driver="evr", check_finite=False)
    lead, gap = values[-1], values[1] - values[0]
    perturbation = _gamma(B.shape[1]) * float(np.trace(G)) + _gamma(small) * abs(lead)
    if not gap > 0 or perturbation > GRAM_SUBSPACE_TOL * gap:
        return _svd_triplets(A, rank)
    U = U[:, :0:-1]  # the top r, in decreasing order
    P, c, Qt = scipy.linalg.svd(U.T @ B, full_matrices=False, lapack_driver="gesdd",
                                check_finite=False)
    left, right = U @ P, Qt
    return (left, c, right) if wide else (right.T, c, left.T)


#: Largest width of the interval :func:`nuclear_norm` proves from the top subspace, relative to
#: its lower end; a wider one (A not of the declared rank) is replaced by the full spectrum.
NUCLEAR_INTERVAL_RTOL = 1e-11


def nuclear_norm(A: np.ndarray, rank: int | None = None) -> float:
    """``‖A‖_*`` of A (m, p); with ``rank``, the caller's statement that A has numerical rank
    at most ``rank`` (e.g. a truth drawn as a product of rank-r factors).

    With that statement, at sizes where :func:`top_singular_triplets` takes the Gram path, the
    top ``rank`` left singular subspace P gives a proven interval: ``‖PᵀA‖_* <= ‖A‖_*``
    (projection) and ``‖A‖_* <= ‖PᵀA‖_* + √(min(m, p) − rank)·‖A − PPᵀA‖_F`` (triangle
    inequality, ``‖B‖_* <= √rank(B)·‖B‖_F``); its upper end is returned when the interval is
    narrower than ``NUCLEAR_INTERVAL_RTOL`` of its lower end (a few ulp of ‖A‖ per entry), at
    about 0.2 of a singular-value-only SVD at 2048. Otherwise, and without ``rank``, the sum
    of all singular values.
    """
    small = min(A.shape)
    if rank is not None and small >= GRAM_MIN_SIZE and rank + 1 <= GRAM_MAX_RANK_FRACTION * small:
        P, c, _ = top_singular_triplets(A, rank)
        lower = float(c.sum())
        residual = float(np.linalg.norm(A - P @ (P.T @ A)))
        width = np.sqrt(small - rank) * residual
        if width <= NUCLEAR_INTERVAL_RTOL * lower:
            return lower + width
    return float(np.linalg.svd(A, compute_uv=False).sum())


def _svd_triplets(A, rank):
    P, c, Qt = scipy.linalg.svd(A, full_matrices=False, lapack_driver="gesdd", check_finite=False)
    return P[:, :rank], c[:rank], Qt[:rank]


def _gamma(k: int) -> float:
    """Higham's γ_k = kε/(1 − kε), the rounding bound of a k-term inner product."""
    eps = np.finfo(float).eps
    return k * eps / (1.0 - k * eps)


#: Largest dimension of the problem below which one BLAS thread is used instead of the
#: process's default, per kind of work (``theory_check/bench/blas_threads.py``; OpenBLAS,
#: 2 cores: small multi-threaded BLAS calls pay more in synchronization than they gain).
#: "svd": one SVD of the matrix (weight_svd); "closed_form": an SVD of X̃ and products with it
#: (data_svd); "iterative": a spectral decomposition and a few products per iteration
#: (project_K, tobit_apg and the estimators built on them). Measured crossovers were
#: 600 / 1000 / 400 on an idle machine (two runs; an earlier idle run gave 1400 for
#: "iterative") and 1400 / 1000 / 1000 at load 3–6. Below them the default threads were up to
#: 400× slower on a busy machine; above them one thread was at most 1.7× slower on an idle one.
#: That asymmetry puts the values at the upper end of the measurements.
BLAS_CROSSOVER = {"svd": 1000, "closed_form": 1000, "iterative": 1400}
#: BLAS implementations whose thread count is process-wide and set through their own API.
_LIMITED_APIS = ("openblas", "mkl")
_blas_libs = None


def _blas_libraries():
    # threadpoolctl's threadpool_limits rescans the loaded libraries on every call (~0.7 ms);
    # the controllers found once cost ~0.3 µs per get/set. numpy and scipy each load their
    # OpenBLAS on import, and this module imports both, so the scan sees them.
    global _blas_libs
    if _blas_libs is None:
        from threadpoolctl import ThreadpoolController  # only the first call needs it

        _blas_libs = [lib for lib in ThreadpoolController().lib_controllers
                      if lib.internal_api in _LIMITED_APIS]
    return _blas_libs


class single_blas_thread:
    """Context manager: BLAS runs on one thread inside, as under ``threadpool_limits(1)``.

    Only lowers limits (a caller's limit of 1 is left alone, nothing is ever raised) and
    restores on exit what it changed, so nested regions cost a few µs and no more. The
    OpenBLAS/MKL thread count is process-wide: other Python threads running BLAS meanwhile are
    limited too.
    """

    def __enter__(self):
        self._changed = []
        for lib in _blas_libraries():
            threads = lib.get_num_threads()
            if threads is not None and threads > 1:
                lib.set_num_threads(1)
                self._changed.append((lib, threads))
        return self

    def __exit__(self, *exc):
        for lib, threads in self._changed:
            lib.set_num_threads(threads)
        return False


#: Names under which the public functions take the matrices that set the problem size.
_SIZE_ARGS = ("X_tilde", "Y", "W", "M")


def _problem_size(args, kwargs) -> int:
    size = 0
    for value in (*args[:2], *(kwargs.get(name) for name in _SIZE_ARGS)):
        shape = getattr(value, "shape", None)
        if shape is None and isinstance(value, (list, tuple)):
            try:
                shape = np.shape(value)
            except ValueError:  # ragged: the function's own checks refuse it
                shape = None
        if shape:
            size = max(size, *(int(s) for s in shape))
    return size


def blas_threads_by_size(kind: str):
    """Decorator: run the function on one BLAS thread when its problem is smaller than
    ``BLAS_CROSSOVER[kind]`` (largest dimension of its first two positional arguments or of
    ``X_tilde``/``Y``/``W``/``M``), with the caller's threads otherwise.

    The results are bitwise those of the same call under ``threadpool_limits(1)`` below the
    crossover; the caller's own limits are never raised.
    """
    if kind not in BLAS_CROSSOVER:
        raise ValueError(f"kind must be one of {sorted(BLAS_CROSSOVER)}, got {kind!r}")

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if _problem_size(args, kwargs) >= BLAS_CROSSOVER[kind]:
                return func(*args, **kwargs)
            with single_blas_thread():
                return func(*args, **kwargs)

        return wrapper

    return decorate


def lstsq(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Minimum-norm least-squares solution of ``A X = B`` through the SVD of ``A``."""
    return ColumnSpace(A).weight(B)


class ColumnSpace:
    """col(X̃) for estimators that solve in pre-activation space: the orthonormal ``basis`` their
    constraint ``M ∈ col(X̃)⊗R^N`` needs (None when X̃ has full row rank and the constraint is
    void) and the map ``M ↦ X̃⁺M``.

    ``method="qr"`` (default) factors the transpose of a wide X̃ (or a tall X̃ itself) as
    ``QR`` and keeps it only when X̃ certifiably has full rank min(n, d) by the rank rule of
    :func:`thin_svd`: ``‖R‖_F‖R⁻¹‖_F`` bounds the condition number s_max/s_min from above
    (singular values of R are those of X̃). Then ``X̃⁺M = Q R⁻ᵀ M`` (wide) or ``R⁻¹QᵀM``
    (tall) by triangular solves, and the basis is Q (tall) or None. Otherwise, and with
    ``method="svd"``, it uses the thin SVD ``X̃ = U_k Σ_k V_kᵀ`` with its rank cut
    (``rcond``, default :func:`default_rcond`; the QR path is certified against the same cut).
    At n = d = 2048 the QR path took 0.15 of the SVD's time (one BLAS thread).
    """

    def __init__(self, X_tilde: np.ndarray, *, method: str = "qr", rcond: float | None = None):
        if method not in ("qr", "svd"):
            raise ValueError(f"method must be 'qr' or 'svd', got {method!r}")
        # What was factored, so that a caller handed this factorization can check it is of its
        # own X̃ (:func:`column_space_of`).
        self.source, self.rcond, self.method = X_tilde, rcond, method
        # X̃ is factored divided by 2^e outside SCALE_RANGE (col X̃ is the same; X̃⁺ scales
        # by 2^-e): at 1e-300 the QR path's ‖R⁻¹‖_F overflowed and it fell back to the SVD.
        self._exponent = scale_exponent(X_tilde)
        if self._exponent:
            X_tilde = np.ldexp(X_tilde, -self._exponent)
        self._qr = _full_rank_qr(X_tilde, rcond) if method == "qr" else None
        if self._qr is not None:
            Q, _, wide = self._qr
            self.basis = self.frame = None if wide else Q
            return
        self._U, self._s, self._Vt = thin_svd(X_tilde, rcond=rcond)
        self.basis = None if self._U.shape[1] == X_tilde.shape[0] else self._U
        self.frame = self._U

    def weight(self, M: np.ndarray) -> np.ndarray:
        """Minimum-norm ``Ŵ`` (d, N) with ``X̃Ŵ = P_{col X̃} M``.

        Raises ``ValueError`` when Ŵ has entries beyond the float range (X̃ tiny against M).
        """
        return self._scaled(lambda A: self._weight(self.coordinates(A)), M)

    def coordinates(self, M: np.ndarray) -> np.ndarray:
        """``C = FᵀM`` (k, N) in the orthonormal frame ``F = self.frame`` (n, k) of col(X̃)
        that this factorization carries: Q of a tall X̃'s QR, U_k of the SVD, or None for the
        identity (C = M itself) when the QR certified full row rank. ``F C = P_{col X̃} M``,
        and :meth:`weight_of_coordinates` maps C to Ŵ without forming F C."""
        return M if self.frame is None else self.frame.T @ M

    def weight_of_coordinates(self, C: np.ndarray) -> np.ndarray:
        """Minimum-norm ``Ŵ`` (d, p) with ``X̃Ŵ = F C`` for coordinates C (k, p) in the frame of
        :meth:`coordinates`; a rank-r fit ``F L Rᵀ`` costs O(ndr) as ``weight_of_coordinates(L)
        @ Rᵀ``.

        Raises ``ValueError`` when Ŵ has entries beyond the float range (X̃ tiny against C).
        """
        return self._scaled(self._weight, C)

    def _scaled(self, solve, A):
        """``solve(A)``, linear in A, computed on A divided by a power of two outside
        SCALE_RANGE and scaled back (with X̃'s own factor), then checked representable."""
        exponent = scale_exponent(A)
        W = solve(np.ldexp(A, -exponent) if exponent else A)
        exponent -= self._exponent
        if exponent:
            with np.errstate(over="ignore"):
                W = np.ldexp(W, exponent)
        return check_representable(W)

    def _weight(self, C):
        # U_kᵀ, Qᵀ or I was applied by coordinates(); what is left is the triangular or
        # diagonal factor and the right-hand orthogonal one.
        if self._qr is None:
            return self._Vt.T @ (C / self._s[:, None])
        Q, R, wide = self._qr
        if wide:  # X̃ = RᵀQᵀ: Ŵ = Q R⁻ᵀ M lies in the row space, so it is the minimum-norm one.
            return Q @ scipy.linalg.solve_triangular(R, C, trans="T", check_finite=False)
        return scipy.linalg.solve_triangular(R, C, check_finite=False)


def column_space_of(X_tilde: np.ndarray, rcond: float | None = None,
                    column_space: ColumnSpace | None = None) -> ColumnSpace:
    """``column_space`` when the caller has the factorization of X̃ already
    (:meth:`theory_check.problem.Problem.column_space`), else a new :class:`ColumnSpace`.

    Raises ``ValueError`` when ``column_space`` is not the QR-first factorization of this very
    array ``X_tilde`` (the same object) with this ``rcond``: another matrix's factorization
    would give a wrong estimate silently.
    """
    if column_space is None:
        return ColumnSpace(X_tilde, rcond=rcond)
    if not (isinstance(column_space, ColumnSpace) and column_space.source is X_tilde
            and column_space.rcond == rcond and column_space.method == "qr"):
        raise ValueError("column_space must be ColumnSpace(X_tilde, rcond=rcond) of this same "
                         f"X_tilde array with rcond={rcond!r} (or None), got {column_space!r}")
    return column_space


#: Data whose largest entry lies in this range are used in the caller's units by the
#: homogeneous computations (ColumnSpace, weight_svd, project_K, the squared CV scores);
#: outside it they are divided by a power of two near it (:func:`binary_exponent`), so that
#: squares of entries summed over a matrix (Gram matrices, norms, Anderson's Gram matrix)
#: neither overflow nor underflow: at 1e155 project_K's Gram matrix had inf entries
#: ("Eigenvalues did not converge"), at 1e-155 Anderson's was subnormal ("Singular matrix").
#: Inside it, results are bitwise those of the code before the scaling existed.
SCALE_RANGE = (1e-100, 1e100)


def scale_exponent(A) -> int:
    """0 when max|A| is 0 or in SCALE_RANGE, else :func:`binary_exponent` of max|A|."""
    size = float(np.abs(A).max())
    return 0 if size == 0.0 or SCALE_RANGE[0] <= size <= SCALE_RANGE[1] else binary_exponent(size)


def check_representable(W: np.ndarray,
                        reason: str = "X_tilde is too small against Y") -> np.ndarray:
    """Return the estimate ``W``, or raise ``ValueError`` naming ``reason`` when it overflowed
    (inf or NaN entries): its true entries lie beyond the float range."""
    if not np.all(np.isfinite(W)):
        raise ValueError(f"{reason}: the estimate Ŵ has entries beyond the float range "
                         "(about 1.8e308); rescale the data")
    return W


#: The QR path of :class:`ColumnSpace` is taken when the certified condition bound is below
#: this fraction of 1/rcond: the computed R⁻¹ has a relative error of about κ·ε, so the margin
#: keeps the bound valid near the rank cut (where the SVD decides instead).
QR_CONDITION_MARGIN = 1e-2


def _full_rank_qr(A, rcond=None):
    """``(Q, R, wide)`` with ``A = RᵀQᵀ`` (wide) or ``A = QR`` (tall), if A has full rank
    min(A.shape) by :func:`thin_svd`'s rule with ``rcond`` (default :func:`default_rcond`),
    certified by ``‖R‖_F‖R⁻¹‖_F``; else None."""
    wide = A.shape[1] >= A.shape[0]
    Q, R = scipy.linalg.qr(A.T if wide else A, mode="economic", check_finite=False)
    # R⁻¹ is formed only for its norm, an upper bound on 1/s_min (LAPACK's trcon only
    # estimates it); every solve goes through the triangular factor.
    R_inv, info = scipy.linalg.lapack.dtrtri(R, lower=0)
    if info != 0:
        return None
    kappa = np.linalg.norm(R) * np.linalg.norm(R_inv)
    # A cut below the default one still needs the default's margin: the bound itself is only
    # reliable while κ·ε is small.
    cut = default_rcond(A.shape) if rcond is None else max(rcond, default_rcond(A.shape))
    if not np.isfinite(kappa) or kappa * cut > QR_CONDITION_MARGIN:
        return None
    return Q, R, wide
