"""The services' code as an S3 asset: what the instances download and run."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct


class ServiceCode(Construct):
    """The repository's ``services/`` package and ``requirements/`` pins, uploaded by ``cdk deploy``.

    Each is a zip archive; instances may read exactly these two objects (:meth:`grant_read`),
    nothing else in the bootstrap bucket. Code delivery (cfn-init, see
    ``stacks.constructs.fleet.Boot``) unpacks ``services`` into a directory named ``services``
    and installs ``services.txt`` with ``constraints.txt``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, source_root: Path) -> None:
        super().__init__(scope, construct_id)
        self.services = s3_assets.Asset(
            self,
            "Services",
            path=str(source_root / "services"),
            exclude=["**/__pycache__", "**/*.pyc"],
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
