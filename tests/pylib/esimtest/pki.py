# Generates the test PKI (CI, EUM, eUICC, SM-DP+ and SM-DS certificates) with SGP.22/SGP.26 profiles.
"""Test PKI for the esimd test world.

Certificates follow the profiles of the GSMA SGP.26 NIST P-256 test certificates (extensions,
criticality, key usage, certificate policies, SKI/AKI, SAN kinds): see tests/pki/README.md.
Everything is generated at test time; nothing here is a real key.
"""

import datetime
import json
import os
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from .crypto import (  # noqa: F401  (re-exported: pki.ROLE_* is the PKI's vocabulary)
    ROLE_CI,
    ROLE_DP_AUTH,
    ROLE_DP_PB,
    ROLE_DP_TLS,
    ROLE_DS_AUTH,
    ROLE_DS_TLS,
    ROLE_EUICC,
    ROLE_EUM,
)

DEFAULT_EID = "89049032123451234512345678901235"
DEFAULT_SMDP_HOST = "testsmdpplus1.example.com"
DEFAULT_SMDP_OID = "2.999.10"
DEFAULT_SMDS_HOST = "testrootsmds.example.com"
DEFAULT_SMDS_OID = "2.999.20"
CI_OID = "2.999.1"
EUM_OID = "2.999.5"


# Bumped whenever the generated material changes shape, so stale output dirs are regenerated.
_FORMAT = 2
_STAMP = "pki.json"
_DAY = datetime.timedelta(days=1)
_YEAR = datetime.timedelta(days=365)


def eid_check_digits(first30: str) -> str:
    """The two EID check digits (ISO 7064 mod 97-10, as for IBANs)."""
    if len(first30) != 30 or not first30.isdigit():
        raise ValueError("an EID has 30 digits before its check digits")
    return "%02d" % (98 - int(first30 + "00") % 97)


def make_eid(prefix: str = DEFAULT_EID[:8], serial: int = 0) -> str:
    """A valid 32-digit EID that starts with `prefix` (the EUM's permitted IIN)."""
    body = prefix + str(serial).rjust(30 - len(prefix), "0")
    if len(body) != 30:
        raise ValueError("serial does not fit after the prefix")
    return body + eid_check_digits(body)


def eid_is_valid(eid: str) -> bool:
    return len(eid) == 32 and eid.isdigit() and eid_check_digits(eid[:30]) == eid[30:]


def _name(*pairs):
    # cryptography's defaults match SGP.26: PrintableString for C and serialNumber, else UTF8String.
    return x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(oid, value)]) for oid, value in pairs])


def _crl_dp(base):
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint([x509.UniformResourceIdentifier(base + "/CRL-A.crl")], None, None, None),
            x509.DistributionPoint([x509.UniformResourceIdentifier(base + "/CRL-B.crl")], None, None, None),
        ]
    )


def _key_usage(digital_signature=False, cert_sign=False, crl_sign=False):
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _policies(role):
    return x509.CertificatePolicies([x509.PolicyInformation(ObjectIdentifier(role), None)])


