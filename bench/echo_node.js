#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// A WebSocket echo server on Node's ws package, for bench/scale.py.
//
//   node echo_node.js [PORT]
//
// Listens on 127.0.0.1 (port 0: any), prints "PORT n" on stdout, and answers every
// message with the same message (same type) until it is killed. No compression.
// The ws package is found in NODE_PATH or tests/node/node_modules.
'use strict';

const path = require('path');
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
wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
});
