"""CallerAuth and the web fleet's auth settings: Cognito scopes, the machine client, the env contract."""

from __future__ import annotations

import json
import re
from typing import Any

from stacks.constructs.caller_auth import RESOURCE_SERVER, SCOPES
from tests.infra.conftest import Synthesized
from tests.infra.test_service_boot import _env


def test_the_resource_server_declares_the_four_scopes(dev: Synthesized) -> None:
    server = dev.only("compute", "AWS::Cognito::UserPoolResourceServer")
    assert server["Identifier"] == RESOURCE_SERVER
    assert {scope["ScopeName"] for scope in server["Scopes"]} == {
        "items:read",
        "items:write",
        "jobs:submit",
        "jobs:read",
    }


def test_one_machine_client_with_a_generated_secret_and_client_credentials_only(config: Synthesized) -> None:
    client = config.only("compute", "AWS::Cognito::UserPoolClient")
    assert client["GenerateSecret"] is True
    assert client["AllowedOAuthFlows"] == ["client_credentials"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert sorted(client["AllowedOAuthScopes"]) == sorted(f"{RESOURCE_SERVER}/{scope}" for scope in SCOPES)
    pool = config.only("compute", "AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True, "nobody signs up"


def test_the_hosted_domain_prefix_is_derived_unique_or_set(dev: Synthesized) -> None:
    domain = dev.only("compute", "AWS::Cognito::UserPoolDomain")
    assert "scaledref-dev-" in json.dumps(domain["Domain"])
    assert "AWS::AccountId" in json.dumps(domain["Domain"])


def test_outputs_give_the_token_url_and_client_id_but_never_the_secret(config: Synthesized) -> None:
    outputs = config.templates["compute"]["Outputs"]
    assert "/oauth2/token" in json.dumps(outputs["TokenUrl"]["Value"])
    (client_id,) = config.resources("compute", "AWS::Cognito::UserPoolClient")
    assert outputs["ClientId"]["Value"] == {"Ref": client_id}
    assert "describe-user-pool-client" in json.dumps(outputs["ClientSecretCommand"]["Value"])
    for template in config.templates.values():
        assert 'ClientSecret"' not in json.dumps(template.get("Outputs", {})).replace("ClientSecret --", "")
        assert "UserPoolClientSecret" not in json.dumps(template)


def test_web_instances_get_the_cognito_env_contract(config: Synthesized) -> None:
    web, worker = _env(config, "web"), _env(config, "worker")
    (pool_id,) = config.resources("compute", "AWS::Cognito::UserPool")
    (client_id,) = config.resources("compute", "AWS::Cognito::UserPoolClient")
    issuer = f"https://cognito-idp.<Ref:AWS::Region>.amazonaws.com/<Ref:{pool_id}>"
    assert web["AUTH_ISSUER"] == issuer
    assert web["AUTH_JWKS_URL"] == f"{issuer}/.well-known/jwks.json"
    assert web["AUTH_CLIENT_IDS"] == f"<Ref:{client_id}>"
    assert web["AUTH_SCOPE_PREFIX"] == RESOURCE_SERVER
    assert re.fullmatch(r"<Ref:PeerKeySecret[0-9A-F]+>", web["PEER_AUTH_SECRET_ARN"])
    assert not {name for name in worker if name.startswith(("AUTH_", "PEER_"))}, "the worker takes no callers"


def test_the_peer_key_is_generated_never_written_in_the_template(config: Synthesized) -> None:
    secrets: dict[str, Any] = {
        logical_id: resource["Properties"]
        for logical_id, resource in config.resources("compute", "AWS::SecretsManager::Secret").items()
        if logical_id.startswith("PeerKey")
    }
    ((_, secret),) = secrets.items()
    assert "SecretString" not in secret
    assert secret["GenerateSecretString"]["PasswordLength"] == 64
