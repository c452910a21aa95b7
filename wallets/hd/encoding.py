"""Address encodings, pure: Base58Check (Bitcoin legacy, TRON) and Bech32/Bech32m (BIP-173/BIP-350).

Kept dependency-free and small so validation never depends on a node or a network call.
"""

from __future__ import annotations

import hashlib

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {char: value for value, char in enumerate(B58_ALPHABET)}


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(B58_ALPHABET[rem])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _B58_INDEX:
            raise ValueError(f"character {char!r} is not in the base58 alphabet")
        number = number * 58 + _B58_INDEX[char]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def b58check_encode(payload: bytes) -> str:
    return b58encode(payload + sha256d(payload)[:4])


def b58check_decode(text: str) -> bytes:
    """Decode and verify the 4-byte checksum; raises ValueError on any mistake."""
    raw = b58decode(text)
    if len(raw) < 5:
        raise ValueError("too short")
    payload, checksum = raw[:-4], raw[-4:]
    if sha256d(payload)[:4] != checksum:
        raise ValueError("checksum mismatch (a typing mistake?)")
    return payload


# --- Bech32 / Bech32m (reference algorithm of BIP-173 and BIP-350) ---

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32_CONST = 1
BECH32M_CONST = 0x2BC830A3


def _polymod(values: list[int]) -> int:
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if ((top >> i) & 1) else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def bech32_decode(text: str) -> tuple[str, list[int], int]:
    """Return (hrp, data without checksum, constant). Raises ValueError."""
    if any(ord(x) < 33 or ord(x) > 126 for x in text):
        raise ValueError("invalid characters")
    if text.lower() != text and text.upper() != text:
        raise ValueError("mixed case")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text) or len(text) > 90:
        raise ValueError("bad separator position or length")
    if not all(x in BECH32_CHARSET for x in text[pos + 1 :]):
        raise ValueError("character outside the bech32 alphabet")
    hrp = text[:pos]
    data = [BECH32_CHARSET.find(x) for x in text[pos + 1 :]]
    const = _polymod(_hrp_expand(hrp) + data)
    if const not in (BECH32_CONST, BECH32M_CONST):
        raise ValueError("checksum mismatch (a typing mistake?)")
    return hrp, data[:-6], const


def bech32_encode(hrp: str, data: list[int], const: int) -> str:
    values = _hrp_expand(hrp) + data
    polymod = _polymod([*values, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in data + checksum)


def convertbits(data: list[int] | bytes, frombits: int, tobits: int, *, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    ret = []
    maxv = (1 << tobits) - 1
    for value in data:
        if value < 0 or (value >> frombits):
            raise ValueError("value out of range")
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad:
        if bits:
            ret.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        raise ValueError("invalid padding")
    return ret


def segwit_decode(hrp: str, address: str) -> tuple[int, bytes]:
    """Decode a segwit address for `hrp`; returns (witness version, program). Raises ValueError."""
    found_hrp, data, const = bech32_decode(address)
    if found_hrp != hrp:
        raise ValueError(f"prefix {found_hrp!r} is not {hrp!r}")
    if not data:
        raise ValueError("empty data")
    version = data[0]
    program = bytes(convertbits(data[1:], 5, 8, pad=False))
    if len(program) < 2 or len(program) > 40 or version > 16:
        raise ValueError("invalid witness program")
    if version == 0 and len(program) not in (20, 32):
        raise ValueError("invalid v0 witness program length")
    if (version == 0 and const != BECH32_CONST) or (version != 0 and const != BECH32M_CONST):
        raise ValueError("wrong checksum variant for the witness version")
    return version, program


def segwit_encode(hrp: str, version: int, program: bytes) -> str:
    const = BECH32_CONST if version == 0 else BECH32M_CONST
    return bech32_encode(hrp, [version, *convertbits(program, 8, 5, pad=True)], const)
