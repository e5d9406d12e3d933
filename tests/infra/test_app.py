"""The whole app: every configuration synthesizes offline, passes cdk-nag and cfn-lint, fails loudly on bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint  # type: ignore[import-untyped]

import app as cdk_app
from stacks.context import ContextError
from tests.infra.conftest import CONFIGS, Synthesized

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_LINT_WARNINGS = {
    # CDK writes an explicit DependsOn next to a Ref/GetAtt (its custom-resource providers, and the
    # request-count scaling policy that must wait for the listener); the duplicate is harmless.
    "W3005",
}


def test_cdk_nag_aws_solutions_reports_nothing(config: Synthesized) -> None:
    report = AwsSolutionsChecks().validate_scope(config.app)
    findings = [
        f"{violation.rule_name} at {[resource.construct_path for resource in violation.violating_resources]}"
        for violation in report.violations
    ]
    assert findings == []
    assert report.success


def test_cdk_nag_is_registered_by_the_app_and_fails_synth_on_a_finding(tmp_path: Path) -> None:
    app = cdk.App(context={"stage": "dev"}, outdir=str(tmp_path))
    deployment = cdk_app.build(app, environ={})
    cdk.aws_sqs.Queue(deployment.messaging, "UnencryptedQueue", encryption=cdk.aws_sqs.QueueEncryption.UNENCRYPTED)
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS4"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {violation["ruleName"] for plugin in report["pluginReports"] for violation in plugin["violations"]}
    assert {"AwsSolutions-SQS2", "AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


def _lint(template: dict[str, Any]) -> list[str]:
    """cfn-lint's errors and warnings (its default rules, informational ones left out)."""
    matches = lint(json.dumps(template))
    return [f"{match.rule.id} {match.message}" for match in matches if match.rule.id[0] in "EW"]


def test_cfn_lint_finds_no_errors(config: Synthesized) -> None:
    problems = {
        part: [problem for problem in _lint(template) if problem.split()[0] not in ALLOWED_LINT_WARNINGS]
        for part, template in config.templates.items()
    }
    assert problems == {part: [] for part in config.templates}


def test_cfn_lint_would_report_a_broken_template(dev: Synthesized) -> None:
    template = json.loads(json.dumps(dev.templates["messaging"]))
    queue = next(iter(dev.resources("messaging", "AWS::SQS::Queue")))
    template["Resources"][queue]["Properties"]["VisibilityTimeout"] = 50_000
    assert any(problem.startswith("E") for problem in _lint(template))


def test_stacks_are_environment_agnostic_and_need_no_lookups(config: Synthesized) -> None:
    manifest = json.loads(Path(config.assembly.directory, "manifest.json").read_text())
    assert "missing" not in manifest, "a context lookup would need AWS credentials"
    for stack in config.deployment.stacks:
        assert stack.environment == "aws://unknown-account/unknown-region"


def test_the_pinned_cli_can_read_the_assembly(dev: Synthesized) -> None:
    manifest = json.loads(Path(dev.assembly.directory, "manifest.json").read_text())
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert tuple(map(int, manifest["minimumCliVersion"].split("."))) <= tuple(map(int, pinned.split(".")))


def test_stacks_deploy_in_dependency_order(dev: Synthesized) -> None:
    deployment = dev.deployment
    names = {stack.stack_name for stack in deployment.stacks}
    assert names == {f"ScaledRef-dev-{part}" for part in ("Network", "Data", "Messaging", "Compute", "Observability")}

    def depends_on(stack: cdk.Stack) -> set[str]:
        return {dependency.stack_name for dependency in stack.dependencies}

    assert depends_on(deployment.data) == {"ScaledRef-dev-Network"}
    assert depends_on(deployment.compute) == {"ScaledRef-dev-Network", "ScaledRef-dev-Data", "ScaledRef-dev-Messaging"}
    assert "ScaledRef-dev-Compute" in depends_on(deployment.observability)
    assert not depends_on(deployment.messaging) & {"ScaledRef-dev-Compute", "ScaledRef-dev-Observability"}


def test_only_prod_protects_the_stateful_stacks(dev: Synthesized, prod: Synthesized) -> None:
    protected: list[cdk.Stack] = [prod.deployment.data, prod.deployment.messaging]
    unprotected: list[cdk.Stack] = [*dev.deployment.stacks, prod.deployment.network, prod.deployment.compute]
    assert all(stack.termination_protection for stack in protected)
    assert not any(stack.termination_protection for stack in unprotected)


@pytest.mark.parametrize(
    ("context", "key", "allowed"),
    [
        ({"stage": "qa"}, "stage", "dev, prod"),
        ({"auroraEngine": "oracle"}, "auroraEngine", "aurora-postgresql, aurora-mysql"),
        ({"webMinCapacity": "many"}, "webMinCapacity", "integer 1..100"),
    ],
)
def test_an_invalid_setting_fails_the_build_naming_key_and_allowed_values(
    context: dict[str, str], key: str, allowed: str
) -> None:
    app = cdk.App(context=context)
    with pytest.raises(ContextError, match=key) as error:
        cdk_app.build(app, environ={})
    assert allowed in str(error.value)
    assert app.node.children == [], "nothing is built from a bad setting"


def test_environment_comes_from_cdk_default_variables_when_both_are_set() -> None:
    assert cdk_app.environment({}) is None
    assert cdk_app.environment({"CDK_DEFAULT_REGION": "eu-west-1"}) is None
    env = cdk_app.environment({"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"})
    assert env is not None
    assert (env.account, env.region) == ("123456789012", "eu-west-1")


def test_configurations_cover_both_stages_and_both_engines() -> None:
    assert {context.get("stage") for context in CONFIGS.values()} == {"dev", "prod"}
    assert {context.get("auroraEngine", "aurora-postgresql") for context in CONFIGS.values()} == {
        "aurora-postgresql",
        "aurora-mysql",
    }
