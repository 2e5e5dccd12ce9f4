"""Data sets: a synthetic finance table and loaders for real public finance data."""

from gbmtl.datasets._fintech import make_fintech

__all__ = ["make_fintech"]
