"""What faces the internet: the load balancer (hours, LCUs, addresses, data out), WAF, Cognito, Route 53, ACM.

The load balancer's LCUs come from the traffic assumptions: new connections (requests /
requests per connection), active connections (each open about a minute), processed bytes
(requests and responses) and rule evaluations beyond the free 10; the LCU-hours bill the
largest of the four.
"""

from __future__ import annotations

from typing import Final

from cost import prices
from cost.deployment import Deployment, Pricer
from cost.model import CostError, Line, Resource, line, qty

CONNECTION_SECONDS: Final = 60
"""How long a client connection stays open (about the load balancer's idle timeout)."""


def internet_out_price(gb: float) -> float:
    """Data transfer out to the internet for ``gb`` GB in a month, through the volume tiers."""
    total, left = 0.0, gb
    for size, price in prices.INTERNET_OUT_TIERS:
        used = min(left, size)
        total, left = total + used * price, left - used
        if left <= 0:
            break
    return total


def _rules(balancer: Resource, deployment: Deployment) -> int:
    listeners = list(deployment.referencing(balancer, "AWS::ElasticLoadBalancingV2::Listener"))
    counts = [
        sum(1 for _ in deployment.referencing(listener, "AWS::ElasticLoadBalancingV2::ListenerRule"))
        for listener in listeners
    ]
    return max(counts, default=0)


def lcus(deployment: Deployment, region: str, rules: int) -> tuple[float, str]:
    """The load balancer capacity units a region's traffic uses, and which dimension sets them."""
    a = deployment.assumptions
    rps = a.requests_per_s * deployment.share(region)
    new_per_s = rps / a.requests_per_connection
    dimensions = {
        "new connections": new_per_s / prices.LCU_NEW_CONNECTIONS_PER_S,
        "active connections": new_per_s * CONNECTION_SECONDS / prices.LCU_ACTIVE_CONNECTIONS_PER_MIN,
        "processed bytes": rps * (a.request_kb + a.avg_response_kb) * 3600 / 1e6 / prices.LCU_PROCESSED_GB_PER_HOUR,
        "rule evaluations": rps * max(0, rules - prices.LCU_FREE_RULES) / prices.LCU_RULE_EVALUATIONS_PER_S,
    }
    largest = max(dimensions, key=lambda name: dimensions[name])
    return dimensions[largest], largest


def load_balancer(balancer: Resource, deployment: Deployment) -> list[Line]:
    """Hours, LCU-hours, its public addresses, and the responses it sends to the internet."""
    if balancer.get("Type", "application") != "application":
        raise CostError(f"{balancer.label}: only application load balancers are priced, not {balancer.get('Type')!r}")
    hours = prices.HOURS_PER_MONTH
    units, by = lcus(deployment, balancer.region, _rules(balancer, deployment))
    lines = [
        line(
            balancer,
            "edge",
            f"ALB hours + {qty(units)} LCU (set by {by})",
            hours * (prices.ALB_HOUR + units * prices.ALB_LCU_HOUR),
        )
    ]
    if balancer.get("Scheme", "internet-facing") == "internet-facing":
        zones = len(balancer.get("Subnets") or balancer.get("SubnetMappings") or [])
        lines.append(
            line(
                balancer,
                "network",
                f"{zones} public IPv4 addresses (one per zone)",
                zones * prices.PUBLIC_IPV4_HOUR * hours,
            )
        )
        gb = deployment.assumptions.response_gb_per_month * deployment.share(balancer.region)
        lines.append(
            line(balancer, "data transfer", f"{qty(gb)} GB/month of responses to the internet", internet_out_price(gb))
        )
    return lines


def web_acl(acl: Resource, deployment: Deployment) -> list[Line]:
    """The web ACL, its rules (a managed rule group counts as one), and the requests it inspects."""
    rules = acl.get("Rules") or []
    millions = deployment.assumptions.requests_per_month * deployment.share(acl.region) / 1e6
    month = prices.WAF_WEB_ACL_MONTH + len(rules) * prices.WAF_RULE_MONTH + millions * prices.WAF_REQUESTS_PER_MILLION
    paid = []
    for rule in rules:
        group = (rule.get("Statement") or {}).get("ManagedRuleGroupStatement") or {}
        if group.get("Name") in prices.WAF_PAID_RULE_GROUPS:
            fee, per_million = prices.WAF_PAID_RULE_GROUPS[group["Name"]]
            month += fee + millions * per_million
            paid.append(group["Name"])
    extra = f", paid groups: {', '.join(paid)}" if paid else ""
    return [line(acl, "edge", f"web ACL, {len(rules)} rules, {qty(millions)} M requests{extra}", month)]


