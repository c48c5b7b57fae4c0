"""The real Debian nginx, HAProxy, Caddy, Apache httpd and Varnish as child processes, proxying
to a test upstream.

Each gateway writes its config into a fresh temp dir, listens on 127.0.0.1 at a port picked
here, and runs in the foreground as our child::

    with stall_server() as origin, nginx(origin.url, proxy_read_timeout="1s") as gw:
        httpx.get(gw.url)  # -> genuine nginx 504 page
        assert "upstream timed out" in gw.error_log_text()

Entering waits (≤10 s) until the port accepts connections and raises :class:`GatewayStartError`
with the process's output if it exits or never listens; leaving terminates the process, waits
for it and removes the temp dir. Binaries: ``/usr/sbin/nginx``, ``/usr/sbin/haproxy``,
``/usr/bin/caddy``, ``/usr/sbin/apache2``, ``/usr/sbin/varnishd`` (override with the
``NGINX``/``HAPROXY``/``CADDY``/``APACHE``/``VARNISHD`` attributes on the classes).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Self
from urllib.parse import urlsplit

HOST = "127.0.0.1"
_READY_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_START_ATTEMPTS = 3


class GatewayStartError(RuntimeError):
    """The gateway process exited or never listened; the message carries its output."""


def free_port() -> int:
    """An OS-chosen free TCP port on 127.0.0.1 (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Gateway:
    """Base: a gateway child process with a generated config in ``self.dir``."""

    name = "gateway"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"check502-{self.name}-"))
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._outputs: list[IO[bytes]] = []

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://{HOST}:{self.port}/"

    @property
    def stdout_path(self) -> Path:
        return self.dir / "stdout.log"

    @property
    def stderr_path(self) -> Path:
        return self.dir / "stderr.log"

    def output_text(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return _read(self.stdout_path) + _read(self.stderr_path)

    def log_text(self) -> str:
        """The gateway's logs so far (subclasses say which)."""
        return self.output_text()

    def wait_for_log(
        self, text: str, timeout: float = 2.0, *, source: Callable[[], str] | None = None
    ) -> str:
        """Poll :meth:`log_text` (or ``source``) until it contains ``text``; return that text.

        Gateways write some lines (nginx's access log, HAProxy's session line) only after
        the response has been sent, so a test reading them at once would race. Raises
        TimeoutError, with the log, after ``timeout`` seconds.
        """
        read = source or self.log_text
        deadline = time.monotonic() + timeout
        while True:
            logs = read()
            if text in logs:
                return logs
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name} log has no {text!r} after {timeout}s:\n{logs}")
            time.sleep(0.02)

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _write_config(self) -> None:
        raise NotImplementedError

    def _env(self) -> dict[str, str] | None:
        return None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Write the config, start the process, wait (≤10 s) until the port accepts."""
        for attempt in range(_START_ATTEMPTS):
            self.port = free_port()
            self._write_config()
            self._spawn()
            if self._wait_ready():
                return
            output = self.output_text()
            self._kill()
            if "Address already in use" in output and attempt + 1 < _START_ATTEMPTS:
                continue  # lost the race for the port we picked; pick another
            self._remove_dir()
            raise GatewayStartError(
                f"{self.name} failed to start: {' '.join(self._command())}\n{output}"
            )

    def stop(self) -> None:
        """Terminate the process (SIGKILL after 5 s), wait for it, remove the temp dir."""
        self._kill()
        self._remove_dir()

    def _spawn(self) -> None:
        stdout = self.stdout_path.open("wb")
        stderr = self.stderr_path.open("wb")
        self._outputs = [stdout, stderr]
        self.proc = subprocess.Popen(
            self._command(),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            cwd=self.dir,
            env=self._env(),
        )

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(_STOP_TIMEOUT)
            proc.wait()
        for handle in self._outputs:
            handle.close()
        self._outputs = []

    def _remove_dir(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _split_upstream(upstream: str) -> tuple[str, str, str]:
    """``http://host:port/path`` → (scheme, host, port) for a TCP upstream."""
    if "://" not in upstream:
        upstream = "http://" + upstream
    parts = urlsplit(upstream)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"upstream needs host and port: {upstream!r}")
    return parts.scheme, parts.hostname, str(parts.port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# nginx
# --------------------------------------------------------------------------------------------


class _LogFiles(Gateway):
    """A gateway that writes ``error.log`` and ``access.log`` in its directory (nginx:
    ``status upstream_status upstream_addr request_time "request"``; Apache httpd: ``status
    duration_us "request"``; both error logs at info for the proxy modules)."""

    @property
    def error_log_path(self) -> Path:
        return self.dir / "error.log"

    @property
    def access_log_path(self) -> Path:
        return self.dir / "access.log"

    def error_log_text(self) -> str:
        """The error log so far."""
        return _read(self.error_log_path)

    def access_log_text(self) -> str:
        """The access log so far."""
        return _read(self.access_log_path)

    def log_text(self) -> str:
        """Error log followed by access log."""
        return self.error_log_text() + self.access_log_text()


class Nginx(_LogFiles):
    """Debian nginx, one ``server`` on 127.0.0.1, ``location /`` proxying to ``upstream``.

    ``upstream`` is ``http://127.0.0.1:P``, ``https://127.0.0.1:P``, ``http://unix:/path:`` or
    ``http://name:P``. A trailing ``/`` path is dropped, so the client's URI is passed through.
    ``upstream_tls`` switches an ``http://`` upstream to ``https://``; ``verify_upstream_tls``
    turns on ``proxy_ssl_verify`` with ``trusted_ca``; ``upstream_sni`` sets ``proxy_ssl_name``
    and ``proxy_ssl_server_name on``. With ``resolver`` (``127.0.0.1:PORT``), a non-IP host (or
    ``variable_upstream_host``) goes through ``set $up …; proxy_pass http://$up:P`` so nginx
    resolves it per request with that resolver (``valid=1s``, ``resolver_timeout``).
    Runs ``nginx -p DIR -c DIR/nginx.conf -e DIR/error.log -g 'daemon off; master_process off;'``
    (one process, as root, nothing written outside DIR); error log at ``info``. ``grpc=True``
    passes with ``grpc_pass grpc://host:P`` (HTTP/2 in plain text, ``grpcs://`` with
    ``upstream_tls``) instead of ``proxy_pass``.
    """

    name = "nginx"
    NGINX = "/usr/sbin/nginx"

    def __init__(
        self,
        upstream: str,
        *,
        extra_location: str = "",
        extra_http: str = "",
        proxy_read_timeout: str = "1s",
        proxy_connect_timeout: str = "1s",
        upstream_tls: bool = False,
        verify_upstream_tls: bool = False,
        trusted_ca: str | None = None,
        upstream_sni: str | None = None,
        resolver: str | None = None,
        resolver_timeout: str = "2s",
        variable_upstream_host: str | None = None,
        server_tokens: bool = True,
        grpc: bool = False,
    ) -> None:
        super().__init__()
        self.grpc = grpc
        self.upstream = upstream
        self.extra_location = extra_location
        self.extra_http = extra_http
        self.proxy_read_timeout = proxy_read_timeout
        self.proxy_connect_timeout = proxy_connect_timeout
        self.upstream_tls = upstream_tls
        self.verify_upstream_tls = verify_upstream_tls
        self.trusted_ca = trusted_ca
        self.upstream_sni = upstream_sni
        self.resolver = resolver
        self.resolver_timeout = resolver_timeout
        self.variable_upstream_host = variable_upstream_host
        self.server_tokens = server_tokens

    def _command(self) -> list[str]:
        return [
            self.NGINX,
            "-p", f"{self.dir}/",
            "-c", str(self.dir / "nginx.conf"),
            "-e", str(self.error_log_path),
            "-g", "daemon off; master_process off;",
        ]  # fmt: skip

    def _proxy_lines(self) -> list[str]:
        target = self.upstream
        if self.upstream_tls and target.startswith("http://") and "://unix:" not in target:
            target = "https://" + target.removeprefix("http://")
        lines: list[str] = []
        if "://unix:" not in target:
            scheme, host, port = _split_upstream(target)
            var_host = self.variable_upstream_host
            if var_host is None and self.resolver is not None and not _is_ip(host):
                var_host = host
            if var_host is not None:
                lines.append(f"set $up {var_host};")
                host = "$up"
            target = f"{scheme}://{host}:{port}"
        if self.grpc:
            grpc_target = target.replace("https://", "grpcs://").replace("http://", "grpc://")
            lines.append(f"grpc_pass {grpc_target};")
            return lines
        lines.append(f"proxy_pass {target};")
        if target.startswith("https://"):
            if self.verify_upstream_tls:
                lines.append("proxy_ssl_verify on;")
            if self.trusted_ca:
                lines.append(f"proxy_ssl_trusted_certificate {self.trusted_ca};")
            if self.upstream_sni:
                lines.append(f"proxy_ssl_name {self.upstream_sni};")
                lines.append("proxy_ssl_server_name on;")
        return lines

    def _write_config(self) -> None:
        d = self.dir
        resolver = ""
        if self.resolver:
            resolver = (
                f"resolver {self.resolver} valid=1s ipv6=off;\n"
                f"    resolver_timeout {self.resolver_timeout};"
            )
        proxy = "\n            ".join(self._proxy_lines())
        config = f"""
user root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server_tokens {"on" if self.server_tokens else "off"};
    log_format gw '$status $upstream_status $upstream_addr $request_time "$request"';
    access_log {d}/access.log gw;
    {resolver}
    {self.extra_http}
    server {{
        listen {HOST}:{self.port};
        server_name localhost;
        location / {{
            {proxy}
            proxy_connect_timeout {self.proxy_connect_timeout};
            proxy_read_timeout {self.proxy_read_timeout};
            proxy_send_timeout {self.proxy_read_timeout};
            {self.extra_location}
        }}
    }}
}}
"""
        (d / "nginx.conf").write_text(config)


class NginxH2(Gateway):
    """Debian nginx serving HTTPS with HTTP/2 (ALPN ``h2``) for ``shop.test``, answering 200 itself.

    The certificate comes from a trustme CA (``ca_pem_path`` to trust); clients connect to
    127.0.0.1 and send SNI ``shop.test``, as most CDN URLs are reached: TLS 1.3 and h2.
    ``listen … ssl http2`` is the spelling of nginx 1.22 (``http2 on`` arrived in 1.25.1).
    """

    name = "nginx-h2"
    NGINX = "/usr/sbin/nginx"
    HOSTNAME = "shop.test"

    def __init__(self, body: str = "ok") -> None:
        import trustme

        super().__init__()
        self.body = body
        self.ca = trustme.CA()
        self.ca_pem_path = str(self.dir / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_pem_path)
        leaf = self.ca.issue_cert(self.HOSTNAME)
        (self.dir / "chain.pem").write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(self.dir / "key.pem"))

    @property
    def url(self) -> str:
        """``https://shop.test:PORT/`` (resolve ``shop.test`` to 127.0.0.1)."""
        return f"https://{self.HOSTNAME}:{self.port}/"

    def log_text(self) -> str:
        """Error log, then the access log (``protocol status "request"``)."""
        return _read(self.dir / "error.log") + _read(self.dir / "access.log")

    def _command(self) -> list[str]:
        return [
            self.NGINX,
            "-p", f"{self.dir}/",
            "-c", str(self.dir / "nginx.conf"),
            "-e", str(self.dir / "error.log"),
            "-g", "daemon off; master_process off;",
        ]  # fmt: skip

    def _write_config(self) -> None:
        d = self.dir
        config = f"""
user root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    log_format h2 '$server_protocol $status "$request"';
    access_log {d}/access.log h2;
    server {{
        listen {HOST}:{self.port} ssl http2;
        server_name {self.HOSTNAME};
        ssl_certificate {d}/chain.pem;
        ssl_certificate_key {d}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            default_type text/plain;
            return 200 "{self.body}";
        }}
    }}
}}
"""
        (d / "nginx.conf").write_text(config)


