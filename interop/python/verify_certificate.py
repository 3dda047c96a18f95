#!/usr/bin/env python3
"""Verify a Gatehouse DSSE envelope (a certificate, a revocation list)
with Python's securesystemslib.

    python3 verify_certificate.py trust-root.json certificate.json

trust-root.json is the marketplace's /.well-known/gatehouse/trust-root.json;
certificate.json is a DSSE envelope, such as the "certificate" member of a
version's bundle (/api/v1/plugins/NS/NAME/versions/V/bundle).

The one thing to know: a DSSE signature names its key by "keyid", and a
verifier only checks signatures whose keyid is its key's. securesystemslib
derives a key's id its own way (the SHA-256 of the key's securesystemslib
JSON), which is not Gatehouse's. Gatehouse's key id is the lowercase hex of
the first 16 bytes of the SHA-256 of the key's PKIX (DER) encoding; the
trust root lists it beside each key ("id"). Give the loaded key that id.

Debian 12's securesystemslib (0.26) predates its dsse module, so the
envelope's pre-authentication encoding (PAE, six lines of the DSSE
specification) is built here; securesystemslib checks the signature.
Exit status: 0 when a trusted key signed the envelope, 1 otherwise.
"""

import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from securesystemslib import exceptions, keys
from securesystemslib.signer import Signature, SSlibKey


def gatehouse_key_id(pem: str) -> str:
    """Gatehouse's key id: hex(SHA-256(PKIX DER)[:16])."""
    der = serialization.load_pem_public_key(pem.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()[:16].hex()


def load_key(pem: str) -> SSlibKey:
    """Loads a PEM public key as securesystemslib does (with its own key
    id), for the two algorithms Gatehouse signs with."""
    public = serialization.load_pem_public_key(pem.encode())
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        meta = keys.format_keyval_to_metadata("ed25519", "ed25519", {"public": raw.hex()})
        key, _ = keys.format_metadata_to_key(meta)
        return SSlibKey.from_securesystemslib_key(key)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return SSlibKey.from_securesystemslib_key(keys.import_ecdsakey_from_pem(pem))
    raise ValueError(f"unsupported key type {type(public).__name__}; Gatehouse uses Ed25519 or ECDSA P-256")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is actually signed."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def verify(envelope: dict, trusted: list) -> list:
    """Returns the ids of the trusted keys that signed the envelope; like
    DSSE verifiers, it checks a signature only with the key of its keyid."""
    payload = base64.b64decode(envelope["payload"])
    signed = pae(envelope["payloadType"], payload)
    accepted = []
    for sig in envelope.get("signatures", []):
        for key in trusted:
            if sig.get("keyid") != key.keyid:
                continue
            try:
                key.verify_signature(Signature(key.keyid, base64.b64decode(sig["sig"]).hex()), signed)
                accepted.append(key.keyid)
            except exceptions.UnverifiedSignatureError:
                pass
    return accepted


def main() -> int:
    with open(sys.argv[1]) as f:
        root = json.load(f)
    with open(sys.argv[2]) as f:
        envelope = json.load(f)

    entries = root["marketplaceKeys"]["keys"]
    loaded = [load_key(e["publicKey"]) for e in entries]
    # With securesystemslib's own key ids, nothing verifies.
    print("with securesystemslib's own key ids:", len(verify(envelope, loaded)))

    trusted = []
    for e, key in zip(entries, loaded):
        if gatehouse_key_id(e["publicKey"]) != e["id"]:
            print(f"the trust root lists key {e['id']} under the wrong id", file=sys.stderr)
            return 1
        key.keyid = e["id"]  # the documented key id
        trusted.append(key)
    accepted = verify(envelope, trusted)
    print("with the trust root's key ids:", len(accepted), " ".join(accepted))
    return 0 if accepted else 1


if __name__ == "__main__":
    sys.exit(main())
