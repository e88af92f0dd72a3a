"""Iterative solvers with certificates: the projection onto K(α, r) of Theorems 4.4 and 4.9."""

from .projection import project_K, project_l1_ball

__all__ = ["project_K", "project_l1_ball"]