def _client_credentials(client: Resource) -> bool:
    return "client_credentials" in (client.get("AllowedOAuthFlows") or [])


def user_pool_client(client: Resource, deployment: Deployment) -> list[Line]:
    """A machine-to-machine client (client-credentials flow): a monthly fee and each token issued."""
    if not _client_credentials(client):
        return [line(client, "edge", "app client for users: priced by monthly active users (none)", 0.0)]
    m2m = sum(1 for c in deployment.of_type("AWS::Cognito::UserPoolClient") if _client_credentials(c))
    tokens = deployment.assumptions.token_requests_per_day * prices.DAYS_PER_MONTH / m2m
    return [
        line(
            client,
            "edge",
            f"machine-to-machine app client + {qty(tokens)} token requests a month",
            prices.COGNITO_M2M_CLIENT_MONTH + tokens * prices.COGNITO_M2M_TOKEN_REQUEST,
        )
    ]


def hosted_zone(zone: Resource, deployment: Deployment) -> list[Line]:
    """A hosted zone (the queries are priced on its records)."""
    return [line(zone, "edge", "hosted zone", prices.ROUTE53_HOSTED_ZONE_MONTH)]


def _record_line(resource: Resource, record: dict[str, object], deployment: Deployment) -> Line:
    if record.get("AliasTarget"):
        return line(resource, "edge", f"alias record {record.get('Type', '')}: queries to AWS resources are free", 0.0)
    latency = bool(record.get("Region"))
    price = prices.ROUTE53_LATENCY_QUERIES_PER_MILLION if latency else prices.ROUTE53_QUERIES_PER_MILLION
    a = deployment.assumptions
    millions = a.requests_per_month * a.dns_queries_per_request / 1e6
    kind = "latency-based" if latency else "standard"
    return line(resource, "edge", f"{kind} record: {qty(millions)} M queries a month", millions * price)


def record_set(record: Resource, deployment: Deployment) -> list[Line]:
    """A record: alias records to AWS resources answer for free; others pay per query."""
    return [_record_line(record, dict(record.properties), deployment)]


def record_set_group(group: Resource, deployment: Deployment) -> list[Line]:
    """Each record of the group."""
    return [_record_line(group, record, deployment) for record in group.get("RecordSets") or []]


HEALTH_CHECK_FEATURES: Final = ("HTTPS", "string matching", "fast interval", "latency measurement")


def health_check(check: Resource, deployment: Deployment) -> list[Line]:
    """A health check of an AWS endpoint, plus each optional feature it uses."""
    config = check.get("HealthCheckConfig") or {}
    kind = str(config.get("Type", ""))
    used = [
        name
        for name, on in zip(
            HEALTH_CHECK_FEATURES,
            (
                kind.startswith("HTTPS"),
                kind.endswith("STR_MATCH"),
                int(config.get("RequestInterval", 30)) < 30,
                bool(config.get("MeasureLatency")),
            ),
            strict=True,
        )
        if on
    ]
    month = prices.ROUTE53_HEALTH_CHECK_MONTH + len(used) * prices.ROUTE53_HEALTH_CHECK_FEATURE_MONTH
    features = f" + {', '.join(used)}" if used else ""
    return [line(check, "edge", f"health check ({kind or 'endpoint'}) of an AWS endpoint{features}", month)]


def certificate(resource: Resource, deployment: Deployment) -> list[Line]:
    """Public certificates are free; a private CA's certificate is not."""
    if resource.get("CertificateAuthorityArn"):
        return [line(resource, "edge", "private certificate", prices.ACM_PRIVATE_CERTIFICATE_MONTH)]
    return [line(resource, "edge", "public certificate: free", 0.0)]


PRICERS: Final[dict[str, list[Pricer]]] = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": [load_balancer],
    "AWS::WAFv2::WebACL": [web_acl],
    "AWS::Cognito::UserPoolClient": [user_pool_client],
    "AWS::Route53::HostedZone": [hosted_zone],
    "AWS::Route53::RecordSet": [record_set],
    "AWS::Route53::RecordSetGroup": [record_set_group],
    "AWS::Route53::HealthCheck": [health_check],
    "AWS::CertificateManager::Certificate": [certificate],
}
