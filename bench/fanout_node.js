#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// A WebSocket broadcast server on Node's ws package, for bench/scale.py --fanout.
//
//   node fanout_node.js [PORT] < lines
//
// Listens on 127.0.0.1 (port 0: any), prints "PORT n" on stdout, and sends every line
// of stdin as a text message to every open client, as `wsc -l PORT` does. Each line is
// turned into a Buffer once, not once per client. No backpressure: what a client does
// not take waits in its ws send queue (bufferedAmount), without bound. No compression.
'use strict';

const path = require('path');
const readline = require('readline');
let WebSocket;
try {
    WebSocket = require('ws');
} catch (e) {
    WebSocket = require(path.join(__dirname, '..', 'tests', 'node', 'node_modules', 'ws'));
}

const wss = new WebSocket.WebSocketServer({
    host: '127.0.0.1', port: Number(process.argv[2] || 0), perMessageDeflate: false,
    backlog: 4096, maxPayload: 0,
});
wss.on('listening', () => console.log(`PORT ${wss.address().port}`));
wss.on('connection', (ws) => ws.on('error', () => {}));
readline.createInterface({ input: process.stdin, crlfDelay: Infinity }).on('line', (line) => {
    const data = Buffer.from(line);
    for (const ws of wss.clients)
        if (ws.readyState === WebSocket.OPEN)
            ws.send(data, { binary: false });
});
