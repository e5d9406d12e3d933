"""The API service every web node runs (FastAPI on uvicorn).

Items are routed to their owner on the consistent-hash ring and read cache-aside there
(local LRU → Redis → database); jobs are accepted and handed to the worker fleet.
``python -m services.api --help`` lists the settings. Importing this package is cheap:
the app is built by :func:`services.api.app.create_app`.
"""
