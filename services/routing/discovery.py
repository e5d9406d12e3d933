"""Peer discovery: which web nodes are members of the ring, and keeping the ring in step.

A member is named by the address peers reach it at, ``host:port`` (``[v6]:port`` for IPv6),
so a member name is also where requests for its keys are forwarded. Every node builds its
ring from the same sorted, deduplicated member list, so all nodes agree on each key's owner.

Three sources, one interface (:class:`Discovery`, a ``members()`` call):

- :class:`StaticDiscovery`: a fixed list, or a file re-read on every refresh (one member a
  line or comma-separated, ``#`` comments), so a local launcher can add and remove nodes at
  run time by rewriting the file atomically (:func:`write_members`).
- :class:`AsgDiscovery`: the ``InService`` and ``Healthy`` instances of an Auto Scaling group,
  by private IP.
- :class:`TargetGroupDiscovery`: the ``healthy`` targets of an ALB target group (instance or
  IP targets).

:class:`Membership` owns a :class:`~services.routing.HashRing` and refreshes it from a
discovery source on an interval and, sooner, when asked (after a failed forward). A failed
refresh keeps the last good membership; so does an empty answer, since a fleet with no
members cannot be serving this request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import structlog

from services.routing.ring import DEFAULT_VNODES, HashRing

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

_log = structlog.get_logger(__name__)

MODES: Final = ("static", "asg", "target-group")
"""The discovery modes :func:`make_discovery` accepts."""

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class DiscoveryError(RuntimeError):
    """The member list could not be read; the message names the source and the cause."""


def member_name(host: str, port: int) -> str:
    """The member name of ``host`` (a name, IPv4 or IPv6 address) and ``port``: ``host:port``."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be an integer in 1..65535, got {port!r}")
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host):
            raise ValueError(f"{host!r} is not a host name or IP address") from None
        return f"{host.lower()}:{port}"
    return f"[{address.compressed}]:{port}" if address.version == 6 else f"{address.compressed}:{port}"


def parse_member(text: str) -> str:
    """Validate ``host:port`` (``[v6]:port`` for IPv6) and return it in canonical form.

    Raises ``ValueError`` naming the entry if it is not an address with a port.
    """
    entry = text.strip()
    host, sep, port = entry.rpartition(":")
    if not sep or not host or not port.isdigit() or (":" in host and not host.startswith("[")):
        raise ValueError(f"peer {text!r} must be host:port (IPv6 as [address]:port)")
    try:
        return member_name(host, int(port))
    except ValueError as error:
        raise ValueError(f"peer {text!r}: {error}") from None


def parse_members(text: str) -> list[str]:
    """Parse a member list: entries separated by commas or newlines, ``#`` starts a comment."""
    entries = (part for line in text.splitlines() for part in line.split("#", 1)[0].split(","))
    return sorted({parse_member(entry) for entry in entries if entry.strip()})


class Discovery(Protocol):
    """A source of ring members. ``members()`` may block (it may call AWS); call it off the event loop."""

    def members(self) -> list[str]:
        """The current members, sorted and deduplicated. Raises :class:`DiscoveryError`."""
        ...

    def describe(self) -> str:
        """A short description for logs and ``GET /ring``, e.g. ``asg web-fleet``."""
        ...


class StaticDiscovery:
    """Members from a fixed list, or from ``file`` re-read on every call (which wins if given)."""

    def __init__(self, peers: Iterable[str] = (), *, file: Path | None = None) -> None:
        self._peers = sorted({parse_member(peer) for peer in peers})
        self._file = file

    def members(self) -> list[str]:
        """The listed members; the file's current content when a file is set."""
        if self._file is None:
            return list(self._peers)
        try:
            text = self._file.read_text()
        except OSError as error:
            raise DiscoveryError(f"peers file {str(self._file)!r} cannot be read: {error.strerror}") from None
        try:
            return parse_members(text)
        except ValueError as error:
            raise DiscoveryError(f"peers file {str(self._file)!r}: {error}") from None

    def describe(self) -> str:
        """``static file PATH`` or ``static``."""
        return f"static file {self._file}" if self._file else "static"


