"""``python -m cost``: what it synthesizes with, what it prints and writes, and its one-line errors."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from cost.__main__ import main, parser
from cost.assumptions import Assumptions
from cost.estimate import estimate
from cost.report import Run, header
from cost.synth import SynthError, command, given_keys, plan, synthesize

from tests.scripts.cost_fixtures import deployment, web_group, write_assembly

KNOWN = {"stage", "certificateArn", "alarmEmail"}


def test_prod_gets_placeholders_for_what_only_a_real_deployment_has() -> None:
    prod = plan("prod", [], "", KNOWN)
    assert prod.context["stage"] == "prod"
    assert prod.context["certificateArn"].startswith("arn:aws:acm:")
    assert prod.context["alarmEmail"] == "alarms@example.com"
    assert set(prod.placeholders) == {"certificateArn", "alarmEmail"}
    assert plan("dev", [], "", KNOWN).context == {"stage": "dev"}


def test_a_key_the_caller_sets_is_never_overridden_and_unknown_keys_are_not_passed() -> None:
    mine = plan(
        "prod", [], "-c certificateArn=arn:aws:acm:eu-west-1:1:certificate/x --context alarmEmail=me@x.org", KNOWN
    )
    assert mine.context == {"stage": "prod"}
    assert plan("prod", [], "", {"stage"}).context == {"stage": "prod"}  # an app without those keys


def test_given_keys_reads_every_spelling_of_a_context_argument() -> None:
    assert given_keys("-c a=1 --context b=2 --context=c=3 -c 'd=x y' --verbose") == {"a", "b", "c", "d"}


def test_regions_are_passed_when_the_app_takes_them_and_explained_when_it_does_not() -> None:
    with_regions = plan("dev", ["us-east-1", "eu-west-1"], "", {*KNOWN, "regions", "account"})
    assert with_regions.context == {"stage": "dev", "regions": "us-east-1,eu-west-1", "account": "123456789012"}
    assert with_regions.notes == []
    without = plan("dev", ["eu-west-1"], "", KNOWN)
    assert "regions" not in without.context
    assert without.notes == [
        "REGIONS=eu-west-1: this checkout's CDK app has no `regions` context key yet (issue 13), so the "
        "templates are single-region; priced at eu-west-1 prices"
    ]


def test_the_synth_command_is_make_synth_s_with_the_plan_then_the_caller_s_arguments(tmp_path: Path) -> None:
    args = command(plan("prod", [], "", KNOWN), "-c webMinCapacity=6", tmp_path)
    assert args[:6] == ["npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices"]
    assert args[6:8] == ["-o", str(tmp_path)]
    assert args[8:10] == ["-c", "stage=prod"]
    assert args[-2:] == ["-c", "webMinCapacity=6"]


def test_every_assumption_is_a_flag() -> None:
    flags = {action.dest for action in parser()._actions}
    assert {f.name for f in dataclasses.fields(Assumptions)} <= flags


def test_it_prints_the_table_and_ends_with_the_total_line_that_the_json_repeats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assembly = write_assembly(tmp_path / "cdk.out", web_group(min_size=2, max_size=4))
    output = tmp_path / "cost.json"
    quiet = ["--instance-log-mb-per-day", "0", "--requests-per-s", "0"]
    status = main(["--stage", "prod", "--assembly", str(assembly), "--output", str(output), *quiet])
    assert status == 0
    printed = capsys.readouterr().out.rstrip().splitlines()
    result = json.loads(output.read_text())
    assert printed[-1] == f"total: {result['total']:.2f} USD/month"
    assert result["total"] == pytest.approx(119.14 + 1.6, abs=0.01)  # 2 x m7g.large + 2 x 10 GiB gp3
    assert printed[-2] == f"ceiling: {result['ceiling']:.2f} USD/month"
    assert result["assumptions"]["instance_log_mb_per_day"] == 0
    assert result["assumptions"]["jobs_per_day"] == 100_000  # prod's default
    assert result["prices"]["compiled"]
    assert result["currency"] == "USD"
    assert {line["type"] for line in result["lines"]} == {"AWS::AutoScaling::AutoScalingGroup"}
    assert result["free"] == [
        {
            "type": "AWS::EC2::LaunchTemplate",
            "count": 1,
            "reason": "priced with its Auto Scaling group (instances, volumes, detailed monitoring)",
        }
    ]
    assert any("0 requests/s (--requests-per-s), 4 KB per response" in line for line in printed[:8])


def test_a_bad_value_is_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assembly = write_assembly(tmp_path / "cdk.out", web_group())
    assert main(["--assembly", str(assembly), "--output", str(tmp_path / "c.json"), "--write-share", "1.5"]) == 1
    assert capsys.readouterr().err == "error: --write-share must be between 0 and 1, got 1.5\n"
    assert not (tmp_path / "c.json").exists()


def test_a_template_value_it_cannot_price_is_a_cost_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assembly = write_assembly(tmp_path / "cdk.out", web_group(instance_type="q1.large"))
    assert main(["--assembly", str(assembly), "--output", str(tmp_path / "c.json")]) == 1
    assert capsys.readouterr().err.startswith("cost error: Stack/Group: no price for the instance type q1.large")


def test_a_stack_s_region_comes_from_the_manifest_and_is_named_with_its_price_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = {"Ip": {"Type": "AWS::EC2::EIP", "Properties": {}}}
    assembly = write_assembly(tmp_path / "cdk.out", resources, region="eu-west-1")
    assert main(["--assembly", str(assembly), "--output", str(tmp_path / "c.json")]) == 0
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "c.json").read_text())
    assert result["regions"] == ["eu-west-1"]
    assert result["total"] == pytest.approx(3.65 * 1.10, abs=0.005)
    assert "prices in eu-west-1: us-east-1's x 1.10 (an approximate ratio)" in printed


def test_the_header_names_the_placeholders_and_the_notes_of_the_synth() -> None:
    run = Run("prod", Assumptions(), "cdk synth ...", {"certificateArn": "a dummy"}, ["REGIONS=...: no regions key"])
    lines = header(run, estimate(deployment({})))
    assert "placeholder certificateArn: a dummy" in lines
    assert "note: REGIONS=...: no regions key" in lines


def test_a_failed_synth_is_the_app_s_own_error_without_the_cli_s_noise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin" / "npx"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        "echo 'context error: certificateArn must be an ACM certificate ARN' >&2\n"
        "echo 'python3 app.py: Subprocess exited with error 1' >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    with pytest.raises(SynthError) as failed:
        synthesize(plan("prod", [], "", KNOWN), "", tmp_path / "out")
    assert str(failed.value) == "context error: certificateArn must be an ACM certificate ARN"
