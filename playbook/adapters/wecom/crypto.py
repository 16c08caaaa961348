"""WeCom callback crypto: the signature, AES decryption and URL handshake of 加解密方案说明.

WeCom POSTs every callback as XML whose `Encrypt` element is
``base64(AES-256-CBC(random(16) + len(msg) as 4 bytes big-endian + msg + receiveid))``,
PKCS#7-padded to a multiple of 32 bytes, keyed with ``AESKey = base64(EncodingAESKey + "=")``
(32 bytes) and the IV ``AESKey[:16]``. The query string carries ``msg_signature``,
``timestamp`` and ``nonce``; ``msg_signature`` is the SHA-1 hex of the four strings token,
timestamp, nonce and the encrypted text, sorted and joined. ``receiveid`` is the corp id
for an internal app's callbacks (a suite id for a third-party app, empty for a few
scenarios), so `decrypt` checks it.

AES comes from the `cryptography` package. XML is parsed with the standard library's
ElementTree after refusing any document type declaration (``<!DOCTYPE``/``<!ENTITY``), so no
entity can be declared, let alone expanded; `defusedxml` is not a dependency.
Sources: docs/adapters/wecom.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import time
import xml.etree.ElementTree as ET
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # PKCS#7 pads WeCom's plaintext to a multiple of 32 bytes (not AES's 16)
MAX_XML = 1 << 20  # callbacks are small; refuse anything over 1 MiB before parsing
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class CryptoError(ValueError):
    """A callback that cannot be trusted or read; the message says why (never the key)."""


class SignatureError(CryptoError):
    """msg_signature does not match: not from WeCom, or altered on the way."""


class DecryptError(CryptoError):
    """The ciphertext does not decrypt to a well-formed WeCom message."""


class ReceiveIdError(CryptoError):
    """The message decrypted but was meant for another receiver (corp id / suite id)."""


class XmlError(CryptoError):
    """The XML is malformed, too large, or declares a document type (refused)."""


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the 43-character EncodingAESKey."""
    if len(encoding_aes_key) != 43:
        raise CryptoError("EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("EncodingAESKey is not valid base64") from exc
    if len(key) != 32:
        raise CryptoError("EncodingAESKey does not decode to 32 bytes")
    return key


def signature(token: str, timestamp: str | int, nonce: str | int, encrypted: str) -> str:
    """msg_signature: SHA-1 hex of token, timestamp, nonce and the encrypted text, sorted
    and concatenated."""
    parts = sorted([token, str(timestamp), str(nonce), encrypted])
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()


def check_signature(token: str, timestamp: str | int, nonce: str | int, encrypted: str, msg_signature: str) -> None:
    """Raise SignatureError unless msg_signature is right (compared in constant time)."""
    expected = signature(token, timestamp, nonce, encrypted)
    if not hmac.compare_digest(expected.encode(), (msg_signature or "").lower().encode()):
        raise SignatureError("msg_signature does not match")


def _cipher(key: bytes) -> Cipher:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def encrypt(encoding_aes_key: str, message: bytes | str, receive_id: str, *, random_prefix: bytes | None = None) -> str:
    """The base64 `Encrypt` text for `message` (for replies, and for sending test callbacks)."""
    key = aes_key(encoding_aes_key)
    body = message.encode("utf-8") if isinstance(message, str) else message
    prefix = os.urandom(16) if random_prefix is None else random_prefix
    if len(prefix) != 16:
        raise CryptoError("the random prefix must be 16 bytes")
    plain = prefix + struct.pack(">I", len(body)) + body + receive_id.encode("utf-8")
    pad = BLOCK - len(plain) % BLOCK  # 1..32: a whole block of padding when already aligned
    plain += bytes([pad]) * pad
    enc = _cipher(key).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode("ascii")


def decrypt(encoding_aes_key: str, encrypted_b64: str, receive_id: str) -> bytes:
    """The message inside `Encrypt`, after checking padding, length and receiveid.

    The receiveid must equal `receive_id` (the corp id for an internal app's callbacks).
    Raises DecryptError for anything malformed and ReceiveIdError for a message that is
    well formed but addressed to someone else."""
    key = aes_key(encoding_aes_key)
    try:
        data = base64.b64decode(encrypted_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptError("Encrypt is not valid base64") from exc
    if not data or len(data) % 16:
        raise DecryptError("ciphertext length is not a multiple of the AES block")
    dec = _cipher(key).decryptor()
    plain = dec.update(data) + dec.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
        raise DecryptError("bad PKCS#7 padding (wrong key or altered ciphertext)")
    plain = plain[:-pad]
    if len(plain) < 20:
        raise DecryptError("plaintext too short")
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise DecryptError("message length field exceeds the plaintext")
    message, rid = plain[20 : 20 + length], plain[20 + length :]
    if not hmac.compare_digest(rid, receive_id.encode("utf-8")):
        raise ReceiveIdError("receiveid does not match the configured corp id")
    return message


def verify_url(
    token: str, encoding_aes_key: str, corp_id: str, msg_signature: str, timestamp: str, nonce: str, echostr: str
) -> str:
    """The URL verification handshake (the GET WeCom sends when the callback URL is saved):
    check the signature over `echostr`, decrypt it, and return the plaintext to answer with
    (as is: no quotes, no BOM, no newline, within one second)."""
    check_signature(token, timestamp, nonce, echostr, msg_signature)
    return decrypt(encoding_aes_key, echostr, corp_id).decode("utf-8")


def parse_xml(data: bytes | str) -> dict[str, Any]:
    """A flat WeCom XML document as a dict: each child of the root by tag name, leaves as
    text ("" when empty), an element with children as a list of its children's values
    (``<MemChangeList><Item>a</Item><Item>b</Item></MemChangeList>`` → ``["a", "b"]``);
    a tag repeated at the top level becomes a list. Document type declarations (and so
    entity definitions) are refused before parsing."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_XML:
        raise XmlError("XML body too large")
    if _DECLARATION.search(raw):
        raise XmlError("XML with a document type or entity declaration is refused")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise XmlError(f"malformed XML: {exc}") from exc
    out: dict[str, Any] = {}
    repeated: set[str] = set()
    for child in root:
        value = _value(child)
        if child.tag not in out:
            out[child.tag] = value
        elif child.tag in repeated:
            out[child.tag].append(value)
        else:
            out[child.tag] = [out[child.tag], value]
            repeated.add(child.tag)
    return out


def _value(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return element.text or ""
    return [_value(c) for c in children]


def open_message(
    token: str,
    encoding_aes_key: str,
    corp_id: str,
    msg_signature: str,
    timestamp: str,
    nonce: str,
    body_xml: bytes | str,
) -> dict[str, Any]:
    """A callback POST, verified and decrypted: the inner XML as a dict (see parse_xml)."""
    outer = parse_xml(body_xml)
    encrypted = outer.get("Encrypt")
    if not isinstance(encrypted, str) or not encrypted:
        raise XmlError("callback body has no Encrypt element")
    check_signature(token, timestamp, nonce, encrypted, msg_signature)
    return parse_xml(decrypt(encoding_aes_key, encrypted, corp_id))


def cdata(text: str) -> str:
    """XML CDATA for `text` (a "]]>" inside is split across two sections)."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def seal_message(
    token: str,
    encoding_aes_key: str,
    corp_id: str,
    message_xml: bytes | str,
    *,
    timestamp: str | int | None = None,
    nonce: str | None = None,
    agent_id: str | int = "",
) -> tuple[dict[str, str], str]:
    """A callback as WeCom sends it: the query parameters (msg_signature, timestamp, nonce)
    and the XML body ``<xml><ToUserName/><AgentID/><Encrypt/></xml>`` carrying `message_xml`
    encrypted. Also the shape of an encrypted passive reply."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nc = nonce if nonce is not None else str(int.from_bytes(os.urandom(4), "big"))
    encrypted = encrypt(encoding_aes_key, message_xml, corp_id)
    query = {"msg_signature": signature(token, ts, nc, encrypted), "timestamp": ts, "nonce": nc}
    body = (
        f"<xml><ToUserName>{cdata(corp_id)}</ToUserName><AgentID>{cdata(str(agent_id))}</AgentID>"
        f"<Encrypt>{cdata(encrypted)}</Encrypt></xml>"
    )
    return query, body