def write_members(path: Path, members: Iterable[str]) -> None:
    """Replace the members file at ``path`` atomically, one member a line, for :class:`StaticDiscovery`.

    The list goes to a temporary file that is then renamed over ``path``, so a reader sees
    the old list or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.tmp")
    temporary.write_text("".join(f"{member}\n" for member in sorted(members)))
    temporary.replace(path)


class AsgDiscovery:
    """The ``InService``, ``Healthy`` instances of Auto Scaling group ``group_name``, at ``port``."""

    def __init__(
        self,
        group_name: str,
        *,
        port: int,
        autoscaling: AutoScalingClient | None = None,
        ec2: EC2Client | None = None,
    ) -> None:
        if not group_name:
            raise ValueError("asg discovery needs the Auto Scaling group's name")
        member_name("127.0.0.1", port)  # validates the port
        self._group = group_name
        self._port = port
        self._autoscaling = autoscaling or _client("autoscaling")
        self._ec2 = ec2 or _client("ec2")

    def members(self) -> list[str]:
        """The private IPs of the group's in-service instances, as members."""
        try:
            groups = self._autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self._group])
        except Exception as error:
            raise DiscoveryError(f"Auto Scaling group {self._group!r} cannot be described: {error}") from error
        if not groups["AutoScalingGroups"]:
            raise DiscoveryError(f"Auto Scaling group {self._group!r} does not exist")
        ids = [
            instance["InstanceId"]
            for instance in groups["AutoScalingGroups"][0].get("Instances", [])
            if instance.get("LifecycleState") == "InService" and instance.get("HealthStatus", "Healthy") == "Healthy"
        ]
        return sorted({member_name(ip, self._port) for ip in _private_ips(self._ec2, ids).values()})

    def describe(self) -> str:
        """``asg NAME``."""
        return f"asg {self._group}"


class TargetGroupDiscovery:
    """The ``healthy`` targets of an ALB target group, at their registered port (or ``port``)."""

    def __init__(
        self,
        target_group_arn: str,
        *,
        port: int | None = None,
        elbv2: ElasticLoadBalancingv2Client | None = None,
        ec2: EC2Client | None = None,
    ) -> None:
        if not target_group_arn:
            raise ValueError("target-group discovery needs the target group's ARN")
        if port is not None:
            member_name("127.0.0.1", port)
        self._arn = target_group_arn
        self._port = port
        self._elbv2 = elbv2 or _client("elbv2")
        self._ec2 = ec2 or _client("ec2")
        self._target_type: str | None = None

    def members(self) -> list[str]:
        """The healthy targets as members; instance targets are resolved to their private IPs."""
        try:
            if self._target_type is None:
                groups = self._elbv2.describe_target_groups(TargetGroupArns=[self._arn])["TargetGroups"]
                self._target_type = groups[0].get("TargetType", "instance")
            health = self._elbv2.describe_target_health(TargetGroupArn=self._arn)["TargetHealthDescriptions"]
        except Exception as error:
            raise DiscoveryError(f"target group {self._arn!r} cannot be described: {error}") from error
        healthy: list[tuple[str, int]] = []
        for item in health:
            if item.get("TargetHealth", {}).get("State") != "healthy":
                continue
            port = self._port or item["Target"].get("Port")
            if port is None:
                raise DiscoveryError(f"target group {self._arn!r} reports a target without a port; set the peer port")
            healthy.append((item["Target"]["Id"], port))
        if self._target_type == "ip":
            return sorted({member_name(target, port) for target, port in healthy})
        if self._target_type != "instance":
            raise DiscoveryError(f"target group {self._arn!r} has {self._target_type} targets; need instance or ip")
        ips = _private_ips(self._ec2, [target for target, _ in healthy])
        return sorted({member_name(ips[target], port) for target, port in healthy if target in ips})

    def describe(self) -> str:
        """``target-group ARN``."""
        return f"target-group {self._arn}"


