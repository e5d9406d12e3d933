"""The pricers of every priced resource type, one module per kind of service; :data:`PRICERS` joins them."""

from __future__ import annotations

from typing import Final

from cost.deployment import Pricer
from cost.pricers import cache, compute, database, edge, messaging, network, observability, security, storage

_MODULES: Final = (compute, database, cache, network, edge, messaging, observability, security, storage)


def _join() -> dict[str, list[Pricer]]:
    joined: dict[str, list[Pricer]] = {}
    for module in _MODULES:
        for resource_type, pricers in module.PRICERS.items():
            joined.setdefault(resource_type, []).extend(pricers)
    return joined


PRICERS: Final[dict[str, list[Pricer]]] = _join()
"""Resource type -> the functions that price a resource of it (an Auto Scaling group has several)."""
