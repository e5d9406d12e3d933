"""The CDK app: reads the context and the environment (the only place that does) and builds one stage.

make synth                       # dev templates into cdk.out/ (npx cdk synth does the same)
make synth STAGE=prod            # prod; any key of stacks/context.py can be set with CDK_ARGS="-c key=value"

A context key or value the app cannot use stops it with one line naming the key (exit status 1).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.context import ContextError
from stacks.deployment import Deployment
from stacks.settings import load_settings, require_https

SOURCE_ROOT = Path(__file__).resolve().parent


def environment(environ: Mapping[str, str]) -> cdk.Environment | None:
    """Account and region from ``CDK_DEFAULT_*`` when both are set; otherwise environment-agnostic."""
    account, region = environ.get("CDK_DEFAULT_ACCOUNT"), environ.get("CDK_DEFAULT_REGION")
    if account and region:
        return cdk.Environment(account=account, region=region)
    return None


def build(app: cdk.App, environ: Mapping[str, str] = os.environ) -> Deployment:
    """Add the stage the app's context asks for to ``app``, checked by cdk-nag's AwsSolutions pack at synth.

    Raises :class:`ContextError` for a bad context, and for prod without ``certificateArn`` (unless ``allowHttp``).
    """
    settings = load_settings(app.node.get_all_context())
    require_https(settings)
    deployment = Deployment(app, settings=settings, env=environment(environ), source_root=SOURCE_ROOT)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return deployment


def main() -> None:
    """Synthesize the stage of the CLI's context; a bad context key ends it with one line on stderr."""
    cdk_app = cdk.App()
    try:
        build(cdk_app)
    except ContextError as error:
        sys.exit(f"context error: {error}")
    cdk_app.synth()


if __name__ == "__main__":
    main()
