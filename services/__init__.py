"""Python services that run on the instances: routing, api, jobs, worker, local."""
