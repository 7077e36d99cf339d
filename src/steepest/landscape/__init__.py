"""Loss landscapes and curvature: directions, fast surfaces (1-D, 2-D, interpolations,
optimization paths), and Hessian spectra."""

from .directions import (
    NORMS,
    normalize_direction,
    orthogonalize,
    pca_directions,
    random_direction,
    target_direction,
)
from .evaluate import SurfaceEvaluator
from .slices import interpolation, line, path_plane, plane
from .surface import Surface, axis, compute, grid_coords

__all__ = [
    "NORMS", "Surface", "SurfaceEvaluator", "axis", "compute", "grid_coords", "interpolation",
    "line", "normalize_direction", "orthogonalize", "path_plane", "pca_directions", "plane",
    "random_direction", "target_direction",
]
