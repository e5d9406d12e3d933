"""Who may call the API: an Amazon Cognito user pool that issues access tokens by client credentials."""

from __future__ import annotations

from typing import Final

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from stacks.nag import acknowledge

RESOURCE_SERVER: Final = "scaledref-api"
"""The resource server's identifier: tokens carry its scopes as ``scaledref-api/items:read`` (AUTH_SCOPE_PREFIX)."""
SCOPES: Final = {
    "items:read": "read items",
    "items:write": "create and replace items",
    "jobs:submit": "submit jobs",
    "jobs:read": "read job status and results",
}
ACCESS_TOKEN_VALIDITY: Final = Duration.hours(1)


class CallerAuth(Construct):
    """A user pool with no users: one resource server declaring :data:`SCOPES`, one machine client.

    The app client uses the OAuth client-credentials flow with a generated secret, and may ask
    for every scope. The hosted domain (``https://<prefix>.auth.<region>.amazoncognito.com``)
    serves ``/oauth2/token``; ``domain_prefix`` ``None`` derives ``scaledref-<stage>-<account
    id>``, unique per account, stage and region. The client secret never enters a template: read
    it with ``aws cognito-idp describe-user-pool-client`` (see :attr:`secret_command`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        domain_prefix: str | None,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.pool = cognito.UserPool(
            self,
            "Pool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True),
            password_policy=cognito.PasswordPolicy(
                min_length=14, require_digits=True, require_lowercase=True, require_uppercase=True, require_symbols=True
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.NONE,
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        acknowledge(
            self.pool,
            "AwsSolutions-COG8",
            "The pool has no users, only a machine client: the Plus plan's threat protection acts on user "
            "sign-ins, which never happen here.",
        )
        self.resource_server = self.pool.add_resource_server(
            "Api",
            identifier=RESOURCE_SERVER,
            scopes=[
                cognito.ResourceServerScope(scope_name=name, scope_description=text) for name, text in SCOPES.items()
            ],
        )
        self.client = self.pool.add_client(
            "Machine",
            generate_secret=True,
            auth_flows=cognito.AuthFlow(),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(client_credentials=True),
                scopes=[cognito.OAuthScope.custom(f"{RESOURCE_SERVER}/{name}") for name in SCOPES],
            ),
            access_token_validity=ACCESS_TOKEN_VALIDITY,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
        )
        self.client.node.add_dependency(self.resource_server)
        self.domain = self.pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=domain_prefix or f"scaledref-{stage}-{Aws.ACCOUNT_ID}"
            ),
        )

    @property
    def issuer(self) -> str:
        """``AUTH_ISSUER``: the ``iss`` of the pool's tokens."""
        return f"https://cognito-idp.{Aws.REGION}.amazonaws.com/{self.pool.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        """``AUTH_JWKS_URL``: the pool's signing keys."""
        return f"{self.issuer}/.well-known/jwks.json"

    @property
    def token_url(self) -> str:
        """Where a client posts its credentials for an access token."""
        return f"{self.domain.base_url()}/oauth2/token"

    @property
    def secret_command(self) -> str:
        """The AWS CLI command that prints the client secret (which no template or output holds)."""
        return (
            f"aws cognito-idp describe-user-pool-client --user-pool-id {self.pool.user_pool_id} "
            f"--client-id {self.client.user_pool_client_id} --query UserPoolClient.ClientSecret --output text"
        )
