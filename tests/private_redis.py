"""A redis-server of one test alone, on a free port, without persistence (a restart empties it).

Outage tests stop, freeze (SIGSTOP) and restart it; the port is chosen once, so a restart comes
back at the same address.
"""

import signal
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        self.wait(up=True)

    def wait(self, *, up: bool) -> None:
        """Until the port accepts connections (`up`) or refuses them."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if (probe.connect_ex(("127.0.0.1", self.port)) == 0) == up:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis on port {self.port} did not come {'up' if up else 'down'}")

    def freeze(self) -> None:
        """SIGSTOP: connections are accepted by the kernel, nothing answers."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Stop it for good (thawed first, so a frozen server dies too)."""
        if self.process and self.process.poll() is None:
            self.thaw()
            self.process.kill()
            self.process.wait()
        if self.process:
            self.wait(up=False)
