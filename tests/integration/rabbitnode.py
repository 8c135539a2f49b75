"""A throw-away RabbitMQ node of a test's own, for tests that stop and restart the broker.

The machine's shared RabbitMQ (rabbit@localhost, AMQP 5672, distribution 25672) must never be
stopped or restarted by a test. `RabbitNode` starts a separate `rabbitmq-server` instead:

- its own node name (gitbeat-test-<random>@localhost), AMQP port and Erlang distribution port,
  both free ports on 127.0.0.1 chosen at start;
- its own database, logs, pid file, config file, (empty) environment file and (empty) enabled-plugins
  file, all under one directory given by the caller; no plugins, so no management or Prometheus ports;
- its own Erlang cookie: HOME points at a directory under that one, holding a fresh .erlang.cookie,
  for the server and for every `rabbitmqctl` run here. So `rabbitmqctl` here only ever talks to this
  node (always with `-n`), and could not even authenticate to the shared node by mistake.

It shares only epmd (the Erlang port mapper on 4369), which only maps names to ports.

On Debian/Ubuntu the `rabbitmq-server`/`rabbitmqctl` on PATH are wrappers that, for root, `su` to the
rabbitmq user (resetting HOME, hence the cookie); the real scripts in /usr/lib/rabbitmq/bin are used
instead when they exist. /etc/rabbitmq/rabbitmq-env.conf (which names the shared node) is replaced by
an empty file through RABBITMQ_CONF_ENV_FILE, and inherited RABBITMQ_* variables are dropped.

Typical use (see the `rabbit_node` fixture in conftest.py)::

    node = RabbitNode(tmp_path / "rabbit")
    node.start()
    node.wait_ready()
    ...  # connect to node.url
    node.stop_app(); node.start_app()  # a broker restart: clients are disconnected, durable state stays
    node.stop()
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import uuid
from pathlib import Path

from kombu.connection import Connection

DEBIAN_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
# Ports a node must not take: the shared node's AMQP and distribution ports, epmd, and the range
# rabbitmqctl itself listens on while it runs (RABBITMQ_CTL_DIST_PORT_MIN/MAX defaults).
RESERVED_PORTS = frozenset({4369, 5672, 25672, *range(35672, 35683)})


def rabbitmq_scripts() -> Path | None:
    """The directory with the real `rabbitmq-server` and `rabbitmqctl` scripts, or None if not installed."""
    if (DEBIAN_SCRIPTS / "rabbitmq-server").is_file():
        return DEBIAN_SCRIPTS
    found = shutil.which("rabbitmq-server")
    return Path(found).resolve().parent if found else None


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 right now (held together while choosing, so distinct)."""
    sockets: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            if port not in RESERVED_PORTS:
                ports.append(port)
    finally:
        for sock in sockets:
            sock.close()
    return ports


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the test process dies, even by SIGKILL (Linux only).

    rabbitmq-server's shell traps SIGTERM and stops the Erlang VM, so a killed pytest leaves no node behind.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class RabbitNode:
    """One RabbitMQ node with all its files under `base`; see the module docstring."""

    def __init__(self, base: Path, scripts: Path | None = None) -> None:
        found = scripts or rabbitmq_scripts()
        if found is None:
            raise FileNotFoundError("rabbitmq-server is not installed")
        self.scripts = found
        self.base = base
        self.nodename = f"gitbeat-test-{uuid.uuid4().hex[:10]}@localhost"
        self.port, self.dist_port = _free_ports(2)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def output(self) -> Path:
        """The server's stdout and stderr: the banner, early errors and a copy of the log."""
        return self.base / "server.out"

    @property
    def log(self) -> Path:
        return self.base / "log" / f"{self.nodename}.log"

    @property
    def environment(self) -> dict[str, str]:
        """The environment of the server and of rabbitmqctl: both must agree on HOME (the cookie)."""
        environment = {name: value for name, value in os.environ.items() if not name.startswith("RABBITMQ_")}
        environment.update(
            HOME=str(self.base / "home"),
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_CONF_ENV_FILE=str(self.base / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(self.base / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.base / "advanced.config"),  # never created
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(self.base / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.base / "log"),
            RABBITMQ_PID_FILE=str(self.base / "rabbitmq.pid"),
            # The distribution port on loopback only, as the shared node's rabbitmq-env.conf does.
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            ERL_EPMD_ADDRESS="127.0.0.1",  # used only if this node has to start epmd itself
        )
        return environment

    def _write_files(self) -> None:
        home = self.base / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(20)))
            cookie.chmod(0o400)  # Erlang refuses a cookie file others can read
        (self.base / "rabbitmq-env.conf").write_text("")
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            "disk_free_limit.absolute = 1MB\n"  # a nearly full CI disk must not block publishers
        )

    def start(self) -> None:
        """Launch `rabbitmq-server` in the background (in its own session); `wait_ready` waits for it."""
        if self.process is not None:
            raise RuntimeError(f"{self.nodename} was already started")
        self._write_files()
        with self.output.open("ab") as output:
            self.process = subprocess.Popen(
                [str(self.scripts / "rabbitmq-server")],
                cwd=self.base,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # no Ctrl-C from the terminal; the test's cleanup stops it
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    def ctl(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `rabbitmqctl -n NODE ARGS` against this node (never any other)."""
        return subprocess.run(
            [str(self.scripts / "rabbitmqctl"), "-n", self.nodename, *args],
            env=self.environment,
            cwd=self.base,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def accepts_amqp(self) -> bool:
        """Whether an AMQP connection (handshake and login as guest) to this node works right now."""
        try:
            with Connection(self.url, connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=0)  # 0: one attempt, no sleep before a retry
        except Exception:  # refused, reset, closed during start: all mean "not yet"
            return False
        return True

    def _tail(self, lines: int = 40) -> str:
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the node accepts AMQP connections; fail early, with its output, if it exits."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None:
                raise RuntimeError(f"{self.nodename} was not started")
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.nodename} exited with {self.process.returncode}:\n{self._tail()}")
            if self.accepts_amqp():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.nodename} not ready on port {self.port} after {timeout}s:\n{self._tail()}")
            time.sleep(0.2)

    def stop_app(self) -> None:
        """Stop the RabbitMQ application, keeping the Erlang VM: listeners close, clients are disconnected."""
        self.ctl("stop_app")

    def start_app(self, timeout: float = 60) -> None:
        """Start the RabbitMQ application again (recovering durable queues); return once AMQP works."""
        self.ctl("start_app", timeout=timeout)
        self.wait_ready(timeout)

    def stop(self, timeout: float = 60) -> None:
        """Stop the node and make sure none of its processes is left; safe to call more than once."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            self.ctl("stop", timeout=timeout, check=False)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                # Not yet reaped, so the group id is still this node's: signal its whole group.
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout)
        # The shell waits for the VM, so its exit means the VM is gone, unless the shell itself was killed.
        self._kill_leftover_vm()

    def _kill_leftover_vm(self) -> None:
        try:
            pid = int((self.base / "rabbitmq.pid").read_text().strip())
            environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return  # no pid file, or no such process
        # The VM's command line does not name the node (3.10 starts distribution at runtime); its environment does.
        if f"RABBITMQ_NODENAME={self.nodename}".encode() in environment:  # still this node's VM, not a reused pid
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
