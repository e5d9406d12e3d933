"""Say which AWS credentials are missing, in one line, before a CDK command that needs them.

    python scripts/aws_credentials.py diff     # make diff, deploy and destroy run this first

Exits 0 silently when credentials are found, else prints one line naming what is missing and how
to set it, and exits 1. It looks where the AWS CLI and the CDK CLI look (botocore's chain:
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the ~/.aws files, SSO, a container or
instance role), offline: whether the credentials are still valid is for AWS to say. The account
comes from the credentials (the CLI sets CDK_DEFAULT_ACCOUNT from them); the stacks need no other.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import botocore.exceptions
import botocore.session

HOW = (
    "set AWS_PROFILE to a profile in ~/.aws/config (aws configure sso, or aws configure, makes one), "
    "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN for temporary keys)"
)


def missing_credentials(environ: Mapping[str, str]) -> str | None:
    """What is missing for the AWS credentials, in words, or ``None`` when botocore finds some."""
    key_id, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if bool(key_id) != bool(secret):
        have, lack = (
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if key_id else ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
        )
        return f"{have} is set but {lack} is not: set both"
    try:
        credentials = botocore.session.Session().get_credentials()
    except botocore.exceptions.ProfileNotFound:
        profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE")
        return f"AWS_PROFILE={profile} names no profile in ~/.aws/config or ~/.aws/credentials: {HOW}"
    except botocore.exceptions.BotoCoreError as error:
        return f"the AWS credentials cannot be read ({error}): {HOW}"
    if credentials is None:
        return f"no AWS credentials found (none of AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws, an instance role): {HOW}"
    return None


def main(argv: list[str]) -> int:
    """Print what is missing for ``make <command>`` and return 1, or return 0."""
    command = argv[0] if argv else "this command"
    problem = missing_credentials(os.environ)
    if problem is None:
        return 0
    print(f"make {command} needs AWS credentials: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
