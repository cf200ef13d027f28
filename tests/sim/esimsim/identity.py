"""The eUICC's identity loaded from files: EID, eUICC certificate and key, EUM certificate, CIs."""

from __future__ import annotations

import logging
from typing import Optional, Sequence

from esimtest import crypto, der

log = logging.getLogger("esim-sim.identity")


class IdentityError(Exception):
    pass


class Identity:
    def __init__(
        self,
        euicc_cert: str,
        euicc_key: str,
        eum_cert: str,
        ci_certs: Sequence[str],
        eid: Optional[str] = None,
    ):
        self.euicc_cert = crypto.load_cert(euicc_cert)
        self.euicc_key = crypto.load_key(euicc_key)
        self.eum_cert = crypto.load_cert(eum_cert)
        self.cis = [crypto.load_cert(p) for p in ci_certs]
        if not self.cis:
            raise IdentityError("at least one trusted CI certificate is needed")
        if crypto.point_of(self.euicc_key) != crypto.point_of(self.euicc_cert):
            raise IdentityError("the eUICC key does not match the eUICC certificate")
        cert_eid = crypto.eid_of(self.euicc_cert)
        self.eid = eid or cert_eid
        if self.eid != cert_eid:
            raise IdentityError("EID %s differs from the eUICC certificate's %s" % (self.eid, cert_eid))
        self.eid_bytes = der.eid_to_bytes(self.eid)
        self.euicc_cert_der = crypto.cert_der(self.euicc_cert)
        self.eum_cert_der = crypto.cert_der(self.eum_cert)

        # Several certificates of one CI key (SGP.26 ships two) share an SKI: list it once.
        self.verification_skis: list[bytes] = []
        for c in self.cis:
            s = crypto.ski(c)
            if s not in self.verification_skis:
                self.verification_skis.append(s)
        # We can only sign under the CI that issued our EUM certificate: offering another one for
        # signing would make the SM-DP+ pick a chain we cannot present.
        eum_issuer = crypto.aki(self.eum_cert)
        self.signing_skis = [s for s in self.verification_skis if s == eum_issuer]
        if not self.signing_skis:
            log.warning("EUM certificate is not issued by any trusted CI; signing list = all CIs")
            self.signing_skis = list(self.verification_skis)
        try:
            crypto.check_chain(self.euicc_cert, [self.eum_cert], self.cis, crypto.ROLE_EUICC)
        except crypto.ChainError as e:
            log.warning("own certificate chain does not validate: %s", e)

    def sign(self, msg: bytes) -> bytes:
        """The 5F37 signature data object over msg with SK.EUICC.ECDSA."""
        return crypto.signature_do(crypto.sign_raw(self.euicc_key, msg))
