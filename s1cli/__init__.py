"""s1cli: the `s1` toolkit for s1-style test-time scaling (arXiv 2501.19393)."""

__version__ = "0.1.0"
