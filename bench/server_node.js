#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The Node ws servers of bench/scale.py, on Node's ws package.
//
//   node server_node.js [PORT]              an echo server
//   node server_node.js --fanout [PORT]     a broadcast server: stdin's lines to all
//
// Listens on 127.0.0.1 (port 0: any) and prints "PORT n" on stdout. The echo server
// answers every message with the same message (same type) until it is killed. The
// broadcast server sends every line of stdin as a text message to every open client,
// as `wsc -l PORT` does; each line becomes a Buffer once, not once per client. No
// backpressure there: what a client does not take waits in its ws send queue
// (bufferedAmount), without bound. No compression in either. The ws package is found
// in NODE_PATH or tests/node/node_modules.
'use strict';

const path = require('path');
const readline = require('readline');
let WebSocket;
try {
    WebSocket = require('ws');
} catch (e) {
    WebSocket = require(path.join(__dirname, '..', 'tests', 'node', 'node_modules', 'ws'));
}

const args = process.argv.slice(2);
const isFanout = args[0] === '--fanout';
if (isFanout)
    args.shift();

const wss = new WebSocket.WebSocketServer({
    host: '127.0.0.1', port: Number(args[0] || 0), perMessageDeflate: false,
    backlog: 4096, maxPayload: 0,
});
wss.on('listening', () => console.log(`PORT ${wss.address().port}`));
wss.on('connection', (ws) => {
    ws.on('error', () => {});
    if (!isFanout)
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
if (isFanout) {
    readline.createInterface({ input: process.stdin, crlfDelay: Infinity }).on('line', (line) => {
        const data = Buffer.from(line);
        for (const ws of wss.clients)
            if (ws.readyState === WebSocket.OPEN)
                ws.send(data, { binary: false });
    });
}
