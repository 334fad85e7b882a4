"""Run a throw-away local Janus (tests, benchmark, development).

:class:`LocalJanus` writes a minimal configuration into its own directory — the HTTP transport
and the VideoRoom plugin only (their ``.so`` files are symlinked into private plugin/transport
folders, so nothing else can load), plain HTTP on a free port, its own RTP port range, half
trickle (answers and offers carry Janus's candidates), the Admin API on a second free port
(``/admin``, guarded by ``admin_secret``) — then runs ``janus -F <dir>`` and waits until the HTTP
API answers ``info``.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

JANUS_BINARY = "/usr/bin/janus"
_LIB_GLOBS = (
    "/usr/lib/*/janus",
    "/usr/lib/janus",
    "/usr/local/lib/janus",
    "/opt/janus/lib/janus",
)


def find_janus() -> str | None:
    """Path of the ``janus`` binary, or None."""
    if os.access(JANUS_BINARY, os.X_OK):
        return JANUS_BINARY
    return shutil.which("janus")


def find_lib_dir() -> Path | None:
    """Janus's library folder (with ``plugins/libjanus_videoroom.so``), or None."""
    for pattern in _LIB_GLOBS:
        for candidate in sorted(glob.glob(pattern)):
            path = Path(candidate)
            if (path / "plugins" / "libjanus_videoroom.so").exists() and (
                path / "transports" / "libjanus_http.so"
            ).exists():
                return path
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalJanus:
    """One Janus process with a generated configuration in ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        *,
        rtp_ports: tuple[int, int],
        api_secret: str = "",
        admin_key: str = "",
        admin_secret: str = "",
        http_port: int | None = None,
        admin_port: int | None = None,
        session_timeout: int = 60,
        debug_level: int = 4,
        host: str = "127.0.0.1",
        command_prefix: Sequence[str] = (),
    ) -> None:
        self.workdir = workdir
        self.rtp_ports = rtp_ports
        self.api_secret = api_secret
        self.admin_key = admin_key
        self.admin_secret = admin_secret or secrets.token_hex(8)
        self.http_port = http_port or free_port()
        self.admin_port = admin_port or free_port()
        self.session_timeout = session_timeout
        self.debug_level = debug_level
        # where the HTTP and Admin APIs listen; any other address than loopback is also the only
        # one Janus gathers ICE candidates on (e.g. inside a liveshop.media.netns.Namespace,
        # whose ``command`` is then the ``command_prefix``)
        self.host = host
        self.command_prefix = list(command_prefix)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "janus.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}/janus"

    @property
    def admin_url(self) -> str:
        """The Admin API endpoint (``handle_info`` etc.; ``admin_secret`` with each request)."""
        return f"http://{self.host}:{self.admin_port}/admin"

    def write_config(self) -> Path:
        lib = find_lib_dir()
        if lib is None:
            raise FileNotFoundError("Janus plugins (libjanus_videoroom.so) not found")
        cfg = self.workdir / "conf"
        plugins = self.workdir / "plugins"
        transports = self.workdir / "transports"
        for folder in (cfg, plugins, transports, self.workdir / "none"):
            folder.mkdir(parents=True, exist_ok=True)
        for folder, name in ((plugins, "libjanus_videoroom.so"), (transports, "libjanus_http.so")):
            link = folder / name
            if not link.exists():
                link.symlink_to((lib / folder.name / name).resolve())
        secret = f'\tapi_secret = "{self.api_secret}"\n' if self.api_secret else ""
        enforce = f'\tice_enforce_list = "{self.host}"\n' if self.host != "127.0.0.1" else ""
        (cfg / "janus.jcfg").write_text(
            "general: {\n"
            f'\tconfigs_folder = "{cfg}"\n'
            f'\tplugins_folder = "{plugins}"\n'
            f'\ttransports_folder = "{transports}"\n'
            f'\tevents_folder = "{self.workdir / "none"}"\n'
            f'\tloggers_folder = "{self.workdir / "none"}"\n'
            f"\tdebug_level = {self.debug_level}\n"
            f"\tsession_timeout = {self.session_timeout}\n"
            f"{secret}"
            f'\tadmin_secret = "{self.admin_secret}"\n'
            "}\n"
            "media: {\n"
            f'\trtp_port_range = "{self.rtp_ports[0]}-{self.rtp_ports[1]}"\n'
            "}\n"
            "nat: {\n"
            "\tfull_trickle = false\n"
            "\tice_lite = false\n"
            '\tice_ignore_list = "vmnet"\n'
            f"{enforce}"
            "}\n"
            "plugins: {\n}\ntransports: {\n}\nloggers: {\n}\nevents: {\n}\n"
        )
        (cfg / "janus.transport.http.jcfg").write_text(
            "general: {\n"
            '\tjson = "plain"\n'
            '\tbase_path = "/janus"\n'
            "\thttp = true\n"
            f"\tport = {self.http_port}\n"
            f'\tip = "{self.host}"\n'
            "\thttps = false\n"
            "}\n"
            "admin: {\n"
            '\tadmin_base_path = "/admin"\n'
            "\tadmin_http = true\n"
            f"\tadmin_port = {self.admin_port}\n"
            f'\tadmin_ip = "{self.host}"\n'
            "\tadmin_https = false\n"
            "}\n"
        )
        key = f'\tadmin_key = "{self.admin_key}"\n' if self.admin_key else ""
        (cfg / "janus.plugin.videoroom.jcfg").write_text("general: {\n" + key + "}\n")
        return cfg

    def start(self, timeout: float = 15.0) -> None:
        binary = find_janus()
        if binary is None:
            raise FileNotFoundError("janus is not installed")
        cfg = self.write_config()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*self.command_prefix, binary, "-F", str(cfg), "-o"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"janus exited ({self.process.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/info", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"janus did not answer on {self.url}; see {self.log_path}")
            time.sleep(0.05)  # start-up poll, not a synchronisation point for tests

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """SIGTERM (Janus hangs up its PeerConnections) or SIGKILL, then reap."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
