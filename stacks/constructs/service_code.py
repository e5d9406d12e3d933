"""The services' code as an S3 asset: what the instances download and run, and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

RUNTIME_PACKAGES: Final = ("api", "worker", "jobs", "items", "routing", "migrate", "certs")
"""The packages of ``services/`` the instances run (an API node, a worker, the migration step),
and the pinned RDS CA bundle (``certs/``)."""
RUNTIME_MODULES: Final = (
    "__init__.py",
    "settings.py",
    "db.py",
    "db_auth.py",
    "db_settings.py",
    "db_tls.py",
    "logs.py",
    "secrets.py",
)
"""The top-level modules of ``services/`` they share."""
LEFT_OUT: Final = ("routing/movement.py",)
"""Inside the runtime packages but not run there: the movement report (``python -m
services.routing.movement``, with rich and matplotlib, which ``requirements/services.txt``
does not install). ``services/local`` (the one-machine system) is outside the list above."""

ASSET_EXCLUDE: Final = (
    "/*",
    *(f"!/{package}/" for package in RUNTIME_PACKAGES),
    *(f"!/{module}" for module in RUNTIME_MODULES),
    *(f"/{path}" for path in LEFT_OUT),
    "__pycache__/",
    "*.pyc",
)
"""Gitignore-style patterns over ``services/``: everything at the top is left out, then the
runtime packages and modules are let back in, minus :data:`LEFT_OUT`. A new top-level package
ships only once it is named here; the asset import test (tests/infra/test_rehearsal.py) fails
if something the instances import is missing."""


class ServiceCode(Construct):
    """The runtime part of the repository's ``services/`` package and the ``requirements/`` pins,
    uploaded by ``cdk deploy``.

    Each is a zip archive; instances may read exactly these two objects (:meth:`grant_read`),
    nothing else in the bootstrap bucket. Code delivery (cfn-init, see
    ``stacks.constructs.fleet.Boot``) unpacks ``services`` into a directory named ``services``
    and installs ``services.txt`` with ``constraints.txt``. What ``services`` holds is
    :data:`ASSET_EXCLUDE`'s allow-list.
    """

    def __init__(self, scope: Construct, construct_id: str, *, source_root: Path) -> None:
        super().__init__(scope, construct_id)
        self.services = s3_assets.Asset(
            self,
            "Services",
            path=str(source_root / "services"),
            exclude=list(ASSET_EXCLUDE),
            ignore_mode=cdk.IgnoreMode.GIT,
        )
        self.requirements = s3_assets.Asset(self, "Requirements", path=str(source_root / "requirements"))

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` download the two asset objects (``s3:GetObject`` on their keys only)."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject"],
            resource_arns=[
                asset.bucket.arn_for_objects(asset.s3_object_key) for asset in (self.services, self.requirements)
            ],
        )
