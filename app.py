"""The CDK app: reads the context and the environment (the only place that does) and builds one stage.

npx cdk synth                    # dev
npx cdk synth -c stage=prod      # prod; any key of stacks/settings.py can be overridden with -c
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.deployment import Deployment
from stacks.settings import load_settings

SOURCE_ROOT = Path(__file__).resolve().parent


def environment(environ: Mapping[str, str]) -> cdk.Environment | None:
    """Account and region from ``CDK_DEFAULT_*`` when both are set; otherwise environment-agnostic."""
    account, region = environ.get("CDK_DEFAULT_ACCOUNT"), environ.get("CDK_DEFAULT_REGION")
    if account and region:
        return cdk.Environment(account=account, region=region)
    return None


def build(app: cdk.App, environ: Mapping[str, str] = os.environ) -> Deployment:
    """Add the stage the app's context asks for to ``app``, checked by cdk-nag's AwsSolutions pack at synth."""
    settings = load_settings(app.node.get_all_context())
    deployment = Deployment(app, settings=settings, env=environment(environ), source_root=SOURCE_ROOT)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return deployment


if __name__ == "__main__":
    cdk_app = cdk.App()
    build(cdk_app)
    cdk_app.synth()
