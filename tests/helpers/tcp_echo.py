# SPDX-License-Identifier: MIT
"""A TCP echo service in threads of the test's own process, for the bridge tests:
what a client sends comes back as it arrives, however the reads split it.

    echo = TcpEcho()            # closes a connection at the client's FIN
    echo = TcpEcho(limit=N)     # closes it itself once N bytes went back
    echo.port, echo.counts      # bytes echoed by each finished connection
"""

import socket
import threading


class TcpEcho:
    def __init__(self, limit=0):
        self.limit = limit
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.counts = []
        self.accepted = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        total = 0
        with c:
            while not self.limit or total < self.limit:
                try:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    c.sendall(chunk)
                except OSError:
                    break
                total += len(chunk)
        with self._lock:
            self.counts.append(total)

    def kill(self):
        """Stops accepting (the name wsctest.track calls at the end of a test)."""
        self.sock.close()
