"""Per-cluster TLS credentials: every cluster clusterkit starts is authenticated.

Dask's own mutual TLS (:class:`distributed.security.Security`) with credentials made
for one cluster when it starts: a certificate authority used for nothing else, and a
certificate and key for each role (scheduler, worker, client) signed by it. The CA's
private key is thrown away once the three are signed, so nothing can mint another.

The files live in the owner's registry folder beside the record, in
``<registry>/<id>.tls/`` (folder 0700, files 0600, both checked on every read), never
in the record itself, which the REST API and the sidebar show. Every process of the
same user (another kernel, ``clusterkit ls/down``, the daemon, the server extension)
finds them by the record's id; another local user cannot read them, so their
connections are refused during the TLS handshake, before any Dask message is read.
They are removed with the record (:func:`clusterkit.registry.remove`).

>>> security = create(registry.new_id())     # doctest: +SKIP
>>> LocalCluster(security=security, ...)      # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import os
import pathlib
import shutil
import stat
import sys
from typing import Any

from distributed.security import Security

from clusterkit import registry
from clusterkit.errors import BackendError, RegistryError

__all__ = ["ROLES", "create", "for_record", "load", "remote_config", "role_pem", "warn_insecure"]

ROLES = ("scheduler", "worker", "client")
_VALID_DAYS = 365


def _write_private(path: pathlib.Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _generate() -> dict[str, str]:
    """A fresh CA and one certificate + key per role, as PEM text (``ca`` and ``<role>``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(minutes=5)
    later = now + datetime.timedelta(days=_VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clusterkit cluster CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pems = {"ca": ca_cert.public_bytes(serialization.Encoding.PEM).decode()}
    for role in ROLES:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"dask-{role}")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(later)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"dask-{role}")]), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        pems[role] = cert.public_bytes(serialization.Encoding.PEM).decode() + key_pem
    return pems


def _user_files(ca_file: str, cert: str, key: str | None) -> dict[str, str]:
    """The user's own CA and certificate (used for every role), read once."""
    try:
        ca_text = pathlib.Path(ca_file).read_text()
        cert_text = pathlib.Path(cert).read_text()
        key_text = pathlib.Path(key).read_text() if key else ""
    except OSError as exc:
        raise BackendError(
            f"Cannot read a TLS file: {exc}. Check the paths of tls_ca_file, tls_cert and tls_key."
        ) from exc
    combined = cert_text if not key_text else cert_text.rstrip("\n") + "\n" + key_text
    return {"ca": ca_text, **{role: combined for role in ROLES}}


def create(
    record_id: str,
    directory: str | os.PathLike[str] | None = None,
    *,
    tls_ca_file: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> Security:
    """Make (or copy the user's) credentials for cluster ``record_id``; return the owner's ``Security``.

    The owner's object holds all three roles (it starts the scheduler and workers).
    """
    if tls_ca_file or tls_cert or tls_key:
        if not (tls_ca_file and tls_cert):
            raise BackendError(
                "TLS with your own certificates needs both tls_ca_file and tls_cert (and tls_key unless "
                "the certificate file holds the key). Pass them all, or none for per-cluster credentials."
            )
        pems = _user_files(tls_ca_file, tls_cert, tls_key)
    else:
        pems = _generate()
    folder = registry.credentials_directory(record_id, directory)
    try:
        folder.mkdir(mode=0o700)
        for name, text in pems.items():
            _write_private(folder / f"{name}.pem", text)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise RegistryError(f"Cannot write the TLS credentials of cluster {record_id} to {folder}: {exc}.") from exc
    return _security(folder, ROLES)


def _security(folder: pathlib.Path, roles: tuple[str, ...]) -> Security:
    fields: dict[str, Any] = {"require_encryption": True, "tls_ca_file": str(folder / "ca.pem")}
    for role in roles:
        fields[f"tls_{role}_cert"] = fields[f"tls_{role}_key"] = str(folder / f"{role}.pem")
    return Security(**fields)


def _checked(path: pathlib.Path, what: str) -> None:
    """Credentials count only if they are ours and nobody else can read or change them."""
    info = os.stat(path, follow_symlinks=False)
    if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o077 or stat.S_ISLNK(info.st_mode):
        raise BackendError(
            f"The TLS {what} {path} is not private to you (owner uid {info.st_uid}, mode "
            f"{stat.S_IMODE(info.st_mode):o}), so it is not used. Stop the cluster and start it again."
        )


def load(record_id: str, directory: str | os.PathLike[str] | None = None, role: str = "client") -> Security:
    """The ``Security`` to reach cluster ``record_id`` as ``role`` (default: a client)."""
    folder = registry.credentials_directory(record_id, directory)
    try:
        _checked(folder, "folder")
        for name in ("ca", role):
            _checked(folder / f"{name}.pem", "file")
    except FileNotFoundError as exc:
        raise BackendError(
            f"The TLS credentials of cluster {record_id} are not in {folder}: only the user who started it "
            "(in the same registry folder) can connect. Check CLUSTERKIT_REGISTRY_DIR."
        ) from exc
    return _security(folder, (role,))


def for_record(record: registry.ClusterRecord, directory: str | os.PathLike[str] | None = None) -> Security | None:
    """A client's ``Security`` for ``record``'s cluster, or ``None`` for an ``--insecure`` one."""
    if not record.scheduler_address.startswith("tls://"):
        return None
    return load(record.id, directory)


def _text(value: str) -> str:
    """PEM text from a ``Security`` field, which holds either the text or a file path."""
    return value if "\n" in value else pathlib.Path(value).read_text()


def role_pem(credentials: Security, role: str) -> dict[str, str]:
    """The CA and ``role``'s certificate + key as text: what one SSH host may be sent, no more."""
    if role not in ROLES:
        raise ValueError(f"unknown TLS role {role!r}")
    fields: Any = credentials  # Security sets its tls_* fields dynamically
    cert_field, key_field = getattr(fields, f"tls_{role}_cert"), getattr(fields, f"tls_{role}_key")
    cert = _text(cert_field)
    if key_field and key_field != cert_field:
        cert = cert.rstrip("\n") + "\n" + _text(key_field)
    return {"ca": _text(fields.tls_ca_file), "cert": cert}


def remote_config(pem: dict[str, str], role: str) -> dict[str, Any]:
    """Dask config that makes a remote scheduler or worker use only its own role's credentials."""
    return {
        "distributed": {
            "comm": {
                "require-encryption": True,
                "tls": {"ca-file": pem["ca"], role: {"cert": pem["cert"], "key": pem["cert"]}},
            }
        }
    }


def warn_insecure(what: str) -> None:
    """One line on stderr (not a log record, which a configured logging setup may hide):
    this cluster accepts anyone who can reach its ports."""
    print(
        f"clusterkit: warning: {what} is --insecure: no TLS, so anyone who can reach its ports (any local "
        "user, or the network for SSH hosts) can run code as you.",
        file=sys.stderr,
        flush=True,
    )
