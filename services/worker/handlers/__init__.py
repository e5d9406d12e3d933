"""The shipped job handlers; importing this package binds them (precompute's steps in order).

- :mod:`~services.worker.handlers.demo`: echo, sleep, cpu, fail;
- :mod:`~services.worker.handlers.precompute`: the precompute job and its ``job_stats`` step;
- :mod:`~services.worker.handlers.warming`: the ``warm_item_cache`` step.
"""

from services.worker.handlers import demo, precompute, warming

__all__ = ["demo", "precompute", "warming"]
