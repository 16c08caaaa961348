"""WeCom callback crypto: the official sample vectors (加解密方案说明 / the WXBizMsgCrypt samples),
round trips, and wechatpy's WeCom crypto as an independent oracle in both directions."""

from __future__ import annotations

import base64
import os

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from playbook.adapters.wecom import crypto
from playbook.adapters.wecom.crypto import DecryptError, ReceiveIdError, SignatureError, XmlError

# The sample of WeCom's WXBizMsgCrypt libraries (Sample.py / Sample.php / Sample.cpp).
TOKEN = "QDG6eK"
KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP = "wx5823bf96d3bd56c7"
URL_SIG, URL_TS, URL_NONCE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780"
ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
MSG_SIG, MSG_TS, MSG_NONCE = "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149"
ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvu"
    "JTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hg"
    "f5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4Eh"
    "zJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2Yoy"
    "yH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
BODY = (
    f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt>"
    "<AgentID><![CDATA[218]]></AgentID></xml>"
)


def test_the_official_url_verification_vector() -> None:
    assert crypto.signature(TOKEN, URL_TS, URL_NONCE, ECHOSTR) == URL_SIG
    assert crypto.verify_url(TOKEN, KEY, CORP, URL_SIG, URL_TS, URL_NONCE, ECHOSTR) == "1616140317555161061"
    # the same answer from the oracle
    assert WeChatCrypto(TOKEN, KEY, CORP).check_signature(URL_SIG, URL_TS, URL_NONCE, ECHOSTR) == "1616140317555161061"


def test_the_official_message_vector() -> None:
    assert crypto.signature(TOKEN, MSG_TS, MSG_NONCE, ENCRYPT) == MSG_SIG
    message = crypto.open_message(TOKEN, KEY, CORP, MSG_SIG, MSG_TS, MSG_NONCE, BODY)
    assert message == {
        "ToUserName": CORP,
        "FromUserName": "mycreate",
        "CreateTime": "1409659813",
        "MsgType": "text",
        "Content": "hello",
        "MsgId": "4561255354251345929",
        "AgentID": "218",
    }


@pytest.mark.parametrize("size", [0, 1, 11, 12, 13, 43, 44, 45, 1000])
def test_round_trip_at_every_padding_length(size: int) -> None:
    # 16 + 4 + len(msg) + len(corp id: 18) hits an exact multiple of 32 at 12 and 44: a whole
    # block of padding, which a decoder must take off too
    message = os.urandom(size)
    assert crypto.decrypt(KEY, crypto.encrypt(KEY, message, CORP), CORP) == message


def test_our_callbacks_open_with_the_oracle() -> None:
    xml = "<xml><Content><![CDATA[你好，企业微信]]></Content></xml>"
    query, body = crypto.seal_message(TOKEN, KEY, CORP, xml, timestamp=1700000000, nonce="42")
    opened = WeChatCrypto(TOKEN, KEY, CORP).decrypt_message(body, query["msg_signature"], query["timestamp"], "42")
    assert opened == xml


def test_the_oracles_messages_open_with_ours() -> None:
    xml = "<xml><Event><![CDATA[change_external_contact]]></Event><CreateTime>1700000000</CreateTime></xml>"
    sealed = WeChatCrypto(TOKEN, KEY, CORP).encrypt_message(xml, "98765", "1700000001")
    outer = crypto.parse_xml(sealed)
    message = crypto.open_message(TOKEN, KEY, CORP, outer["MsgSignature"], outer["TimeStamp"], "98765", sealed)
    assert message == {"Event": "change_external_contact", "CreateTime": "1700000000"}


def test_a_changed_body_fails_the_signature() -> None:
    tampered = BODY.replace("RypEvHKD8", "RypEvHKD9")
    with pytest.raises(SignatureError):
        crypto.open_message(TOKEN, KEY, CORP, MSG_SIG, MSG_TS, MSG_NONCE, tampered)
    with pytest.raises(SignatureError):
        crypto.open_message(TOKEN, KEY, CORP, MSG_SIG, MSG_TS, "1372623150", BODY)  # another nonce
    with pytest.raises(SignatureError):
        crypto.verify_url("another-token", KEY, CORP, URL_SIG, URL_TS, URL_NONCE, ECHOSTR)


def test_a_re_signed_tampered_ciphertext_is_refused_clearly() -> None:
    # Someone with the token but not the key: the signature passes, the plaintext does not.
    encrypted = crypto.encrypt(KEY, b"<xml><A>1</A></xml>", CORP, random_prefix=b"\x00" * 16)
    raw = bytearray(base64.b64decode(encrypted))
    raw[-17] ^= 0x01  # the block before the last: flips a padding byte in the last block
    forged = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(DecryptError, match="padding"):
        crypto.decrypt(KEY, forged, CORP)
    with pytest.raises(DecryptError):
        crypto.decrypt(KEY, encrypted[:-8], CORP)  # cut short
    with pytest.raises(DecryptError, match="base64"):
        crypto.decrypt(KEY, "not base64!", CORP)
    other_key = base64.b64encode(bytes(range(32))).decode()[:-1]
    with pytest.raises(DecryptError):
        crypto.decrypt(other_key, encrypted, CORP)


def test_a_message_for_another_corp_is_refused() -> None:
    encrypted = crypto.encrypt(KEY, "<xml/>", "ww-another-corp")
    with pytest.raises(ReceiveIdError):
        crypto.decrypt(KEY, encrypted, CORP)
    with pytest.raises(ReceiveIdError):
        crypto.verify_url(TOKEN, KEY, "ww-another-corp", URL_SIG, URL_TS, URL_NONCE, ECHOSTR)


def test_bad_keys_are_refused() -> None:
    with pytest.raises(crypto.CryptoError, match="43"):
        crypto.aes_key("short")
    with pytest.raises(crypto.CryptoError, match="base64"):
        crypto.aes_key("!" * 43)


def test_xml_with_a_document_type_is_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        "<xml><Encrypt>&lol2;</Encrypt></xml>"
    )
    with pytest.raises(XmlError, match="document type"):
        crypto.parse_xml(bomb)
    with pytest.raises(XmlError):
        crypto.open_message(TOKEN, KEY, CORP, MSG_SIG, MSG_TS, MSG_NONCE, bomb)
    # inside the encrypted payload as well
    query, body = crypto.seal_message(TOKEN, KEY, CORP, bomb, timestamp=1, nonce="1")
    with pytest.raises(XmlError):
        crypto.open_message(TOKEN, KEY, CORP, query["msg_signature"], "1", "1", body)
    with pytest.raises(XmlError, match="malformed"):
        crypto.parse_xml("<xml><A></xml>")
    with pytest.raises(XmlError, match="no Encrypt"):
        crypto.open_message(TOKEN, KEY, CORP, MSG_SIG, MSG_TS, MSG_NONCE, "<xml><A>1</A></xml>")


def test_parse_xml_shapes() -> None:
    doc = crypto.parse_xml(
        "<xml><A><![CDATA[x]]></A><B>3</B><E/><L><Item>a</Item><Item>b</Item></L><R>1</R><R>2</R></xml>"
    )
    assert doc == {"A": "x", "B": "3", "E": "", "L": ["a", "b"], "R": ["1", "2"]}
    assert crypto.cdata("a]]>b") == "<![CDATA[a]]]]><![CDATA[>b]]>"
    assert crypto.parse_xml(f"<xml><T>{crypto.cdata('a]]>b')}</T></xml>") == {"T": "a]]>b"}
