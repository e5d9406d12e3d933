"""The worker fleet's process: consume jobs from SQS and run them with at-least-once delivery
and exactly-once completion.

``python -m services.worker`` runs one worker (``--help`` lists its settings);
``python -m services.worker.dlq`` lists, inspects and redrives dead-lettered messages.
Handlers register by name in :mod:`services.worker.registry`. Importing this package is
cheap: the consumer (boto3 and friends) loads only when a worker starts.
"""
