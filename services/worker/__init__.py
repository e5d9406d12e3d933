"""The worker fleet's process: consume jobs from SQS and run them with at-least-once delivery
and exactly-once completion.

``python -m services.worker`` runs one worker (``--help`` lists its settings);
``python -m services.worker.dlq`` lists, inspects and redrives dead-lettered messages.
It runs the job types declared in :mod:`services.jobs.types` with the handlers bound in
:mod:`services.worker.registry` (the shipped ones in :mod:`services.worker.handlers`).
Importing this package is cheap: the consumer (boto3 and friends) loads only when a worker starts.
"""
