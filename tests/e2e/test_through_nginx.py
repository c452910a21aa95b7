"""The shipped nginx config in front of uvicorn, with a real nginx from Debian (issue 21 item 3).

The config under deploy/nginx is used as shipped, with only its machine-specific paths and ports
rewritten for a temporary directory: `nginx -t` accepts it, a USSD hop from an allow-listed address
is served (the app sees that address, not nginx's, through X-Forwarded-For from a trusted proxy), a
callback from another address is refused at the edge, a 2 MB body is refused, plain HTTP redirects
and /metrics answers only inside.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core import runtime as runtime_module
from core.config import Settings
from tests.e2e.journeys.conftest import bound_socket
from webapp.app import create_app
from webapp.bootstrap import build_runtime

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "nginx"
AT_TOKEN = "nginx-test-at-callback-token-0123456789"
PROVIDER_IP = "127.0.0.2"  # stands for Africa's Talking / Safaricom in the allow-list
STRANGER_IP = "127.0.0.3"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _self_signed(folder: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder.mkdir()
    (folder / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _free_port() -> int:
    sock = bound_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def _configure(tmp: Path, app_port: int, http_port: int, https_port: int) -> Path:
    """The shipped files with paths and ports made local; nothing else changes."""
    includes = tmp / "kibeti.d"
    shutil.copytree(SHIPPED / "kibeti.d", includes)
    (includes / "upstream.conf").write_text(
        f"upstream kibeti_api {{ server 127.0.0.1:{app_port}; keepalive 8; }}\n"
    )
    allow = (includes / "callback-allow.conf").read_text()
    assert allow.rstrip().endswith("deny all;")
    (includes / "callback-allow.conf").write_text(
        allow.replace("deny all;", f"allow {PROVIDER_IP};\ndeny all;")
    )
    _self_signed(tmp / "certs")
    (tmp / "logs").mkdir()
    site = (SHIPPED / "kibeti.conf").read_text()
    replacements = {
        "/etc/nginx/kibeti.d/": f"{includes}/",
        "/etc/nginx/certs/": f"{tmp / 'certs'}/",
        "/var/log/nginx/": f"{tmp / 'logs'}/",
        "    listen 80;": f"    listen 127.0.0.1:{http_port};",
        "    listen 443 ssl http2;": f"    listen 127.0.0.1:{https_port} ssl http2;",
        "    listen [::]:80;\n": "",
        "    listen [::]:443 ssl http2;\n": "",
    }
    for old, new in replacements.items():
        assert old in site, f"the shipped config changed: {old!r} not found"
        site = site.replace(old, new)
    (tmp / "kibeti.conf").write_text(site)
    main = tmp / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    main.write_text(
        f"{user}worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'logs' / 'error.log'};\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n  access_log off;\n  include {tmp / 'kibeti.conf'};\n}}\n"
    )
    return main


@pytest.fixture
async def app_port(sqlite_url: str, tmp_path: Path) -> AsyncIterator[int]:
    sock = bound_socket()
    port = int(sock.getsockname()[1])
    settings = Settings(
        kibeti_env="test", database_url=sqlite_url, redis_url="", data_dir=tmp_path / "var",
        at_callback_token=AT_TOKEN, trusted_proxies=["127.0.0.1"], callback_ip_allowlist=[PROVIDER_IP],
    )  # fmt: skip
    rt = build_runtime(settings)
    runtime_module.install(rt)
    server = uvicorn.Server(uvicorn.Config(create_app(rt, run_scheduler_inside=False), log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 60
        while not server.started and not serving.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield port
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, timeout=15)
        await rt.session_factory.kw["bind"].dispose()
        sock.close()


def _client(base: str, source: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=source, verify=False, retries=0)
    return httpx.AsyncClient(transport=transport, base_url=base, timeout=30)


async def test_the_shipped_nginx_config_in_front_of_the_app(app_port: int, tmp_path: Path) -> None:
    assert Path(NGINX).exists(), (
        "nginx is not installed: `make test` installs it (apt-get install nginx-light)"
    )
    http_port, https_port = _free_port(), _free_port()
    conf = _configure(tmp_path / "nginx", app_port, http_port, https_port)
    prefix = str(conf.parent)
    checked = subprocess.run([NGINX, "-t", "-p", prefix, "-c", str(conf)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    nginx = subprocess.Popen(
        [NGINX, "-p", prefix, "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"https://127.0.0.1:{https_port}"
        async with _client(base, PROVIDER_IP) as provider, _client(base, STRANGER_IP) as stranger:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await provider.get("/healthz")).status_code == 200:
                        break
                assert time.monotonic() < deadline, "nginx did not come up"
                await asyncio.sleep(0.1)
            form = {"sessionId": "ATUid_nginx", "serviceCode": "*483*1#", "phoneNumber": "+254700000777"}
            hop = await provider.post(f"/ussd/{AT_TOKEN}", data={**form, "networkCode": "63902", "text": ""})
            assert hop.status_code == 200, hop.text
            assert hop.text.startswith("CON ")
            assert "max-age=31536000" in hop.headers["strict-transport-security"]

            # refused by nginx itself (its own error page), before the app's own allow-list
            refused = await stranger.post(f"/ussd/{AT_TOKEN}", data={**form, "text": ""})
            assert refused.status_code == 403 and "nginx" in refused.text
            refused = await stranger.post("/cb/some-token/c2b/confirmation", json={"TransID": "X"})
            assert refused.status_code == 403 and "nginx" in refused.text

            too_big = await provider.post(f"/ussd/{AT_TOKEN}", content=b"x" * (2 * 1024 * 1024))
            assert too_big.status_code == 413

            assert (await provider.get("/metrics")).status_code == 403  # not from outside
            assert (await provider.get("/phone")).status_code == 404  # simulators never at the edge
        async with _client(f"http://127.0.0.1:{http_port}", PROVIDER_IP) as plain:
            redirect = await plain.get("/api/docs")
            assert redirect.status_code == 301
            assert redirect.headers["location"].startswith("https://")
        log = (tmp_path / "nginx" / "logs" / "kibeti.access.log").read_text()
        assert AT_TOKEN not in log and "/ussd/..." in log  # the path token never reaches the log
    finally:
        nginx.terminate()
        nginx.wait(timeout=15)
