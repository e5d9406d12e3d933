"""The edge of the deployment: HTTPS only in prod, the listener rules, deletion protection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import NIST80053R5Checks

import app as cdk_app
from stacks.constructs.load_balancer import PUBLIC_PATHS
from stacks.context import ContextError
from tests.infra.conftest import CDK_JSON_CONTEXT, CERTIFICATE_ARN, Synthesized
from tests.infra.test_nag_acknowledgements import acknowledgements

LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"


def _listeners(config: Synthesized) -> dict[int, dict[str, Any]]:
    """The load balancer's listeners' properties by port."""
    return {
        listener["Properties"]["Port"]: listener["Properties"]
        for listener in config.resources("compute", LISTENER).values()
    }


def _app(context: dict[str, str], tmp_path: Path) -> cdk.App:
    return cdk.App(context={**CDK_JSON_CONTEXT, **context}, outdir=str(tmp_path))


def test_prod_without_a_certificate_is_refused_with_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ContextError, match=r"^certificateArn is required in prod") as raised:
        cdk_app.build(_app({"stage": "prod"}, tmp_path), environ={})
    message = str(raised.value)
    assert "aws acm request-certificate" in message
    assert "--validation-method DNS" in message
    assert "allowHttp=true" in message
    assert "unsafe" in message


def test_allow_http_opts_prod_out_of_https_explicitly(tmp_path: Path) -> None:
    deployment = cdk_app.build(_app({"stage": "prod", "allowHttp": "true"}, tmp_path), environ={})
    template = Template.from_stack(deployment.compute)
    listeners = template.find_resources(LISTENER)
    assert [listener["Properties"]["Port"] for listener in listeners.values()] == [80]
    (listener,) = listeners.values()
    assert listener["Properties"]["Protocol"] == "HTTP"
    assert listener["Properties"]["DefaultActions"][0]["Type"] == "fixed-response"


def test_dev_may_stay_http_and_an_allow_http_with_a_certificate_still_serves_https(tmp_path: Path) -> None:
    cdk_app.build(_app({"stage": "dev"}, tmp_path / "dev"), environ={})
    deployment = cdk_app.build(
        _app({"stage": "prod", "allowHttp": "true", "certificateArn": CERTIFICATE_ARN}, tmp_path / "prod"), environ={}
    )
    assert deployment.compute.load_balancer.listener.node.id == "Https"


def test_https_uses_a_tls13_policy_and_port_80_only_redirects(prod: Synthesized) -> None:
    listeners = _listeners(prod)
    assert set(listeners) == {80, 443}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners[443]["Certificates"] == [{"CertificateArn": CERTIFICATE_ARN}]
    assert listeners[80]["DefaultActions"] == [
        {
            "Type": "redirect",
            "RedirectConfig": {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"},
        }
    ]
    rules = prod.resources("compute", RULE).values()
    assert all("Https" in json.dumps(rule["Properties"]["ListenerArn"]) for rule in rules), "no rule on port 80"


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_only_the_public_paths_are_forwarded_and_the_rest_is_a_json_404(name: str, synthesized: Any) -> None:
    config: Synthesized = synthesized(name)
    serving = 443 if config.deployment.settings.web.certificate_arn else 80
    (default,) = _listeners(config)[serving]["DefaultActions"]
    assert default["Type"] == "fixed-response"
    response = default["FixedResponseConfig"]
    assert response["StatusCode"] == "404"
    assert response["ContentType"] == "application/json"
    assert json.loads(response["MessageBody"]) == {"error": {"code": "not_found", "message": "no such endpoint"}}
    (rule,) = config.resources("compute", RULE).values()
    properties = rule["Properties"]
    assert properties["Conditions"] == [{"Field": "path-pattern", "PathPatternConfig": {"Values": list(PUBLIC_PATHS)}}]
    assert set(PUBLIC_PATHS) == {"/items/*", "/jobs", "/jobs/*", "/healthz"}
    (action,) = properties["Actions"]
    assert action["Type"] == "forward"


def test_drop_invalid_headers_everywhere_and_deletion_protection_in_prod_only(
    dev: Synthesized, prod: Synthesized
) -> None:
    for config, protected in ((dev, "false"), (prod, "true")):
        attributes = {
            attribute["Key"]: attribute["Value"]
            for attribute in config.only("compute", "AWS::ElasticLoadBalancingV2::LoadBalancer")[
                "LoadBalancerAttributes"
            ]
        }
        assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
        assert attributes["deletion_protection.enabled"] == protected, config.name


def test_cdk_nag_edge_rules_pass_in_prod_without_acknowledgements(prod: Synthesized) -> None:
    """NIST 800-53 R5's load-balancer rules: HTTPS redirect, WAF attached, deletion protection."""
    edge_rules = ("ALBHttpToHttpsRedirection", "ALBWAFEnabled", "ELBDeletionProtectionEnabled")
    report = NIST80053R5Checks().validate_scope(prod.app)
    failing = [violation.rule_name for violation in report.violations if violation.rule_name.endswith(edge_rules)]
    assert failing == []
    acknowledged = {rule for (_, rule) in acknowledgements(prod.app, "prod")}
    assert not [rule for rule in acknowledged if rule.endswith(edge_rules) or "ELB" in rule or "WAF" in rule]