def _rid(oid):
    return x509.RegisteredID(ObjectIdentifier(oid))


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def issue(
    role,
    subject,
    key,
    issuer_cert=None,
    issuer_key=None,
    *,
    lifetime,
    serial=None,
    rid=None,
    dns_names=(),
    path_length=None,
    permitted_eid_prefix=None,
    crl_base="http://ci.test.example.com",
    not_before=None,
    policy=None,
    eku=None,
):
    """Issue one certificate of the given rspRole with that role's SGP.26 profile.

    `issuer_cert`/`issuer_key` None = self-signed CI. Exposed so tests can mint odd certificates
    (expired, wrong role, foreign issuer) with otherwise correct profiles. `policy` replaces the
    role's certificate policy (a certificate with one role's profile and another role's policy).
    """
    self_signed = issuer_cert is None
    issuer_name = subject if self_signed else issuer_cert.subject
    signing_key = key if self_signed else issuer_key
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start = not_before if not_before is not None else now - _DAY
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else secrets.randbits(63) | 1 << 62)
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = None
    if not self_signed:
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        )
    # Extension order and criticality copy the SGP.26 certificate of the same role.
    if role == ROLE_CI:
        b = b.add_extension(ski, False)
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        b = b.add_extension(_policies(policy or role), True)
        b = b.add_extension(_key_usage(cert_sign=True, crl_sign=True), True)
        b = b.add_extension(x509.SubjectAlternativeName([_rid(rid or CI_OID)]), False)
        b = b.add_extension(_crl_dp(crl_base), False)
    elif role == ROLE_EUM:
        b = b.add_extension(aki, False)
        b = b.add_extension(ski, False)
        b = b.add_extension(_key_usage(cert_sign=True), True)
        b = b.add_extension(_policies(policy or role), True)
        b = b.add_extension(x509.SubjectAlternativeName([_rid(rid or EUM_OID)]), False)
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=0 if path_length is None else path_length), True)
        b = b.add_extension(x509.CRLDistributionPoints(_crl_dp(crl_base)[1:]), False)
        # GSMA meaning (SGP.22 variant O): the permitted subtree's serialNumber is the EID prefix.
        org = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        permitted = _name((NameOID.ORGANIZATION_NAME, org), (NameOID.SERIAL_NUMBER, permitted_eid_prefix))
        b = b.add_extension(x509.NameConstraints([x509.DirectoryName(permitted)], None), True)
    elif role == ROLE_EUICC:
        b = b.add_extension(ski, False)
        b = b.add_extension(aki, False)
        b = b.add_extension(_key_usage(digital_signature=True), True)
        b = b.add_extension(_policies(policy or role), True)
    elif role in (ROLE_DP_AUTH, ROLE_DP_PB, ROLE_DS_AUTH):
        b = b.add_extension(aki, False)
        b = b.add_extension(ski, False)
        b = b.add_extension(x509.SubjectAlternativeName([_rid(rid)]), False)
        b = b.add_extension(_key_usage(digital_signature=True), True)
        b = b.add_extension(_policies(policy or role), True)
        b = b.add_extension(_crl_dp(crl_base), False)
    elif role in (ROLE_DP_TLS, ROLE_DS_TLS):
        b = b.add_extension(_key_usage(digital_signature=True), True)
        b = b.add_extension(
            x509.ExtendedKeyUsage(eku or [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), True
        )
        b = b.add_extension(_policies(policy or role), False)
        b = b.add_extension(ski, False)
        b = b.add_extension(aki, False)
        sans = [x509.DNSName(h) for h in dns_names]
        if rid:
            sans.append(_rid(rid))
        b = b.add_extension(x509.SubjectAlternativeName(sans), False)
        b = b.add_extension(_crl_dp(crl_base), False)
    else:
        raise ValueError("unknown role " + role)
    return b.sign(signing_key, hashes.SHA256())


def _write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _key_pem(key):
    # SEC1 ("EC PRIVATE KEY"), unencrypted, as the SGP.26 key files.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def _server_set(prefix, ci, ci_key, smdp_hosts, smdp_oid, out):
    """DPauth, DPpb and DPtls under one CI, written as <prefix>dpauth.der etc."""
    made = {}
    org = "ACME" if not prefix else "Untrusted ACME"
    for name, role, lifetime in (("dpauth", ROLE_DP_AUTH, 10 * _YEAR), ("dppb", ROLE_DP_PB, 10 * _YEAR)):
        key = new_key()
        subj = _name((NameOID.ORGANIZATION_NAME, org), (NameOID.COMMON_NAME, "TEST SM-DP+"))
        made[prefix + name] = (issue(role, subj, key, ci, ci_key, lifetime=lifetime, rid=smdp_oid), key)
    key = new_key()
    subj = _name((NameOID.ORGANIZATION_NAME, org), (NameOID.COMMON_NAME, smdp_hosts[0]))
    made[prefix + "dptls"] = (
        issue(ROLE_DP_TLS, subj, key, ci, ci_key, lifetime=10 * _YEAR, rid=smdp_oid, dns_names=smdp_hosts),
        key,
    )
    out.update(made)


def _hostile_tls_set(out, eum, eum_key, euicc, euicc_key, smdp_hosts, smdp_oid):
    """TLS leaves for the SM-DP+ host names that chain to the trusted CI but must be refused
    (SGP.22's TLS profile: a DP/DS TLS policy, issued by a CI): one issued by the EUM (GnuTLS
    does not enforce the EUM's GSMA-style name constraint), one with the DPauth role, one
    issued by the eUICC. The TLS server presents each with its issuers up to the CI."""
    subj = _name((NameOID.ORGANIZATION_NAME, "Mallory"), (NameOID.COMMON_NAME, smdp_hosts[0]))
    key = new_key()
    out["eum-dptls"] = (
        issue(ROLE_DP_TLS, subj, key, eum, eum_key, lifetime=10 * _YEAR, rid=smdp_oid, dns_names=smdp_hosts),
        key,
    )
    key = new_key()
    out["euicc-dptls"] = (
        issue(ROLE_DP_TLS, subj, key, euicc, euicc_key, lifetime=10 * _YEAR, rid=smdp_oid, dns_names=smdp_hosts),
        key,
    )


def _web_set(out, hosts):
    """A web PKI CA (no RSP role) and a TLS leaf it issued for `hosts`: what an operator's
    server with an ordinary web certificate presents, trusted through the system CA store."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    ca_key = new_key()
    ca_name = _name((NameOID.COMMON_NAME, "esimd Test Web CA"), (NameOID.ORGANIZATION_NAME, "Web PKI Test"))
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(secrets.randbits(63) | 1 << 62)
        .not_valid_before(now - _DAY)
        .not_valid_after(now + 20 * _YEAR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(_key_usage(cert_sign=True, crl_sign=True), True)
        .add_extension(ca_ski, False)
        .sign(ca_key, hashes.SHA256())
    )
    key = new_key()
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name((NameOID.COMMON_NAME, hosts[0])))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(63) | 1 << 62)
        .not_valid_before(now - _DAY)
        .not_valid_after(now + 10 * _YEAR)
        .add_extension(_key_usage(digital_signature=True), True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False)
        .sign(ca_key, hashes.SHA256())
    )
    out["web-ca"] = (ca, ca_key)
    out["web-tls"] = (leaf, key)


def generate(
    out_dir,
    eid=DEFAULT_EID,
    smdp_hosts=(DEFAULT_SMDP_HOST,),
    smdp_oid=DEFAULT_SMDP_OID,
    smds_hosts=(DEFAULT_SMDS_HOST,),
    smds_oid=DEFAULT_SMDS_OID,
    eum_prefix=None,
):
    """Write the test PKI into out_dir (see tests/pki/README.md) and return {name: path}.

    Idempotent: when out_dir already holds a complete PKI made with the same parameters, nothing
    is regenerated (keys stay the same), so tests may call it from every setUp.
    """
    smdp_hosts = list(smdp_hosts)
    smds_hosts = list(smds_hosts)
    if not eid_is_valid(eid):
        raise ValueError("invalid EID (32 digits with valid check digits required)")
    eum_prefix = eum_prefix or eid[:8]
    if not eid.startswith(eum_prefix):
        raise ValueError("the EID must start with the EUM prefix")
    params = {
        "format": _FORMAT,
        "eid": eid,
        "smdp_hosts": smdp_hosts,
        "smdp_oid": smdp_oid,
        "smds_hosts": smds_hosts,
        "smds_oid": smds_oid,
        "eum_prefix": eum_prefix,
    }
    os.makedirs(os.path.join(out_dir, "ca"), exist_ok=True)
    paths = _paths(out_dir)
    try:
        with open(os.path.join(out_dir, _STAMP)) as f:
            if json.load(f) == params and all(os.path.exists(p) for p in paths.values()):
                return paths
    except (OSError, ValueError):
        pass

    made = {}
    ci_key = new_key()
    ci_name = _name(
        (NameOID.COMMON_NAME, "esimd Test CI"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "TESTCERT"),
        (NameOID.ORGANIZATION_NAME, "RSPTEST"),
        (NameOID.COUNTRY_NAME, "IT"),
    )
    ci = issue(ROLE_CI, ci_name, ci_key, lifetime=35 * _YEAR)
    made["ci"] = (ci, ci_key)

    eum_key = new_key()
    eum_name = _name(
        (NameOID.COUNTRY_NAME, "DE"), (NameOID.ORGANIZATION_NAME, "RSP Test EUM"), (NameOID.COMMON_NAME, "EUM Test")
    )
    eum = issue(
        ROLE_EUM, eum_name, eum_key, ci, ci_key, lifetime=34 * _YEAR, serial=0x12345678, permitted_eid_prefix=eum_prefix
    )
    made["eum"] = (eum, eum_key)

    euicc_key = new_key()
    euicc_name = _name(
        (NameOID.COUNTRY_NAME, "DE"),
        (NameOID.ORGANIZATION_NAME, "RSP Test EUM"),
        (NameOID.SERIAL_NUMBER, eid),
        (NameOID.COMMON_NAME, "Test eUICC"),
    )
    euicc = issue(ROLE_EUICC, euicc_name, euicc_key, eum, eum_key, lifetime=25 * _YEAR, serial=1)
    made["euicc"] = (euicc, euicc_key)

    _server_set("", ci, ci_key, smdp_hosts, smdp_oid, made)

    key = new_key()
    subj = _name((NameOID.ORGANIZATION_NAME, "ACME"), (NameOID.COMMON_NAME, "TEST SM-DS"))
    made["dsauth"] = (issue(ROLE_DS_AUTH, subj, key, ci, ci_key, lifetime=10 * _YEAR, rid=smds_oid), key)
    key = new_key()
    subj = _name((NameOID.ORGANIZATION_NAME, "ACME"), (NameOID.COMMON_NAME, smds_hosts[0]))
    made["dstls"] = (
        issue(ROLE_DS_TLS, subj, key, ci, ci_key, lifetime=10 * _YEAR, rid=smds_oid, dns_names=smds_hosts),
        key,
    )

    _hostile_tls_set(made, eum, eum_key, euicc, euicc_key, smdp_hosts, smdp_oid)
    _web_set(made, smdp_hosts)
    # Issued by the CI for the right host names, but with the DPauth role: a certificate the CI
    # gave out for signing, not for TLS.
    key = new_key()
    subj = _name((NameOID.ORGANIZATION_NAME, "ACME"), (NameOID.COMMON_NAME, smdp_hosts[0]))
    made["dpauth-tls"] = (
        issue(ROLE_DP_TLS, subj, key, ci, ci_key, lifetime=10 * _YEAR, rid=smdp_oid, dns_names=smdp_hosts,
              policy=ROLE_DP_AUTH),
        key,
    )

    # Issued by the CI with the TLS role for the right host names, but for TLS clients only
    # (extendedKeyUsage without id-kp-serverAuth): no server may present it.
    key = new_key()
    made["client-tls"] = (
        issue(ROLE_DP_TLS, subj, key, ci, ci_key, lifetime=10 * _YEAR, rid=smdp_oid, dns_names=smdp_hosts,
              eku=[ExtendedKeyUsageOID.CLIENT_AUTH]),
        key,
    )

    bad_key = new_key()
    bad_name = _name(
        (NameOID.COMMON_NAME, "esimd Untrusted CI"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "TESTCERT"),
        (NameOID.ORGANIZATION_NAME, "RSPTEST"),
        (NameOID.COUNTRY_NAME, "IT"),
    )
    bad_ci = issue(ROLE_CI, bad_name, bad_key, lifetime=35 * _YEAR, crl_base="http://bad-ci.test.example.com")
    made["bad-ci"] = (bad_ci, bad_key)
    _server_set("bad-", bad_ci, bad_key, smdp_hosts, smdp_oid, made)

    for name, (cert, key) in made.items():
        _write(os.path.join(out_dir, name + ".der"), cert.public_bytes(serialization.Encoding.DER))
        _write(os.path.join(out_dir, name + "-key.pem"), _key_pem(key))
    _write(paths["ca_pem"], ci.public_bytes(serialization.Encoding.PEM))
    _write(paths["web_ca_pem"], made["web-ca"][0].public_bytes(serialization.Encoding.PEM))
    _write(paths["eid_txt"], (eid + "\n").encode())
    _write(os.path.join(out_dir, _STAMP), json.dumps(params, indent=1).encode())
    return paths


_NAMES = ("ci", "eum", "euicc", "dpauth", "dppb", "dptls", "dsauth", "dstls", "bad-ci", "bad-dpauth", "bad-dppb", "bad-dptls",
          "eum-dptls", "euicc-dptls", "dpauth-tls", "web-ca", "web-tls",
          "client-tls")


def _paths(out_dir):
    p = {"dir": out_dir, "ca_dir": os.path.join(out_dir, "ca"), "ca_pem": os.path.join(out_dir, "ca", "ci.pem")}
    p["eid_txt"] = os.path.join(out_dir, "eid.txt")
    p["web_ca_pem"] = os.path.join(out_dir, "web-ca.pem")
    for n in _NAMES:
        key = n.replace("-", "_")
        p[key] = os.path.join(out_dir, n + ".der")
        p[key + "_key"] = os.path.join(out_dir, n + "-key.pem")
    return p


def paths(out_dir):
    """{name: path} of an already generated PKI (keys: ci, ci_key, …, bad_dptls_key, ca_dir, ca_pem, eid_txt)."""
    return _paths(out_dir)


def issue_euicc(out_dir, eid):
    """Another eUICC of the same EUM as the one generate() made in out_dir (a second modem's,
    for tests with several eUICCs): returns the identity files start_sim() takes."""
    if not eid_is_valid(eid):
        raise ValueError("invalid EID (32 digits with valid check digits required)")
    p = _paths(out_dir)
    cert_path = os.path.join(out_dir, f"euicc-{eid}.der")
    key_path = os.path.join(out_dir, f"euicc-{eid}-key.pem")
    if not (os.path.exists(cert_path) and os.path.exists(key_path)):
        with open(p["eum"], "rb") as f:
            eum = x509.load_der_x509_certificate(f.read())
        with open(p["eum_key"], "rb") as f:
            eum_key = serialization.load_pem_private_key(f.read(), None)
        key = new_key()
        name = _name(
            (NameOID.COUNTRY_NAME, "DE"),
            (NameOID.ORGANIZATION_NAME, "RSP Test EUM"),
            (NameOID.SERIAL_NUMBER, eid),
            (NameOID.COMMON_NAME, "Test eUICC"),
        )
        cert = issue(ROLE_EUICC, name, key, eum, eum_key, lifetime=25 * _YEAR, serial=int(eid[-12:]))
        _write(key_path, _key_pem(key))
        _write(cert_path, cert.public_bytes(serialization.Encoding.DER))
    return {"euicc_cert": cert_path, "euicc_key": key_path, "eum_cert": p["eum"], "ci_certs": [p["ci"]]}


def read_eid(out_dir):
    with open(os.path.join(out_dir, "eid.txt")) as f:
        return f.read().strip()
