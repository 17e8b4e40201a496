#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// A WebSocket client built on Node's ws package, for wsc's listen-mode tests.
//
//   node ws_client.js URL [PLAN]
//
// PLAN (the argument, or standard input when it is absent) is JSON: {"protocols": [...], "deflate": true, "timeout": ms, "steps": [...]}
// with steps run in order:
//   {"text": "..."}         send a text message
//   {"binary": "hex"}       send a binary message
//   {"ping": "..."}         send a ping and wait for its pong
//   {"expect": N}           wait until N messages have arrived in all
//   {"sleep": MS}           wait MS milliseconds
//   {"close": [code, "reason"]}  close, then wait for the server's close
//   {"wait_close": true}    wait for the server to close
// Events go to stdout as JSON lines: open (protocol, extensions), message (type, data:
// text or hex), pong (data), close (code, reason, was_clean), error (message), done.
// The ws package is found in NODE_PATH or tests/node/node_modules.
'use strict';

const fs = require('fs');
const path = require('path');

function loadWs() {
    try {
        return require('ws');
    } catch (e) {
        return require(path.join(__dirname, '..', 'node', 'node_modules', 'ws'));
    }
}

const WebSocket = loadWs();
const [url, planText] = process.argv.slice(2);
const plan = JSON.parse(planText || fs.readFileSync(0, 'utf8') || '{}');

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

const timer = setTimeout(() => {
    emit({event: 'error', message: 'timeout'});
    process.exit(3);
}, plan.timeout || 10000);

const ws = new WebSocket(url, plan.protocols || [], {
    perMessageDeflate: plan.deflate !== false,
    handshakeTimeout: 5000,
});

const received = [];
const started = Date.now();
let waiter = null;   // resolves when a condition over the state becomes true
let closed = null;
let pongs = [];

function poke() {
    if (waiter && waiter.cond()) {
        const w = waiter;
        waiter = null;
        w.resolve();
    }
}

function until(cond) {
    return new Promise((resolve, reject) => {
        if (cond()) return resolve();
        if (closed) return reject(new Error('connection closed while waiting'));
        waiter = {cond, resolve, reject};
    });
}

ws.on('open', () => {
    emit({event: 'open', protocol: ws.protocol, extensions: ws.extensions});
    run().then(() => finish(0), (err) => {
        emit({event: 'error', message: String(err && err.message || err)});
        finish(1);
    });
});

ws.on('message', (data, isBinary) => {
    const m = isBinary ? {type: 'binary', data: Buffer.from(data).toString('hex')}
                       : {type: 'text', data: data.toString('utf8')};
    m.at = Date.now() - started;
    received.push(m);
    emit(Object.assign({event: 'message'}, m));
    poke();
});

ws.on('pong', (data) => {
    pongs.push(data.toString('utf8'));
    emit({event: 'pong', data: data.toString('utf8')});
    poke();
});

ws.on('close', (code, reason) => {
    closed = {code, reason: reason.toString('utf8')};
    emit({event: 'close', code, reason: closed.reason});
    if (waiter) {
        const w = waiter;
        waiter = null;
        if (w.cond()) w.resolve();
        else w.reject(new Error('connection closed while waiting'));
    }
});

ws.on('error', (err) => {
    emit({event: 'error', message: err.message});
    if (ws.readyState !== WebSocket.OPEN) finish(2);
});

async function run() {
    for (const step of plan.steps || []) {
        if ('text' in step) {
            ws.send(step.text);
        } else if ('binary' in step) {
            ws.send(Buffer.from(step.binary, 'hex'), {binary: true});
        } else if ('ping' in step) {
            const want = pongs.length + 1;
            ws.ping(step.ping);
            await until(() => pongs.length >= want);
        } else if ('sleep' in step) {
            await new Promise((resolve) => setTimeout(resolve, step.sleep));
        } else if ('expect' in step) {
            await until(() => received.length >= step.expect);
        } else if ('close' in step) {
            ws.close(step.close[0], step.close[1] || '');
            await until(() => closed !== null);
        } else if ('wait_close' in step) {
            await until(() => closed !== null);
        }
    }
}

function finish(status) {
    clearTimeout(timer);
    emit({event: 'done'});
    if (ws.readyState === WebSocket.OPEN) ws.terminate();
    process.stdout.write('', () => process.exit(status));
}