# --------------------------------------------------------------------------------------------
# HAProxy
# --------------------------------------------------------------------------------------------


class Haproxy(Gateway):
    """Debian HAProxy in ``mode http``: one frontend on 127.0.0.1, one backend server.

    ``check=True`` adds a fast health check (``inter 200ms fall 1 rise 1``) so a dead server is
    marked DOWN within a fraction of a second. ``retries=None`` keeps HAProxy's default (3, each
    after a turn-around of min(timeout connect, 1 s)). Logs (``option httplog``, termination
    state included) and alerts go to stdout/stderr: :meth:`log_text`. Runs ``haproxy -f CFG -db``.
    ``server_options`` are appended to the ``server`` line (``"ssl verify none"``, ``"proto h2"``).
    """

    name = "haproxy"
    HAPROXY = "/usr/sbin/haproxy"

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        timeout_connect: str = "1s",
        timeout_server: str = "1s",
        check: bool = False,
        retries: int | None = None,
        server_options: str = "",
    ) -> None:
        super().__init__()
        self.server_options = server_options
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.timeout_connect = timeout_connect
        self.timeout_server = timeout_server
        self.check = check
        self.retries = retries

    def _command(self) -> list[str]:
        return [self.HAPROXY, "-f", str(self.dir / "haproxy.cfg"), "-db"]

    def _write_config(self) -> None:
        check = " check inter 200ms fall 1 rise 1" if self.check else ""
        if self.server_options:
            check += " " + self.server_options
        retries = f"    retries {self.retries}\n" if self.retries is not None else ""
        config = f"""global
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog
    timeout connect {self.timeout_connect}
    timeout client 30s
    timeout server {self.timeout_server}
{retries}
frontend fe
    bind {HOST}:{self.port}
    default_backend be

backend be
    server app {self.upstream_host}:{self.upstream_port}{check}
"""
        (self.dir / "haproxy.cfg").write_text(config)


