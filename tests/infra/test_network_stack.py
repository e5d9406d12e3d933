"""NetworkStack: zones, subnet tiers, NAT, flow logs and endpoints."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from stacks.constructs.network import INTERFACE_ENDPOINTS
from tests.infra.conftest import Synthesized


def _zone_index(subnet: dict[str, Any]) -> int:
    select = subnet["Properties"]["AvailabilityZone"]["Fn::Select"]
    assert select[1] == {"Fn::GetAZs": ""}, "zones are resolved by CloudFormation, not looked up"
    return int(select[0])


def _tiers(config: Synthesized) -> dict[str, set[int]]:
    tiers: dict[str, set[int]] = {}
    for subnet in config.resources("network", "AWS::EC2::Subnet").values():
        tags = {tag["Key"]: tag["Value"] for tag in subnet["Properties"]["Tags"]}
        tiers.setdefault(tags["aws-cdk:subnet-name"], set()).add(_zone_index(subnet))
    return tiers


def test_dev_uses_two_zones_and_one_nat(dev: Synthesized) -> None:
    assert _tiers(dev) == {"public": {0, 1}, "app": {0, 1}, "data": {0, 1}}
    dev.template("network").resource_count_is("AWS::EC2::NatGateway", 1)


def test_prod_uses_three_zones_and_a_nat_per_zone(prod: Synthesized) -> None:
    assert _tiers(prod) == {"public": {0, 1, 2}, "app": {0, 1, 2}, "data": {0, 1, 2}}
    prod.template("network").resource_count_is("AWS::EC2::NatGateway", 3)


def test_tiers_have_the_right_routes(prod: Synthesized) -> None:
    template = prod.templates["network"]["Resources"]
    routes = prod.resources("network", "AWS::EC2::Route")
    by_table = {route["Properties"]["RouteTableId"]["Ref"]: route["Properties"] for route in routes.values()}
    for subnet_id, subnet in prod.resources("network", "AWS::EC2::Subnet").items():
        tier = {tag["Key"]: tag["Value"] for tag in subnet["Properties"]["Tags"]}["aws-cdk:subnet-name"]
        association = next(
            association["Properties"]
            for association in template.values()
            if association["Type"] == "AWS::EC2::SubnetRouteTableAssociation"
            and association["Properties"]["SubnetId"] == {"Ref": subnet_id}
        )
        route = by_table.get(association["RouteTableId"]["Ref"], {})
        if tier == "public":
            assert "GatewayId" in route
            assert subnet["Properties"]["MapPublicIpOnLaunch"] is True
        elif tier == "app":
            assert "NatGatewayId" in route
        else:
            assert route == {}, "data subnets have no route out"


def test_flow_logs_record_all_traffic_with_retention(dev: Synthesized, prod: Synthesized) -> None:
    for config, days in ((dev, 7), (prod, 90)):
        template = config.template("network")
        template.has_resource_properties(
            "AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"}
        )
        template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": days})


def test_s3_gateway_endpoint_always_interface_endpoints_in_prod_only(dev: Synthesized, prod: Synthesized) -> None:
    for config in (dev, prod):
        config.template("network").has_resource_properties(
            "AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway", "ServiceName": Match.any_value()}
        )
    dev.template("network").resource_properties_count_is("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Interface"}, 0)
    interface = {
        logical_id: resource["Properties"]
        for logical_id, resource in prod.resources("network", "AWS::EC2::VPCEndpoint").items()
        if resource["Properties"]["VpcEndpointType"] == "Interface"
    }
    assert len(interface) == len(INTERFACE_ENDPOINTS)
    assert all(properties["PrivateDnsEnabled"] is True for properties in interface.values())


def test_endpoints_admit_https_from_the_vpc_only(prod: Synthesized) -> None:
    groups = [
        group["Properties"]
        for group in prod.resources("network", "AWS::EC2::SecurityGroup").values()
        if "SecurityGroupIngress" in group["Properties"]
    ]
    assert len(groups) == len(INTERFACE_ENDPOINTS)
    for group in groups:
        assert [(rule["CidrIp"], rule["FromPort"], rule["ToPort"]) for rule in group["SecurityGroupIngress"]] == [
            ("10.0.0.0/16", 443, 443)
        ]
