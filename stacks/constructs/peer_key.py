"""The key web nodes sign peer forwards with: a generated Secrets Manager secret, never in a template."""

from __future__ import annotations

from typing import Final

from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.nag import acknowledge

KEY_LENGTH: Final = 64


class PeerKey(Construct):
    """A random :data:`KEY_LENGTH`-character secret string (letters and digits), the peer HMAC key.

    Web nodes read it at start (``PEER_AUTH_SECRET_ARN``) and sign each forwarded request with it,
    so a client cannot pass itself off as a peer; only the web fleet's role may read it.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description="HMAC key that web nodes sign peer-forwarded requests with",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=KEY_LENGTH, exclude_punctuation=True
            ),
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "Nodes read the key once at start and must all share it: rotating it means a rolling restart, "
            "not a rotation Lambda.",
        )
