#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A WebSocket client over HTTP/2 (RFC 8441) on python3-h2, for wsc's listen mode.

    h2_ws_client.py PORT STREAMS [--tls CAFILE] [--path P] [--origin O] [--one-by-one]

One HTTP/2 connection (h2c with prior knowledge, or TLS with ALPN h2), then STREAMS
extended CONNECTs on it, each a WebSocket. On every open stream it sends a text message
"stream K" and a binary message of 100,000 bytes, reads their echoes, then closes with
4000 + K and reads the close reply. Prints one JSON object: the server's SETTINGS, each
stream's :status, echoed messages (text as is, binary as sha256 and length), close code
received, and whether the server ended the stream. Exits 0 when it ran to the end.

--one-by-one opens each stream only when the server has ended the one before, and never
sends END_STREAM itself, as a proxy that keeps its side of every tunnel open might: the
server must then release the client's side of old streams (RST_STREAM NO_ERROR), or
its SETTINGS_MAX_CONCURRENT_STREAMS would stop the run.
"""

import hashlib
import json
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.settings  # noqa: E402
import wsframe  # noqa: E402


def main():
    args = sys.argv[1:]
    port, count = int(args[0]), int(args[1])
    tls_ca = args[args.index("--tls") + 1] if "--tls" in args else None
    path = args[args.index("--path") + 1] if "--path" in args else "/"
    origin = args[args.index("--origin") + 1] if "--origin" in args else None
    one_by_one = "--one-by-one" in args
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls_ca:
        ctx = ssl.create_default_context(cafile=tls_ca)
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
        if sock.selected_alpn_protocol() != "h2":
            print(json.dumps({"error": "ALPN did not choose h2"}))
            return 1
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    result = {"settings": {}, "streams": {}}
    streams = {}  # id -> state
    bufs = {}

    def pump(until):
        while not until():
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            for ev in conn.receive_data(data):
                handle(ev)
            out = conn.data_to_send()
            if out:
                sock.sendall(out)

    def handle(ev):
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            for k, v in ev.changed_settings.items():
                result["settings"][str(int(k))] = v.new_value
        elif isinstance(ev, h2.events.ResponseReceived):
            st = streams[ev.stream_id]
            st["status"] = dict(ev.headers).get(b":status", b"").decode()
            st["headers"] = {k.decode(): v.decode() for k, v in ev.headers}
        elif isinstance(ev, h2.events.DataReceived):
            bufs[ev.stream_id] += ev.data
            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            while True:
                frame, used = wsframe.parse(bufs[ev.stream_id])
                if not frame:
                    break
                del bufs[ev.stream_id][:used]
                st = streams[ev.stream_id]
                if frame.opcode == wsframe.OP_CLOSE:
                    st["close"] = frame.close_code()
                elif frame.opcode == wsframe.OP_TEXT:
                    st["messages"].append(frame.payload.decode())
                elif frame.opcode == wsframe.OP_BINARY:
                    st["messages"].append({"len": len(frame.payload),
                                           "sha256": hashlib.sha256(frame.payload).hexdigest()})
        elif isinstance(ev, h2.events.StreamEnded):
            streams[ev.stream_id]["ended"] = True
        elif isinstance(ev, h2.events.StreamReset):
            streams[ev.stream_id]["reset"] = ev.error_code

    # RFC 8441 3: extended CONNECT only once the server's SETTINGS allow it.
    pump(lambda: "8" in result["settings"])

    def open_stream(k):
        sid = conn.get_next_available_stream_id()
        headers = [(":method", "CONNECT"), (":protocol", "websocket"),
                   (":scheme", "https" if tls_ca else "http"), (":path", path),
                   (":authority", f"127.0.0.1:{port}"), ("sec-websocket-version", "13")]
        if origin:
            headers.append(("origin", origin))
        conn.send_headers(sid, headers)
        streams[sid] = {"k": k, "messages": [], "close": None, "ended": False}
        bufs[sid] = bytearray()
        return sid

    blob = bytes(range(256)) * 390 + b"end"

    def send(sid, data):
        size = conn.max_outbound_frame_size
        for i in range(0, len(data), size):
            pump(lambda: conn.local_flow_control_window(sid) >= min(size, len(data) - i))
            conn.send_data(sid, data[i:i + size])
            sock.sendall(conn.data_to_send())

    def exchange(sid, st):
        k = st["k"]
        send(sid, wsframe.encode(wsframe.OP_TEXT, f"stream {k}", mask=True))
        send(sid, wsframe.encode(wsframe.OP_BINARY, blob[:65000], mask=True))
        pump(lambda: len(st["messages"]) >= 2)
        send(sid, wsframe.encode(wsframe.OP_CLOSE, wsframe.close_payload(4000 + k), mask=True))
        pump(lambda: st["close"] is not None)

    if one_by_one:
        for k in range(count):
            sid = open_stream(k)
            sock.sendall(conn.data_to_send())
            st = streams[sid]
            pump(lambda: "status" in st or "reset" in st)
            if st.get("status") == "200":
                exchange(sid, st)
            pump(lambda: st["ended"] or "reset" in st)  # the server ends its side
    else:
        for k in range(count):
            open_stream(k)
        sock.sendall(conn.data_to_send())
        pump(lambda: all("status" in s or "reset" in s for s in streams.values()))
        for sid, st in streams.items():
            if st.get("status") == "200":
                exchange(sid, st)
    pump(lambda: all(s.get("ended") or "reset" in s or s.get("status") != "200"
                     for s in streams.values()))
    result["blob"] = {"len": 65000, "sha256": hashlib.sha256(blob[:65000]).hexdigest()}
    result["streams"] = {str(sid): st for sid, st in streams.items()}
    print(json.dumps(result))
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
