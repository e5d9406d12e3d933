"""The VPC's paid parts: NAT gateways, public IPv4 addresses, interface endpoints, and traffic between zones.

NAT gateways carry each instance's own traffic to AWS APIs and the internet (an assumption per
instance) and, where no ``logs`` interface endpoint exists, the fleets' logs. Traffic between
Availability Zones comes from the web fleet: a request forwarded to the key's owner in another
zone, and the owner's cache and database reads, cross a zone boundary with probability
1 - 1/zones.
"""

from __future__ import annotations

from typing import Final

from cost import prices
from cost.deployment import Deployment, Pricer, render
from cost.fleets import fleet_of, fleets
from cost.logs import fleet_log_gb
from cost.model import Line, Resource, line, qty


def _interface_endpoint(deployment: Deployment, region: str, service: str) -> bool:
    return any(
        endpoint.region == region
        and endpoint.get("VpcEndpointType") == "Interface"
        and render(endpoint.get("ServiceName", "")).endswith(f".{service}")
        for endpoint in deployment.of_type("AWS::EC2::VPCEndpoint")
    )


def _fleet_logs_gb(deployment: Deployment, region: str) -> tuple[float, float]:
    pairs = [fleet_log_gb(fleet, deployment) for fleet in fleets(deployment) if fleet.group.region == region]
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def nat_gateway(nat: Resource, deployment: Deployment) -> list[Line]:
    """Its hours, and its share of the region's instances' traffic through NAT."""
    a = deployment.assumptions
    in_region = [fleet for fleet in fleets(deployment) if fleet.group.region == nat.region]
    gb = sum(fleet.baseline for fleet in in_region) * a.nat_gb_per_instance
    gb_ceiling = sum(fleet.max_size for fleet in in_region) * a.nat_gb_per_instance
    what = "instances' own traffic"
    if not _interface_endpoint(deployment, nat.region, "logs"):
        logs, logs_ceiling = _fleet_logs_gb(deployment, nat.region)
        gb, gb_ceiling, what = gb + logs, gb_ceiling + logs_ceiling, what + ", and their logs: no logs endpoint"
    gateways = sum(1 for other in deployment.of_type("AWS::EC2::NatGateway") if other.region == nat.region)
    gb, gb_ceiling = gb / gateways, gb_ceiling / gateways
    hours = prices.NAT_GATEWAY_HOUR * prices.HOURS_PER_MONTH
    return [
        line(
            nat,
            "network",
            f"NAT gateway hours + {qty(gb)} GB/month processed ({what})",
            hours + gb * prices.NAT_GATEWAY_GB,
            hours + gb_ceiling * prices.NAT_GATEWAY_GB,
        )
    ]


def elastic_ip(eip: Resource, deployment: Deployment) -> list[Line]:
    """A public IPv4 address."""
    return [line(eip, "network", "public IPv4 address", prices.PUBLIC_IPV4_HOUR * prices.HOURS_PER_MONTH)]


def vpc_endpoint(endpoint: Resource, deployment: Deployment) -> list[Line]:
    """An interface endpoint: hours in each of its zones and the data it carries. Gateway endpoints are free."""
    service = render(endpoint.get("ServiceName", "")).rsplit(".", 1)[-1]
    if endpoint.get("VpcEndpointType", "Gateway") != "Interface":
        return [line(endpoint, "network", f"gateway endpoint ({service}): free", 0.0)]
    zones = max(1, len(endpoint.get("SubnetIds") or []))
    hours = zones * prices.INTERFACE_ENDPOINT_AZ_HOUR * prices.HOURS_PER_MONTH
    gb, gb_ceiling = _fleet_logs_gb(deployment, endpoint.region) if service == "logs" else (0.0, 0.0)
    carried = f", {qty(gb)} GB/month (the fleets' logs)" if service == "logs" else ", data negligible"
    return [
        line(
            endpoint,
            "network",
            f"interface endpoint ({service}) in {zones} zones{carried}",
            hours + gb * prices.INTERFACE_ENDPOINT_GB,
            hours + gb_ceiling * prices.INTERFACE_ENDPOINT_GB,
        )
    ]


def cross_zone_gb(deployment: Deployment, region: str, web_nodes: float, zones: int) -> float:
    """GB a month crossing zones in a region's web fleet: peer forwards, and the owner's cache and database reads."""
    if zones < 2 or web_nodes <= 0:
        return 0.0
    a = deployment.assumptions
    other_zone = 1 - 1 / zones
    forwarded = max(0.0, web_nodes - 1) / web_nodes * (a.request_kb + a.avg_response_kb)
    backend = (1 - a.write_share) * a.lru_miss_share * a.avg_response_kb
    return a.requests_per_month * deployment.share(region) * other_zone * (forwarded + backend) / 1e6


def web_fleet_traffic(group: Resource, deployment: Deployment) -> list[Line]:
    """Data between zones caused by a web fleet (one that serves the load balancer's traffic)."""
    fleet = fleet_of(group, deployment)
    if not fleet.serves_traffic:
        return []
    each_gb = 2 * prices.INTER_AZ_GB_EACH_WAY
    gb = cross_zone_gb(deployment, group.region, fleet.baseline, fleet.zones)
    gb_ceiling = cross_zone_gb(deployment, group.region, fleet.max_size, fleet.zones)
    return [
        line(
            group,
            "data transfer",
            f"{qty(gb)} GB/month between {fleet.zones} zones (peer forwards, cache and database reads)",
            gb * each_gb,
            gb_ceiling * each_gb,
        )
    ]


PRICERS: Final[dict[str, list[Pricer]]] = {
    "AWS::EC2::NatGateway": [nat_gateway],
    "AWS::EC2::EIP": [elastic_ip],
    "AWS::EC2::VPCEndpoint": [vpc_endpoint],
    "AWS::AutoScaling::AutoScalingGroup": [web_fleet_traffic],
}
