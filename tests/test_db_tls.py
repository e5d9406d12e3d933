"""Verified TLS to the database (services/db_tls.py): the pinned RDS bundle, and verify-full against a
throw-away PostgreSQL serving a certificate from a CA the test creates."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509

from services.db import make_engine
from services.db_tls import RDS_CA_BUNDLE, RDS_CA_BUNDLE_SHA256, TLSConfigError, checked_ca_file, verified_tls
from tests.private_postgres import PrivatePostgres, private_postgres
from tests.tls_certs import Authority


def test_the_vendored_rds_bundle_matches_its_pinned_checksum() -> None:
    assert hashlib.sha256(RDS_CA_BUNDLE.read_bytes()).hexdigest() == RDS_CA_BUNDLE_SHA256
    certificates = x509.load_pem_x509_certificates(RDS_CA_BUNDLE.read_bytes())
    subjects = [c.subject.rfc4514_string() for c in certificates]
    assert len(certificates) == 115
    assert any("Amazon RDS us-east-1 Root CA RSA2048 G1" in s for s in subjects)
    assert all("Amazon RDS" in s for s in subjects)
    assert checked_ca_file(RDS_CA_BUNDLE) == RDS_CA_BUNDLE


def test_an_altered_bundle_is_refused_at_load(tmp_path: Path) -> None:
    altered = tmp_path / RDS_CA_BUNDLE.name
    altered.write_bytes(RDS_CA_BUNDLE.read_bytes().replace(b"MIIE", b"MIIF", 1))
    with pytest.raises(TLSConfigError, match=f"has SHA-256 [0-9a-f]{{64}}, not the pinned {RDS_CA_BUNDLE_SHA256}"):
        make_engine("postgresql://db.internal/app", tls_ca_file=altered)


def test_an_unusable_ca_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TLSConfigError, match=r"DATABASE_TLS_CA_FILE '.*absent\.pem' cannot be read"):
        checked_ca_file(tmp_path / "absent.pem")
    (tmp_path / "empty.pem").write_text("nothing here")
    with pytest.raises(TLSConfigError, match="holds no PEM certificate"):
        checked_ca_file(tmp_path / "empty.pem")
    with pytest.raises(TLSConfigError, match="sqlite connections use no TLS"):
        make_engine("sqlite:///x.db", tls_ca_file=RDS_CA_BUNDLE)


def test_each_driver_is_told_to_verify_the_certificate_and_the_host_name() -> None:
    url, args = verified_tls(sa.make_url("postgresql+psycopg://db.internal/app?sslmode=require"), RDS_CA_BUNDLE)
    assert url.query == {"sslmode": "verify-full", "sslrootcert": str(RDS_CA_BUNDLE.resolve())}
    assert args == {}
    url, args = verified_tls(sa.make_url("mysql+pymysql://db.internal/app?ssl_check_hostname=false"), RDS_CA_BUNDLE)
    assert url.query == {}
    assert args == {"ssl": {"ca": str(RDS_CA_BUNDLE.resolve()), "check_hostname": True}}


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivatePostgres, Path, Path, Path]]:
    """A PostgreSQL serving a certificate for 127.0.0.1 from a fresh CA: (server, that CA, another CA, a CA whose
    certificate names another host)."""
    directory = tmp_path_factory.mktemp("tls")
    right = Authority.create(directory, "right-ca")
    wrong = Authority.create(directory, "wrong-ca")
    with private_postgres(tls=right.issue_server(directory, hosts=["127.0.0.1"])) as server:
        yield server, right.cert_file, wrong.cert_file, directory


def _ssl_in_use(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.exec_driver_sql("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").scalar())


def test_verify_full_connects_with_the_right_ca(tls_server: tuple[PrivatePostgres, Path, Path, Path]) -> None:
    server, right, _wrong, _ = tls_server
    engine = make_engine(server.url(), tls_ca_file=right)
    try:
        assert _ssl_in_use(engine)
        assert engine.url.query["sslmode"] == "verify-full"
    finally:
        engine.dispose()


def test_verify_full_refuses_a_server_from_another_ca(tls_server: tuple[PrivatePostgres, Path, Path, Path]) -> None:
    server, _right, wrong, _ = tls_server
    engine = make_engine(server.url(), tls_ca_file=wrong)
    with pytest.raises(sa.exc.OperationalError, match="certificate verify failed"):
        engine.connect()
    engine.dispose()


def test_verify_full_refuses_a_certificate_for_another_host(
    tls_server: tuple[PrivatePostgres, Path, Path, Path],
) -> None:
    server, right, _wrong, _ = tls_server
    by_name = sa.make_url(server.url()).set(host="localhost")  # the certificate names only 127.0.0.1
    engine = make_engine(by_name, tls_ca_file=right)
    with pytest.raises(sa.exc.OperationalError, match="does not match host name"):
        engine.connect()
    engine.dispose()
