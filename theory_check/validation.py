"""Input checks shared by every public function.

Each check raises ``ValueError`` naming the parameter and the allowed range, so that bad input
is refused before any factorization or solve starts; a value of the wrong type raises
:class:`ParameterTypeError`, a ``TypeError`` that is a ``ValueError`` too (as scikit-learn's
``InvalidParameterError``), so callers that catch bad values catch it as well. A library function
names its own parameters (``alpha``); the plug-in layer (:mod:`theory_check.config`) adds the
config path (``model.alpha``).
"""

from __future__ import annotations

import numbers

import numpy as np


class ParameterTypeError(TypeError, ValueError):
    """A parameter of the wrong type (a string for a number, complex data for real)."""


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterTypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}{_upper(high)}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high} (allowed range [{low}, {high}]), got {value}")
    return value


def _upper(high) -> str:
    return f" and <= {high}" if high is not None else ""


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """Return ``value`` as a finite float in the given range, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        bound = ">" if low_open else ">="
        raise ValueError(f"{name} must be {bound} {low}{_upper(high)}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_matrix(name: str, A, *, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """Return ``A`` as a finite 2-D float array with the given shape (None = any).

    Complex and non-numeric input is refused, not cast: numpy's cast would silently drop the
    imaginary part (with only a ComplexWarning) or fail with a message that names no parameter.
    """
    A = _real_array(name, A)
    if A.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got an array of shape {A.shape}")
    if A.size == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {A.shape}")
    if rows is not None and A.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows, got shape {A.shape}")
    if cols is not None and A.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or inf entries")
    return A


#: Columns of a basis must be orthonormal to this accuracy (in ‖BᵀB − I‖_max).
BASIS_ORTHONORMALITY_TOL = 1e-8


def check_basis(basis, n: int) -> np.ndarray | None:
    """``basis`` (n, k) with orthonormal columns, k <= n, or None (no column-space constraint)."""
    if basis is None:
        return None
    B = check_matrix("basis", basis, rows=n)
    if B.shape[1] > n:
        raise ValueError(f"basis must have at most n = {n} columns, got shape {B.shape}")
    defect = np.abs(B.T @ B - np.eye(B.shape[1])).max()
    if defect > BASIS_ORTHONORMALITY_TOL:
        raise ValueError(f"basis must have orthonormal columns (max |BᵀB − I| = {defect:.2e} > "
                         f"{BASIS_ORTHONORMALITY_TOL:g}); orthonormalize it with a QR or SVD")
    return B


def check_nonzero(name: str, A: np.ndarray) -> np.ndarray:
    """Refuse an all-zero matrix: as X̃ it has rank 0 (thin_svd keeps no singular value only
    then), its column space is {0}, and every weight gives the same pre-activations."""
    if not np.any(A):
        raise ValueError(f"{name} is zero (numerical rank 0): its column space is {{0}}, so "
                         f"every weight W gives the same pre-activations {name} @ W = 0")
    return A


def check_vector(name: str, v) -> np.ndarray:
    """Return ``v`` as a finite 1-D float array (complex and non-numeric input refused)."""
    v = _real_array(name, v)
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or inf entries")
    return v


def _real_array(name: str, A) -> np.ndarray:
    try:
        A = np.asarray(A)
    except ValueError as exc:  # ragged nested sequences
        raise ParameterTypeError(f"{name} must be a 2-D array of real numbers: {exc}") from None
    kind = A.dtype.kind
    if kind == "c" or (kind == "O" and any(isinstance(a, complex) for a in A.flat)):
        raise ParameterTypeError(f"{name} must be real, got complex entries (dtype {A.dtype}); complex "
                         f"data are not supported: pass {name}.real if the imaginary part is "
                         "meant to be dropped")
    if kind in "biuf":
        return A.astype(float, copy=False)
    if kind == "O":  # e.g. Fractions or Decimals: fine if each converts to a float
        try:
            return A.astype(float)
        except (TypeError, ValueError):
            pass
    raise ParameterTypeError(f"{name} must be an array of real numbers, got dtype {A.dtype}")


#: Allowed noise level σ of the Tobit likelihood, relative to the data scale S = max(α, max Y),
#: and absolute. The solver squares the gradient mapping G ~ S/σ² (its certificate uses ‖G‖²
#: ~ nN·(S/σ)²/σ²): σ >= 1e-50·S and σ >= 1e-50 keep that below ~1e212, far from overflow (at
#: σ = 1e-90·S it overflowed and the certificate read 0 after one step). Above 1e8·S the part
#: of the likelihood that depends on M at second order, ~(S/σ)² <= 1e-16 of its value, is
#: below the rounding of f, so the restart test and the certificate compare rounding errors.
#: The likelihood is invariant under the joint scaling of (Y, α, σ, M): solvers that divide
#: them by a power of two near S when σ is outside the absolute range
#: (:func:`check_sigma_relative`) need only the relative one.
SIGMA_RELATIVE_RANGE = (1e-50, 1e8)
SIGMA_ABSOLUTE_RANGE = (1e-50, 1e50)


def sigma_needs_rescaling(sigma: float) -> bool:
    """Whether a Tobit solver must work on data divided by a power of two near S: σ is outside
    :data:`SIGMA_ABSOLUTE_RANGE` (inside it, and in the relative range, the computation in
    the caller's units is the one the range was measured for)."""
    return not SIGMA_ABSOLUTE_RANGE[0] <= sigma <= SIGMA_ABSOLUTE_RANGE[1]


def check_sigma(sigma, *, scale: float, name: str = "sigma") -> float:
    """Return σ if it is a real number in the range where the Tobit likelihood is computable
    in the caller's units (for solvers that do not rescale the data).

    ``scale`` is the data scale S = max(α, max Y); see :data:`SIGMA_RELATIVE_RANGE`.
    """
    sigma = check_real(name, sigma, low=0.0, low_open=True)
    low = max(SIGMA_RELATIVE_RANGE[0] * scale, SIGMA_ABSOLUTE_RANGE[0])
    high = min(SIGMA_RELATIVE_RANGE[1] * scale, SIGMA_ABSOLUTE_RANGE[1])
    if low > high:  # no σ works at this scale: the data's scale is at fault, not σ
        raise ValueError(
            f"max(alpha, max Y) must be in [{SIGMA_ABSOLUTE_RANGE[0] / SIGMA_RELATIVE_RANGE[1]:.0e}"
            f", {SIGMA_ABSOLUTE_RANGE[1] / SIGMA_RELATIVE_RANGE[0]:.0e}] for this solver, which "
            f"works in the caller's units, got {scale:.3g}: divide Y, alpha and sigma by a "
            "common factor")
    if not low <= sigma <= high:
        raise ValueError(
            f"{name} must be in [{low:.3g}, {high:.3g}] = [1e-50, 1e8] × max(alpha, max Y) "
            f"(within [1e-50, 1e50]), got {sigma:.3g}: outside it the censored-Gaussian "
            "likelihood overflows or is lost in rounding")
    return sigma


def check_sigma_relative(sigma, *, data_scale: float, alpha: float | None = None,
                         name: str = "sigma", alpha_name: str = "alpha") -> float:
    """Return σ if it lies in [1e-50, 1e8] × S, S = max(α, max Y) (:data:`SIGMA_RELATIVE_RANGE`),
    for solvers that rescale the data (:func:`sigma_needs_rescaling`), so with no absolute
    range.

    ``data_scale`` is max Y (> 0). When σ is within the range relative to the data alone but
    α is more than 1e50·σ, α is the parameter at fault and the error names it (with its own
    allowed range); otherwise σ is.
    """
    sigma = check_real(name, sigma, low=0.0, low_open=True)
    low_factor, high_factor = SIGMA_RELATIVE_RANGE
    scale = data_scale if alpha is None else max(alpha, data_scale)
    if low_factor * scale <= sigma <= high_factor * scale:
        return sigma
    if alpha is not None and sigma < low_factor * scale and sigma >= low_factor * data_scale:
        # σ <= 1e8·max(α, max Y) must keep holding: a lower end when σ > 1e8·max Y.
        lower = (f" and >= sigma / 1e8 = {sigma / high_factor:.3g}"
                 if sigma > high_factor * data_scale else "")
        raise ValueError(
            f"{alpha_name} must be <= 1e50 × sigma = {sigma / low_factor:.3g}{lower} (sigma = "
            f"{sigma:.3g}, max Y = {data_scale:.3g}), got {alpha:.3g}: a box more than 1e50 "
            "noise levels wide lets the censored-Gaussian likelihood overflow")
    where = "max Y" if alpha is None else "max(alpha, max Y)"
    high = min(high_factor * scale, np.finfo(float).max)
    raise ValueError(
        f"{name} must be in [{low_factor * scale:.3g}, {high:.3g}] = [1e-50, 1e8] × {where} "
        f"({where} = {scale:.3g}), got {sigma:.3g}: outside it the censored-Gaussian "
        "likelihood overflows or is lost in rounding")


def check_rank(rank, *, max_rank: int, name: str = "rank") -> int:
    """A target rank must satisfy ``1 <= rank <= max_rank`` (max_rank = min of the dimensions)."""
    return check_int(name, rank, low=1, high=max_rank)


def check_choice(name: str, value, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value