# --------------------------------------------------------------------------------------------
# Caddy
# --------------------------------------------------------------------------------------------


class Caddy(Gateway):
    """Caddy 2 ``reverse_proxy`` for any Host on port PORT, bound to 127.0.0.1 only.

    ``upstream`` is anything Caddy accepts (``127.0.0.1:P``, ``http://…``, ``https://…``,
    ``unix//path``). ``dial_timeout`` / ``response_header_timeout`` go into
    ``transport http {}`` (None omits them: Caddy's defaults, 3 s dial and no header timeout).
    ``trusted_ca`` → ``tls_trusted_ca_certs``, ``tls_server_name`` → ``tls_server_name``,
    ``versions`` (e.g. ``["1.1", "2"]``) → ``versions``. ``admin off``, ``auto_https off``;
    HOME and XDG dirs point into the temp dir. Logs (JSON, stderr): :meth:`log_text`.
    """

    name = "caddy"
    CADDY = "/usr/bin/caddy"

    def __init__(
        self,
        upstream: str,
        *,
        dial_timeout: str | None = "1s",
        response_header_timeout: str | None = "1s",
        trusted_ca: str | None = None,
        tls_server_name: str | None = None,
        versions: list[str] | None = None,
        extra_site: str = "",
    ) -> None:
        super().__init__()
        self.upstream = upstream
        self.dial_timeout = dial_timeout
        self.response_header_timeout = response_header_timeout
        self.trusted_ca = trusted_ca
        self.tls_server_name = tls_server_name
        self.versions = versions
        self.extra_site = extra_site

    def _command(self) -> list[str]:
        return [
            self.CADDY,
            "run",
            "--config",
            str(self.dir / "Caddyfile"),
            "--adapter",
            "caddyfile",
        ]

    def _env(self) -> dict[str, str]:
        d = str(self.dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
        env.update(
            HOME=d, XDG_DATA_HOME=f"{d}/data", XDG_CONFIG_HOME=f"{d}/config",
            XDG_CACHE_HOME=f"{d}/cache",
        )  # fmt: skip
        return env

    def _write_config(self) -> None:
        transport = []
        if self.dial_timeout:
            transport.append(f"dial_timeout {self.dial_timeout}")
        if self.response_header_timeout:
            transport.append(f"response_header_timeout {self.response_header_timeout}")
        if self.trusted_ca:
            transport.append(f"tls_trusted_ca_certs {self.trusted_ca}")
        if self.tls_server_name:
            transport.append(f"tls_server_name {self.tls_server_name}")
        if self.versions:
            transport.append("versions " + " ".join(self.versions))
        block = ""
        if transport:
            inner = "\n\t\t\t".join(transport)
            block = f" {{\n\t\ttransport http {{\n\t\t\t{inner}\n\t\t}}\n\t}}"
        extra = f"\t{self.extra_site}\n" if self.extra_site else ""
        config = f"""{{
\tadmin off
\tauto_https off
}}

http://:{self.port} {{
\tbind {HOST}
\treverse_proxy {self.upstream}{block}
{extra}}}
"""
        (self.dir / "Caddyfile").write_text(config)


# --------------------------------------------------------------------------------------------
# Apache httpd
# --------------------------------------------------------------------------------------------


class Apache(_LogFiles):
    """Debian Apache httpd 2.4 with mod_proxy: ``ProxyPass / <upstream>/`` on 127.0.0.1:PORT.

    ``upstream`` is ``http://127.0.0.1:P`` or ``https://127.0.0.1:P`` (mod_ssl is loaded and
    ``SSLProxyEngine on`` set for the latter; ``verify_upstream_tls`` turns on
    ``SSLProxyVerify require`` with ``trusted_ca``). ``timeout`` and ``connect_timeout`` are the
    ``ProxyPass`` ``timeout=`` / ``connectiontimeout=`` in seconds; ``retry=0`` (the default
    here, so scenarios sharing one gateway do not see each other) keeps mod_proxy from
    disabling a worker for 60 s after a failed connect; ``retry=None`` keeps Apache's default.
    ``routes`` maps a first path segment to another upstream (``{"reset": "http://…"}``:
    ``/reset/…`` goes there), so one Apache can face several misbehaving origins at once.
    ``ServerTokens OS`` and ``ServerSignature On`` as Debian's ``security.conf`` sets them.
    Runs ``apache2 -d DIR -f DIR/httpd.conf -DFOREGROUND`` (event MPM, one child, as
    ``www-data`` like the packaged service; everything it writes is in DIR). Error log at
    ``info`` for ``proxy*``; access log ``status duration_us "request"``.
    """

    name = "apache"
    APACHE = "/usr/sbin/apache2"
    MODULES = "/usr/lib/apache2/modules"

    def __init__(
        self,
        upstream: str,
        *,
        timeout: int = 1,
        connect_timeout: int = 1,
        retry: int | None = 0,
        verify_upstream_tls: bool = False,
        trusted_ca: str | None = None,
        extra_config: str = "",
        routes: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.routes = {k.strip("/"): v.rstrip("/") for k, v in (routes or {}).items()}
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry = retry
        self.verify_upstream_tls = verify_upstream_tls
        self.trusted_ca = trusted_ca
        self.extra_config = extra_config
        self.dir.chmod(0o755)  # the www-data child reads nothing here, but may need to traverse

    def _command(self) -> list[str]:
        return [self.APACHE, "-d", str(self.dir), "-f", str(self.dir / "httpd.conf"),
                "-DFOREGROUND"]  # fmt: skip

    def _env(self) -> dict[str, str]:
        # apache2 reads APACHE_* from Debian's envvars only through apache2ctl; pass a clean
        # environment so nothing from /etc/apache2 leaks in.
        return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LANG": "C"}

    def _write_config(self) -> None:
        d = self.dir
        modules = ["mpm_event", "authz_core", "proxy", "proxy_http"]
        tls = any(u.startswith("https://") for u in (self.upstream, *self.routes.values()))
        if tls:
            modules.append("ssl")
        loads = "\n".join(f"LoadModule {m}_module {self.MODULES}/mod_{m}.so" for m in modules)
        params = f"timeout={self.timeout} connectiontimeout={self.connect_timeout}"
        if self.retry is not None:
            params += f" retry={self.retry}"
        ssl = ""
        if tls:
            ssl = "SSLProxyEngine on\n"
            if self.verify_upstream_tls:
                ssl += "SSLProxyVerify require\nSSLProxyCheckPeerName on\n"
                if self.trusted_ca:
                    ssl += f"SSLProxyCACertificateFile {self.trusted_ca}\n"
            else:
                ssl += (
                    "SSLProxyVerify none\nSSLProxyCheckPeerName off\nSSLProxyCheckPeerExpire off\n"
                )
        proxy = "\n".join(
            f"ProxyPass {path} {upstream}/ {params}\nProxyPassReverse {path} {upstream}/"
            for path, upstream in (
                *((f"/{name}/", up) for name, up in self.routes.items()),
                ("/", self.upstream),
            )
        )
        config = f"""{loads}
ServerRoot {d}
ServerName localhost
Listen {HOST}:{self.port}
PidFile {d}/apache2.pid
DefaultRuntimeDir {d}
User www-data
Group www-data
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
ServerTokens OS
ServerSignature On
ErrorLog {d}/error.log
LogLevel warn proxy:info proxy_http:info
LogFormat "%>s %D \\"%r\\"" gw
CustomLog {d}/access.log gw
{ssl}{proxy}
{self.extra_config}
"""
        (d / "httpd.conf").write_text(config)


# --------------------------------------------------------------------------------------------
# Varnish
# --------------------------------------------------------------------------------------------


class Varnish(Gateway):
    """Varnish Cache in front of one backend; every request is passed (nothing is cached).

    ``connect_timeout``, ``first_byte_timeout`` and ``between_bytes_timeout`` go into every
    ``backend`` block (seconds). ``routes`` maps a first path segment to another backend
    (``{"reset": ("127.0.0.1", P)}``: ``/reset/…`` is fetched from there as ``/…``), so one
    Varnish can face several misbehaving origins at once. ``extra_vcl`` is appended. Runs
    ``varnishd -F -n DIR/work -a 127.0.0.1:PORT -f DIR/default.vcl -s malloc,32m -T none``;
    the management process's output (VCL compiler errors, child panics) is in
    :meth:`output_text`. Varnish logs to shared memory, not files: :meth:`fetch_errors` reads
    the backend side of it with ``varnishlog -d`` (``BackendOpen`` and ``FetchError`` records,
    such as ``fail errno 111 (Connection refused)``, ``HTC eof``, ``first byte timeout``), and
    :meth:`log_text` is the output followed by those.
    """

    name = "varnish"
    VARNISHD = "/usr/sbin/varnishd"
    VARNISHLOG = "/usr/bin/varnishlog"

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        connect_timeout: float = 1.0,
        first_byte_timeout: float = 1.0,
        between_bytes_timeout: float = 1.0,
        extra_vcl: str = "",
        routes: Mapping[str, tuple[str, int]] | None = None,
    ) -> None:
        super().__init__()
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.routes = {k.strip("/"): v for k, v in (routes or {}).items()}
        if not all(re.fullmatch(r"\w+", name) for name in self.routes):
            raise ValueError(f"route names are words (they go into VCL regexes): {routes}")
        self.connect_timeout = connect_timeout
        self.first_byte_timeout = first_byte_timeout
        self.between_bytes_timeout = between_bytes_timeout
        self.extra_vcl = extra_vcl
        self.dir.chmod(0o755)  # varnishd's jail gives the work dir to the varnish user

    def _command(self) -> list[str]:
        return [
            self.VARNISHD, "-F",
            "-n", str(self.dir / "work"),
            "-a", f"{HOST}:{self.port}",
            "-f", str(self.dir / "default.vcl"),
            "-s", "malloc,32m",
            "-T", "none",
        ]  # fmt: skip

    def fetch_errors(self) -> str:
        """``BackendOpen`` and ``FetchError`` records so far (``varnishlog -d``, ≤5 s)."""
        if self.proc is None:
            return ""
        try:
            done = subprocess.run(
                [self.VARNISHLOG, "-d", "-n", str(self.dir / "work"), "-g", "raw",
                 "-i", "BackendOpen,FetchError"],
                capture_output=True, text=True, timeout=5.0, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return ""
        return done.stdout

    def log_text(self) -> str:
        """The process's output followed by :meth:`fetch_errors`."""
        return self.output_text() + self.fetch_errors()

    def fetch_errors_for(self, route: str | None = None) -> list[str]:
        """The ``FetchError`` texts of fetches from one backend (``None``: the default one)."""
        backend = "default" if route is None else f"route{list(self.routes).index(route)}"
        by_vxid: dict[str, str] = {}
        errors: list[str] = []
        for line in self.fetch_errors().splitlines():
            fields = line.split(None, 3)
            if len(fields) < 4:
                continue
            vxid, tag, _side, rest = fields
            if tag == "BackendOpen":
                by_vxid[vxid] = rest.split()[1]
            elif tag == "FetchError":
                named = re.match(r"backend (\w+): ", rest)
                owner = named.group(1) if named else by_vxid.get(vxid)
                if owner == backend:
                    errors.append(rest)
        return errors

    def _backend(self, name: str, host: str, port: int) -> str:
        return f"""backend {name} {{
    .host = "{host}";
    .port = "{port}";
    .connect_timeout = {self.connect_timeout}s;
    .first_byte_timeout = {self.first_byte_timeout}s;
    .between_bytes_timeout = {self.between_bytes_timeout}s;
}}
"""

    def _write_config(self) -> None:
        backends = [self._backend("default", self.upstream_host, self.upstream_port)]
        picks = []
        for i, (path, (host, port)) in enumerate(self.routes.items()):
            backends.append(self._backend(f"route{i}", host, port))
            picks.append(
                f'    if (req.url ~ "^/{path}(/|$)") {{\n'
                f"        set req.backend_hint = route{i};\n"
                f'        set req.url = regsub(req.url, "^/{path}/?", "/");\n'
                f"    }}\n"
            )
        vcl = (
            "vcl 4.1;\n\n"
            + "\n".join(backends)
            + "\nsub vcl_recv {\n"
            + "".join(picks)
            + "    return (pass);\n}\n"
            + self.extra_vcl
        )
        (self.dir / "default.vcl").write_text(vcl)


# --------------------------------------------------------------------------------------------
# factories (the names tests use)
# --------------------------------------------------------------------------------------------


nginx = Nginx
"""Real nginx proxying to ``upstream``; the factory name tests use (see :class:`Nginx`)."""

haproxy = Haproxy
"""Real HAProxy proxying to one server (see :class:`Haproxy`)."""

caddy = Caddy
"""Real Caddy ``reverse_proxy`` (see :class:`Caddy`)."""

apache = Apache
"""Real Apache httpd ``ProxyPass`` to ``upstream`` (see :class:`Apache`)."""

varnish = Varnish
"""Real Varnish passing every request to one backend (see :class:`Varnish`)."""
