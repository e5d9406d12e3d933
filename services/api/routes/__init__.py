"""The HTTP routes, one module per resource: items, jobs, and the operational endpoints."""
