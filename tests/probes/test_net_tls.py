"""Unit tests (no sockets) for the shared probe helpers in probes.net and probes.tls."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from probes import net, tls
from probes.base import ProbeContext


def test_split_host_port() -> None:
    assert net.split_host_port("10.1.2.3:3389") == ("10.1.2.3", 3389)
    assert net.split_host_port("[fd00::7]:443") == ("fd00::7", 443)
    assert net.split_host_port("simpeg.paserkab.go.id:8080") == ("simpeg.paserkab.go.id", 8080)
    for bad in ("10.1.2.3", "fd00::7:443", "host:0", "host:70000", "[::1]"):
        with pytest.raises(ValueError):
            net.split_host_port(bad)


def test_literal() -> None:
    assert net.literal("127.0.0.1") == net.Address("127.0.0.1", 4)
    assert net.literal("[::1]") == net.Address("::1", 6)
    assert net.literal("localhost") is None


async def test_hosts_file_then_family(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("# comment\n127.0.0.9 gerai.local gerai # trailing\n::1 gerai.local\n")
    resolver = net.SystemResolver(nameservers=[], hosts_file=hosts)
    assert await resolver.resolve("gerai.local", "ip4") == net.Address("127.0.0.9", 4)
    assert await resolver.resolve("GERAI.", "auto") == net.Address("127.0.0.9", 4)
    assert await resolver.resolve("gerai.local", "ip6") == net.Address("::1", 6)
    hosts.write_text("127.0.0.10 gerai.local\n")  # a changed file is read again
    assert await resolver.resolve("gerai.local", "ip4") == net.Address("127.0.0.10", 4)


def test_run_phases_never_negative_after_a_clock_step() -> None:
    ticks = iter([100.0, 100.5, 99.0, 99.2, 98.0, 98.0])  # the clock steps backwards
    ctx = ProbeContext(monotonic=lambda: next(ticks), wall=lambda: 0.0)
    run = net.Run(ctx, ("connect", "transfer"))  # 100.0
    run.switch("connect")  # 100.5
    run.switch("transfer")  # 99.0: connect would be -1.5
    run.secrets.append("hunter2")
    run.fail("status", "denied for hunter2")
    result = run.result()  # 99.2 closes transfer, 98.0 duration
    assert result.phases == {"connect": 0.0, "transfer": pytest.approx(0.2)}
    assert result.duration_seconds == 0.0
    assert (result.success, result.reason) == (False, "status")
    assert result.info["detail"] == "denied for ***"


def _cert(days: int) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"c{days}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after((now + dt.timedelta(days=days)).replace(microsecond=0))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


def test_earliest_expiry_of_chain() -> None:
    leaf, intermediate = _cert(300), _cert(30)
    expected = x509.load_der_x509_certificate(intermediate).not_valid_after_utc.timestamp()
    assert tls.earliest_expiry([leaf, intermediate]) == expected
    assert tls.earliest_expiry([b"garbage", leaf]) is not None
    assert tls.earliest_expiry([]) is None


def _verify_error(code: int) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_code = code
    exc.verify_message = f"code {code}"
    return exc


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (10, "tls_expired"),
        (62, "tls_hostname"),
        (64, "tls_hostname"),
        (18, "tls_untrusted"),
        (19, "tls_untrusted"),
        (20, "tls_untrusted"),
        (9, "tls_error"),
        (23, "tls_error"),
    ],
)
def test_classify_verification_errors(code: int, reason: str) -> None:
    assert tls.classify(_verify_error(code))[0] == reason


def test_classify_other_tls_errors() -> None:
    assert tls.classify(ssl.SSLError(1, "wrong version number"))[0] == "tls_error"
    assert tls.classify(ConnectionResetError())[0] == "tls_error"
