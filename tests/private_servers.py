"""Broker servers of one test alone, on free ports, that keep nothing across a restart: a
``redis-server`` without persistence, and a RabbitMQ node whose data folder is emptied when it
is killed (a broker that lost its messages).

Outage tests stop, freeze (SIGSTOP) and restart them; the port is chosen once, so a restart
comes back at the same address.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from celery import current_app


def celery_point_at(broker_url: str, settings, monkeypatch) -> None:
    """Send this process's tasks, and those of the workers it starts, to ``broker_url``
    (pytest-django's ``settings`` and pytest's ``monkeypatch`` undo it after the test)."""
    # Celery reads its configuration from Django's settings on first use, and the broker URL
    # from the environment before its settings; its connection pools are made on first use:
    # point all of them at this broker. The setting is read, and patched, before Django's
    # settings and the environment change, so that the undo restores the shared broker's URL
    # (else a later test that makes new pools would send to this removed broker).
    monkeypatch.setattr(current_app.conf, "broker_url", broker_url)
    settings.CELERY_BROKER_URL = broker_url  # the workers' environment (tests.worker)
    monkeypatch.setenv("CELERY_BROKER_URL", broker_url)
    monkeypatch.setattr(current_app, "_pool", None)
    monkeypatch.setattr(current_app.amqp, "_producer_pool", None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateServer:
    """A server process (in its own process group) listening on ``self.port``."""

    start_timeout_s = 10.0

    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self) -> str:
        raise NotImplementedError

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        """The command line and its environment (None: this process's)."""
        raise NotImplementedError

    def start(self) -> None:
        command, environment = self.command()
        self.process = subprocess.Popen(
            command,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a wrapper script and its server get each signal
        )
        self.wait(up=True)

    def wait(self, *, up: bool) -> None:
        """Until the port accepts connections (`up`) or refuses them."""
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if (probe.connect_ex(("127.0.0.1", self.port)) == 0) == up:
                    return
            time.sleep(0.05)
        name = type(self).__name__
        raise RuntimeError(f"{name} on port {self.port} did not come {'up' if up else 'down'}")

    def _signal(self, number: int) -> None:
        os.killpg(self.process.pid, number)

    def freeze(self) -> None:
        """SIGSTOP: connections are accepted by the kernel, nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """Stop it for good (thawed first, so a frozen server dies too)."""
        if self.process and self.process.poll() is None:
            self.thaw()
            self._signal(signal.SIGKILL)
            self.process.wait()
        if self.process:
            self.wait(up=False)

    def remove(self) -> None:
        """Kill it and delete what it left on disk."""
        self.kill()


class PrivateRedis(PrivateServer):
    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def command(self) -> tuple[list[str], None]:
        return ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"], None


# Debian's script itself: /usr/sbin/rabbitmq-server would switch to the rabbitmq user, who
# cannot write in this process's temporary folder
SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


class PrivateRabbitMQ(PrivateServer):
    """A RabbitMQ node of its own name, ports, configuration and data folder (no plugins)."""

    start_timeout_s = 60.0  # the Erlang node takes several seconds to boot

    def __init__(self):
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="facesim-rabbitmq-"))
        self.node = f"facesim{self.port}@localhost"
        (self.folder / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.folder / "enabled_plugins").write_text("[].\n")

    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def command(self) -> tuple[list[str], dict[str, str]]:
        environment = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "data"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_PID_FILE": str(self.folder / "pid"),
        }
        return [SERVER], environment

    def kill(self) -> None:
        """Stop it, and forget every queue and message (as a Redis restart without persistence)."""
        super().kill()
        shutil.rmtree(self.folder / "data", ignore_errors=True)

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
