"""Iterative solvers with certificates: the projection onto K(α, r) of Theorems 4.4 and 4.9."""

from .projection import project_K, project_l1_ball
from .reference import project_K_cvxpy

__all__ = ["project_K", "project_K_cvxpy", "project_l1_ball"]
