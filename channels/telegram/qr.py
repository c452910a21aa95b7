"""Deposit-address QR codes as PNG images for sendPhoto.

`qrcode` builds the matrix; the PNG is written here with zlib (no imaging library needed: a QR code
is a grid of black and white squares). BTC gets a BIP21 `bitcoin:` URI, which wallets open with the
address filled in; USDT (ERC20 or TRC20) gets the plain address, since wallets disagree on URIs for
tokens and a wrong one could send on the wrong network.
"""

from __future__ import annotations

import struct
import zlib

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from core.money import Asset

SCALE = 8  # pixels per module
BORDER = 4  # modules of quiet zone, as the standard asks


def payload(asset: Asset, address: str) -> str:
    return f"bitcoin:{address}" if asset is Asset.BTC else address


def png(text: str) -> bytes:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=BORDER)
    qr.add_data(text)
    qr.make(fit=True)
    matrix: list[list[bool]] = qr.get_matrix()
    rows = bytearray()
    for row in matrix:
        line = bytearray()
        for dark in row:
            line.extend((0 if dark else 255,) * SCALE)
        for _ in range(SCALE):
            rows.append(0)  # filter: none
            rows.extend(line)
    size = len(matrix) * SCALE
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )
