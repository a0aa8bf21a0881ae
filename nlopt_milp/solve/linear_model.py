"""The flat linear model (arrays, built by one vectorized grounding pass): see `core.model`."""

from ..core.model import Block, Column, LinearModel, Row, build, to_linear_model  # noqa: F401
