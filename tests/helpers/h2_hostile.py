#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""HTTP/2 servers that misbehave, for wsc's RFC 8441 client tests (python3-h2).

    h2_hostile.py MODE [--port N] [--log FILE]

Listens on 127.0.0.1 (cleartext, prior knowledge), prints "PORT <n>", and serves one
connection at a time. Each announces SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, answers the
first extended CONNECT with 200 and, first of all, sends the text message "before"
(so that a test can check that nothing already received is lost); then, by MODE:

  rst        half of a second message, then RST_STREAM INTERNAL_ERROR
  goaway     half of a second message, then GOAWAY ENHANCE_YOUR_CALM and our FIN (what
             the client still sends is read, so that no TCP reset hides the GOAWAY)
  window     SETTINGS_INITIAL_WINDOW_SIZE 0 from the start and never a WINDOW_UPDATE:
             the client can send nothing at all
  headers    instead of the 200: a 200 with 200 header fields of 200 bytes (40 KB)
  after-end  END_STREAM, then one more DATA frame on the ended stream (raw bytes)

--log FILE appends one JSON line per event: "request" (the header list), "data" (length
of what the client sent), "reset" and "closed".
"""

import argparse
import json
import socket
import struct
import sys

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings
except ImportError as exc:  # pragma: no cover
    sys.exit(f"h2_hostile.py: needs python3-h2: {exc}")

LOG = None


def log(**event):
    if LOG:
        LOG.write(json.dumps(event) + "\n")
        LOG.flush()


def text_frame(payload):
    """An unmasked, final text frame (a server's)."""
    assert len(payload) < 126
    return bytes([0x81, len(payload)]) + payload


def raw_frame(ftype, flags, stream_id, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream_id) + payload


def serve(conn_sock, mode):
    config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8",
                                       validate_outbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    settings = {h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1}
    if mode == "window":
        settings[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = 0
    conn.update_settings(settings)
    conn_sock.sendall(conn.data_to_send())
    stream = None
    while True:
        data = conn_sock.recv(65536)
        if not data:
            log(event="closed")
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived) and stream is None:
                stream = ev.stream_id
                log(event="request", headers=[[n, v] for n, v in ev.headers])
                act(conn, conn_sock, stream, mode)
            elif isinstance(ev, h2.events.DataReceived):
                log(event="data", length=len(ev.data))
                if mode != "window":
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                log(event="reset", code=int(ev.error_code))
        out = conn.data_to_send()
        if out:
            conn_sock.sendall(out)
        if mode == "goaway" and stream is not None:
            conn_sock.shutdown(socket.SHUT_WR)
            while conn_sock.recv(65536):
                pass
            log(event="closed")
            return


def act(conn, sock, stream, mode):
    if mode == "headers":
        fields = [(":status", "200")] + [(f"x-filler-{i}", "v" * 190) for i in range(200)]
        conn.send_headers(stream, fields)
        sock.sendall(conn.data_to_send())
        return
    conn.send_headers(stream, [(":status", "200")])
    conn.send_data(stream, text_frame(b"before"))
    half = bytes([0x81, 100]) + b"cut" * 10
    if mode == "rst":
        conn.send_data(stream, half)
        conn.reset_stream(stream, error_code=2)  # INTERNAL_ERROR
    elif mode == "goaway":
        conn.send_data(stream, half)
        conn.close_connection(error_code=11)  # ENHANCE_YOUR_CALM
    elif mode == "after-end":
        conn.send_data(stream, b"", end_stream=True)
        sock.sendall(conn.data_to_send())
        sock.sendall(raw_frame(0, 0, stream, text_frame(b"after")))
    sock.sendall(conn.data_to_send())


def main():
    global LOG
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["rst", "goaway", "window", "headers", "after-end"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log")
    args = p.parse_args()
    if args.log:
        LOG = open(args.log, "a")
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(8)
    print(f"PORT {srv.getsockname()[1]}", flush=True)
    while True:
        c, _ = srv.accept()
        try:
            serve(c, args.mode)
        except (OSError, h2.exceptions.ProtocolError) as exc:
            log(event="error", error=str(exc))
        finally:
            c.close()


if __name__ == "__main__":
    main()
