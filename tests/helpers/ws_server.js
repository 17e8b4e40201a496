#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// An echo server built on Node's ws package, for wsc's recording tests.
//
//   node ws_server.js
//
// Listens on 127.0.0.1 (a free port) and prints "PORT <n>". Every message is echoed
// with its type; pings are answered by ws itself; a close is answered with its code.
// The ws package is found in NODE_PATH or tests/node/node_modules.
'use strict';

const path = require('path');

function loadWs() {
    try {
        return require('ws');
    } catch (e) {
        return require(path.join(__dirname, '..', 'node', 'node_modules', 'ws'));
    }
}

const WebSocket = loadWs();
const server = new WebSocket.Server({host: '127.0.0.1', port: 0, maxPayload: 64 << 20});
server.on('listening', () => {
    process.stdout.write(`PORT ${server.address().port}\n`);
});
server.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, {binary: isBinary}));
});
