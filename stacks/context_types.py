"""The value types of the CDK context keys: what each accepts, in code and in words.

A type carries its checks (bounds, patterns, validators) and, where the bounds do not say it,
:class:`Accepts` words; :func:`accepts` turns both into the text that errors and docs show
(``an integer 1..100``, ``one of dev, prod``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Final, Literal, get_args, get_origin

import annotated_types
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic.fields import FieldInfo

from stacks.cron import check_cron

Stage = Literal["dev", "prod"]
Architecture = Literal["arm64", "x86_64"]
AuroraEngine = Literal["aurora-postgresql", "aurora-mysql"]
CacheEngine = Literal["redis", "valkey"]

STAGES: Final[tuple[Stage, ...]] = get_args(Stage)
DEFAULT_DB_PORTS: Final[dict[AuroraEngine, int]] = {"aurora-postgresql": 5432, "aurora-mysql": 3306}
DEFAULT_CACHE_PORT: Final = 6379
LOG_RETENTION_DAYS: Final = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653)
"""The retention periods CloudWatch Logs accepts (the ones this app offers)."""
SQS_MAX_RETENTION_SECONDS: Final = 14 * 24 * 3600


@dataclass(frozen=True)
class Accepts:
    """What a value type accepts, in words; for types whose bounds do not say it."""

    text: str


def _refuse() -> None:
    """Fail a value; the key's :class:`Accepts` words say why, so the error adds nothing."""
    raise ValueError("")


def _not_a_boolean(value: object) -> object:
    if isinstance(value, bool):  # pydantic would read True as 1
        _refuse()
    return value


def _pattern(pattern: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(text: str) -> str:
        if not compiled.fullmatch(text):
            _refuse()
        return text

    return AfterValidator(check)


def _one_of(allowed: tuple[int, ...]) -> AfterValidator:
    def check(value: int) -> int:
        if value not in allowed:
            _refuse()
        return value

    return AfterValidator(check)


def _other_than(excluded: int) -> AfterValidator:
    def check(value: int) -> int:
        if value == excluded:
            _refuse()
        return value

    return AfterValidator(check)


def _cidr(text: str) -> str:
    network = ipaddress.ip_network(text, strict=True)
    if network.version != 4 or not 16 <= network.prefixlen <= 18:
        raise ValueError("three tiers of subnets in up to six zones need an IPv4 block from /16 to /18")
    return str(network)


Integer = Annotated[int, BeforeValidator(_not_a_boolean)]
Halves = Annotated[float, BeforeValidator(_not_a_boolean), Field(multiple_of=0.5), Accepts("in steps of 0.5")]
Port = Annotated[Integer, Field(ge=1024, le=65535)]
Days = Annotated[Integer, Field(ge=1, le=35)]
InstanceType = Annotated[
    str,
    _pattern(r"[a-z][a-z0-9-]*\.[a-z0-9]+"),
    Accepts("an EC2 instance type such as t4g.small or m7g.large, of the architecture"),
]
CacheNodeType = Annotated[
    str,
    _pattern(r"cache\.[a-z][a-z0-9-]*\.[a-z0-9]+"),
    Accepts("an ElastiCache node type such as cache.t4g.micro"),
]
CertificateArn = Annotated[
    str,
    _pattern(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+"),
    Accepts("an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)"),
]
DomainPrefix = Annotated[
    str,
    _pattern(r"(?!.*(aws|amazon|cognito))[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"),
    Accepts("a Cognito domain prefix: lowercase letters, digits and hyphens, without aws, amazon or cognito"),
]
Email = Annotated[str, _pattern(r"[^@\s]+@[^@\s]+\.[^@\s]+"), Accepts("an email address")]
Cron = Annotated[
    str,
    AfterValidator(check_cron),
    Accepts("a five-field UTC cron expression; weekday *, names (MON-FRI) or 0-6 (1-5)"),
]
Cidr = Annotated[str, AfterValidator(_cidr), Accepts("an IPv4 CIDR block from /16 to /18")]
LogRetention = Annotated[
    Integer, _one_of(LOG_RETENTION_DAYS), Accepts(f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
]
CachePort = Annotated[Port, _other_than(DEFAULT_CACHE_PORT), Accepts(f"other than the default {DEFAULT_CACHE_PORT}")]

_GRAVITON_FAMILY = re.compile(r"^(a1|[a-z]+\d+g[a-z-]*)$")
"""Families with a ``g`` after the generation (t4g, m7g, c7gn, r8gd, im4gn) and a1 run on Graviton."""


def instance_architecture(instance_type: str) -> Architecture:
    """The CPU architecture of ``instance_type`` (``t4g.small`` → arm64, ``c7i.large`` → x86_64)."""
    return "arm64" if _GRAVITON_FAMILY.match(instance_type.split(".", maxsplit=1)[0]) else "x86_64"


def _metadata(annotation: object) -> Iterator[object]:
    """The ``Annotated`` metadata inside ``annotation`` (through unions and grouped constraints)."""
    if get_origin(annotation) is Annotated:
        for extra in get_args(annotation)[1:]:
            if isinstance(extra, FieldInfo):
                yield from extra.metadata
            elif isinstance(extra, annotated_types.GroupedMetadata):
                yield from extra
            else:
                yield extra
    else:
        for arg in get_args(annotation):
            yield from _metadata(arg)


def accepts(field: FieldInfo) -> str:
    """What ``field``'s key accepts, in words (``an integer 1..100``, ``one of dev, prod``)."""
    metadata = [*field.metadata, *_metadata(field.annotation)]
    optional = type(None) in get_args(field.annotation)
    (base,) = [
        arg for arg in (get_args(field.annotation) if optional else (field.annotation,)) if arg is not type(None)
    ]
    while get_origin(base) is Annotated:
        base = get_args(base)[0]
    words = [item.text for item in metadata if isinstance(item, Accepts)]
    low = next((item.ge for item in metadata if isinstance(item, annotated_types.Ge)), None)
    high = next((item.le for item in metadata if isinstance(item, annotated_types.Le)), None)
    if get_origin(base) is Literal:
        words.insert(0, f"one of {', '.join(map(str, get_args(base)))}")
    elif base is bool:
        words.insert(0, "true or false")
    elif low is not None and high is not None:
        words.insert(0, f"{'an integer' if base is int else 'a number'} {shown(low)}..{shown(high)}")
    text = " ".join(words)
    return f"{text}, or unset" if optional else text


def shown(value: object) -> str:
    """A value as it is written in the context: ``true``, ``0.5``, ``unset`` for no value."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
