"""Peer discovery: member names, the static list and file, Membership, and the AWS sources
against moto (only in-service, healthy members count)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest

from services.routing.discovery import (
    AsgDiscovery,
    DiscoveryError,
    Membership,
    StaticDiscovery,
    TargetGroupDiscovery,
    make_discovery,
    parse_member,
    parse_members,
)
from tests.support import eventually


@pytest.mark.parametrize(
    ("text", "member"),
    [
        ("10.0.0.1:8080", "10.0.0.1:8080"),
        (" Web-1.internal:80 ", "web-1.internal:80"),
        ("[::1]:8080", "[::1]:8080"),
        ("[2001:db8:0::1]:9000", "[2001:db8::1]:9000"),
    ],
)
def test_members_are_canonical_host_port(text: str, member: str) -> None:
    assert parse_member(text) == member


@pytest.mark.parametrize("text", ["10.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", "::1:80", "bad host:80", ":80", "h:x"])
def test_bad_members_are_refused_naming_the_entry(text: str) -> None:
    with pytest.raises(ValueError, match="peer"):
        parse_member(text)


def test_member_lists_are_sorted_and_deduplicated() -> None:
    text = "10.0.0.2:80, 10.0.0.1:80  # first two\n\n10.0.0.2:80\n# a comment line\n10.0.0.3:80"
    assert parse_members(text) == ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]


def test_static_file_is_reread_and_errors_name_the_file(tmp_path: Path) -> None:
    peers = tmp_path / "peers"
    discovery = StaticDiscovery(["10.0.0.9:80"], file=peers)
    with pytest.raises(DiscoveryError, match=r"peers file .* cannot be read"):
        discovery.members()
    peers.write_text("10.0.0.1:80\n")
    assert discovery.members() == ["10.0.0.1:80"]
    peers.write_text("10.0.0.1:80\n10.0.0.2:80\n")
    assert discovery.members() == ["10.0.0.1:80", "10.0.0.2:80"]
    peers.write_text("10.0.0.1\n")
    with pytest.raises(DiscoveryError, match=r"'10\.0\.0\.1' must be host:port"):
        discovery.members()


class Scripted:
    """A discovery source that answers what the test says, or fails."""

    def __init__(self, *answers: list[str] | Exception) -> None:
        self.answers = list(answers)

    def members(self) -> list[str]:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def describe(self) -> str:
        return "scripted"


def test_membership_applies_changes_and_keeps_the_last_good_list() -> None:
    changes: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    source = Scripted(["b:1", "a:1"], ["a:1", "b:1"], DiscoveryError("down"), [], ["a:1", "b:1", "c:1"])
    membership = Membership(source, initial=["a:1"])
    membership.add_listener(lambda old, new: changes.append((old, new)))
    assert membership.refresh()
    assert membership.members == ("a:1", "b:1")
    version = membership.ring.version
    assert not membership.refresh()  # same members in another order: no change
    assert not membership.refresh()  # an error keeps the members
    assert membership.last_error == "down"
    assert not membership.refresh()  # so does an empty answer
    assert membership.last_error == "scripted reported no members"
    assert membership.members == ("a:1", "b:1")
    assert membership.ring.version == version
    assert membership.refresh()
    assert membership.last_error is None
    assert changes == [(("a:1",), ("a:1", "b:1")), (("a:1", "b:1"), ("a:1", "b:1", "c:1"))]


@pytest.mark.anyio
async def test_run_refreshes_on_its_interval_and_when_asked() -> None:
    source = Scripted(["a:1"])
    membership = Membership(source, initial=["a:1"], min_interval=0.0)
    async with anyio.create_task_group() as group:
        group.start_soon(membership.run, 0.05)
        await eventually(lambda: membership.refreshes >= 3)  # unasked: on its interval, again and again
        group.cancel_scope.cancel()
    slow = Membership(Scripted(["a:1"]), initial=["a:1"], min_interval=0.0)
    async with anyio.create_task_group() as group:
        group.start_soon(slow.run, 3600)
        await anyio.sleep(0.05)  # run() is waiting for its interval (an hour) now
        assert slow.refreshes == 0
        slow.request_refresh()
        await eventually(lambda: slow.refreshes >= 1)  # asked: refreshed long before the hour is up
        assert slow.refreshes == 1  # once per request
        group.cancel_scope.cancel()


def test_make_discovery_names_missing_parameters() -> None:
    assert isinstance(make_discovery("static", port=80, peers=["a:80"]), StaticDiscovery)
    with pytest.raises(ValueError, match="API_ASG_NAME"):
        make_discovery("asg", port=80)
    with pytest.raises(ValueError, match="API_TARGET_GROUP_ARN"):
        make_discovery("target-group", port=80)
    with pytest.raises(ValueError, match="one of static, asg, target-group"):
        make_discovery("dns", port=80)


# -- AWS, against moto -------------------------------------------------------------------


@pytest.fixture
def aws(moto_server: str) -> Iterator[dict[str, Any]]:
    clients = {
        name: boto3.client(name, endpoint_url=moto_server, region_name="us-east-1")
        for name in ("autoscaling", "ec2", "elbv2")
    }
    yield clients
    for client in clients.values():
        client.close()


def _network(ec2: Any) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    return vpc, subnet


def _image(ec2: Any) -> str:
    return str(ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"])


def _ips(ec2: Any, ids: list[str]) -> dict[str, str]:
    reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["PrivateIpAddress"] for r in reservations for i in r["Instances"]}


def test_asg_members_are_the_in_service_healthy_instances(aws: dict[str, Any]) -> None:
    ec2, autoscaling = aws["ec2"], aws["autoscaling"]
    _, subnet = _network(ec2)
    name = f"web-{secrets.token_hex(4)}"
    template = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": _image(ec2), "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=0,
        MaxSize=5,
        DesiredCapacity=4,
        VPCZoneIdentifier=subnet,
    )
    instances = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0][
        "Instances"
    ]
    ids = sorted(i["InstanceId"] for i in instances)
    assert len(ids) == 4
    ips = _ips(ec2, ids)
    discovery = AsgDiscovery(name, port=8080, autoscaling=autoscaling, ec2=ec2)
    assert discovery.members() == sorted(f"{ips[i]}:8080" for i in ids)

    autoscaling.enter_standby(AutoScalingGroupName=name, InstanceIds=[ids[0]], ShouldDecrementDesiredCapacity=True)
    autoscaling.set_instance_health(InstanceId=ids[1], HealthStatus="Unhealthy", ShouldRespectGracePeriod=False)
    kept = [i for i in ids[2:] if _state(autoscaling, name, i) == ("InService", "Healthy")]
    assert len(kept) == 2
    assert discovery.members() == sorted(f"{ips[i]}:8080" for i in kept)
    assert f"{ips[ids[0]]}:8080" not in discovery.members()
    assert f"{ips[ids[1]]}:8080" not in discovery.members()


def _state(autoscaling: Any, group: str, instance: str) -> tuple[str, str]:
    found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]["Instances"]
    match = next(i for i in found if i["InstanceId"] == instance)
    return match["LifecycleState"], match["HealthStatus"]


def test_asg_discovery_names_a_missing_group(aws: dict[str, Any]) -> None:
    discovery = AsgDiscovery("no-such-group", port=80, autoscaling=aws["autoscaling"], ec2=aws["ec2"])
    with pytest.raises(DiscoveryError, match="'no-such-group' does not exist"):
        discovery.members()


def test_target_group_members_are_the_healthy_targets(aws: dict[str, Any]) -> None:
    ec2, elbv2 = aws["ec2"], aws["elbv2"]
    vpc, subnet = _network(ec2)
    ids = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId=_image(ec2), MinCount=3, MaxCount=3, SubnetId=subnet)["Instances"]
    ]
    ips = _ips(ec2, ids)
    arn = elbv2.create_target_group(
        Name=f"web-{secrets.token_hex(4)}", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": i, "Port": 8080} for i in ids])
    discovery = TargetGroupDiscovery(arn, elbv2=elbv2, ec2=ec2)
    assert discovery.members() == sorted(f"{ips[i]}:8080" for i in ids)

    ec2.stop_instances(InstanceIds=[ids[0]])
    health = {
        d["Target"]["Id"]: d["TargetHealth"]["State"]
        for d in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    }
    assert health[ids[0]] != "healthy"
    assert discovery.members() == sorted(f"{ips[i]}:8080" for i in ids[1:])


def test_ip_target_groups_use_the_target_addresses(aws: dict[str, Any]) -> None:
    ec2, elbv2 = aws["ec2"], aws["elbv2"]
    vpc, _ = _network(ec2)
    arn = elbv2.create_target_group(
        Name=f"ip-{secrets.token_hex(4)}", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.20.1.7", "Port": 9000}])
    members = TargetGroupDiscovery(arn, elbv2=elbv2, ec2=ec2).members()
    assert members == ["10.20.1.7:9000"]