def make_discovery(
    mode: str,
    *,
    port: int,
    peers: Sequence[str] = (),
    peers_file: Path | None = None,
    asg_name: str | None = None,
    target_group_arn: str | None = None,
) -> Discovery:
    """Build the discovery source for ``mode`` (one of :data:`MODES`); ``port`` is the peers' port.

    Raises ``ValueError`` naming what the mode is missing.
    """
    if mode == "static":
        return StaticDiscovery(peers, file=peers_file)
    if mode == "asg":
        if not asg_name:
            raise ValueError("discovery mode 'asg' needs API_ASG_NAME")
        return AsgDiscovery(asg_name, port=port)
    if mode == "target-group":
        if not target_group_arn:
            raise ValueError("discovery mode 'target-group' needs API_TARGET_GROUP_ARN")
        return TargetGroupDiscovery(target_group_arn)
    raise ValueError(f"discovery mode must be one of {', '.join(MODES)}, got {mode!r}")


def _client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Short timeouts and few retries: a refresh that fails keeps the last membership.
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client(service, config=config)  # type: ignore[call-overload]


def _private_ips(ec2: EC2Client, instance_ids: Sequence[str]) -> dict[str, str]:
    """Instance id → private IPv4 of the running instances among ``instance_ids``."""
    if not instance_ids:
        return {}
    ips: dict[str, str] = {}
    try:
        for page in ec2.get_paginator("describe_instances").paginate(InstanceIds=list(instance_ids)):
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    if instance.get("State", {}).get("Name") == "running" and instance.get("PrivateIpAddress"):
                        ips[instance["InstanceId"]] = instance["PrivateIpAddress"]
    except Exception as error:
        raise DiscoveryError(f"instances {', '.join(instance_ids)} cannot be described: {error}") from error
    return ips


Listener = Callable[[tuple[str, ...], tuple[str, ...]], None]
"""Called with the old and the new member tuple after every membership change."""


class Membership:
    """Keeps a hash ring equal to what a :class:`Discovery` source reports.

    ``initial`` is the membership until the first successful refresh (a node uses itself,
    so it can serve before discovery answers). ``min_interval`` is the shortest time between
    two refreshes that :meth:`request_refresh` can cause, so a burst of forward failures
    costs one discovery call. Listeners run after each change, in the refreshing thread.
    """

    def __init__(
        self,
        discovery: Discovery,
        *,
        initial: Iterable[str] = (),
        vnodes: int = DEFAULT_VNODES,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.discovery = discovery
        self.ring = HashRing(sorted(set(initial)), vnodes=vnodes)
        self._min_interval = min_interval
        self._clock = clock
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self._last_attempt = float("-inf")
        self.last_error: str | None = None
        """The error of the last refresh, or None if it succeeded."""
        self.refreshes = 0
        """Successful refreshes so far."""

    @property
    def members(self) -> tuple[str, ...]:
        """The current members, sorted."""
        return self.ring.nodes

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(old, new)`` after every membership change."""
        self._listeners.append(listener)

    def refresh(self) -> bool:
        """Ask the discovery source and apply its answer; return True if the membership changed.

        A :class:`DiscoveryError` or an empty answer keeps the current membership (logged and
        kept in :attr:`last_error`). Blocking: call it from a thread, not the event loop.
        """
        with self._lock:
            self._last_attempt = self._clock()
            try:
                found = self.discovery.members()
            except DiscoveryError as error:
                self.last_error = str(error)
                _log.warning("peer discovery failed; keeping the current members", error=str(error))
                return False
            if not found:
                self.last_error = f"{self.discovery.describe()} reported no members"
                _log.warning("peer discovery found no members; keeping the current members")
                return False
            self.last_error = None
            self.refreshes += 1
            old = self.ring.nodes
            new = tuple(sorted(set(found)))
            if new == old:
                return False
            self.ring.set_nodes(new)
        _log.info("ring membership changed", members=list(new), added=sorted(set(new) - set(old)))
        for listener in self._listeners:
            listener(old, new)
        return True

    def request_refresh(self) -> None:
        """Ask :meth:`run` to refresh soon (at most once per ``min_interval``); safe from the event loop."""
        if self._wake is not None:
            self._wake.set()

    async def run(self, interval: float) -> None:
        """Refresh every ``interval`` seconds, and sooner when :meth:`request_refresh` asks, until cancelled.

        The first refresh comes after ``interval`` (or a request): call :meth:`refresh` once
        before serving, so a node starts with its real peers.
        """
        self._wake = asyncio.Event()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
                wait = self._last_attempt + self._min_interval - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._wake.clear()
                await asyncio.to_thread(self.refresh)
        finally:
            self._wake = None
