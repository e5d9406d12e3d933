"""The item domain both fleets touch: what a key is, where items are stored, how they live in Redis.

- :mod:`services.items.keys`: the key rule (checked before a key is routed, cached or stored);
- :mod:`services.items.store`: the items table, the source of truth behind the caches;
- :mod:`services.items.redis_layout`: the Redis keys, channel and version-checked writes;
- :mod:`services.items.redis_settings`: the one declaration of the Redis settings
  (``REDIS_URL``, the AUTH token, prefix, TTL), which the API's and the worker's settings derive from;
- :mod:`services.items.warming`: copy the hottest items into Redis (the worker's precompute step).

The API serves items from here; the worker warms the cache from here. Neither imports the other.
"""
