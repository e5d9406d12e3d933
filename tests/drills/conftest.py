"""Fixtures of the drills: those of the migration and job tests."""

from tests.jobs.conftest import make_queues  # noqa: F401 - fixture
from tests.migrate.conftest import manager  # noqa: F401 - fixture
