"""The shipped job handlers; importing this package registers them."""

from services.worker.handlers import basic, precompute

__all__ = ["basic", "precompute"]
