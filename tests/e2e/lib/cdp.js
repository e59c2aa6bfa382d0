// cdp.js — headless Chromium driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: the browser reads fd 3 and writes fd 4, each
// message JSON ended by a NUL byte), so no WebSocket client is needed
// (Debian 12's node 18 has none). No network: every host resolves to
// nothing and the proxy is a closed port. Used by page_load.js and
// page_layout.js:
//   const b = await require('./cdp').open(CHROMIUM, NAME);
//   await b.send(METHOD, PARAMS)   the page's answer (a protocol error
//                                  rejects, naming it)
//   await b.event(NAME)            the page's next event of that name
//   b.onEvent = (msg) => ...       sees every event first
//   b.close(CODE)                  kills the browser, removes its profile
//                                  and exits the process with CODE
// The browser is given 120 s in all; then NAME: timed out, exit 2.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

async function open(chrome, name) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), name + '.'));
    const proc = spawn(chrome, ['--headless', '--no-sandbox', '--disable-gpu',
        '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--user-data-dir=' + dir,
        '--host-resolver-rules=MAP * ~NOTFOUND', '--proxy-server=127.0.0.1:9',
        '--remote-debugging-pipe', '--window-size=1200,1600', 'about:blank'],
    { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
    let closing = false;
    const b = { onEvent: null };
    b.close = (code) => {
        closing = true;
        proc.kill('SIGKILL');
        try { fs.rmSync(dir, { recursive: true, force: true }); } catch (e) { /* the browser still writing */ }
        process.exit(code);
    };
    setTimeout(() => { console.error(name + ': timed out'); b.close(2); }, 120000);
    proc.on('exit', (code, sig) => {
        if (closing) return;
        console.error(`${name}: the browser exited (${sig || code}) before the end`);
        b.close(2);
    });
    proc.on('error', (e) => { console.error(`${name}: ${chrome}: ${e.message}`); b.close(2); });

    let id = 0;
    const pending = new Map();
    const waiters = [];
    const dispatch = (msg) => {
        if (msg.id !== undefined) {
            const p = pending.get(msg.id);
            if (!p) return;
            pending.delete(msg.id);
            if (msg.error) p.rej(new Error(`${p.method}: ${msg.error.message}`));
            else p.res(msg.result);
        } else if (msg.method) {
            if (b.onEvent) b.onEvent(msg);
            for (const w of waiters.splice(0)) w(msg);
        }
    };
    let buf = Buffer.alloc(0);
    proc.stdio[4].on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        for (let at = buf.indexOf(0); at >= 0; at = buf.indexOf(0)) {
            dispatch(JSON.parse(buf.subarray(0, at).toString('utf8')));
            buf = buf.subarray(at + 1);
        }
    });
    const raw = (method, params, sessionId) => new Promise((res, rej) => {
        const m = { id: ++id, method, params };
        if (sessionId) m.sessionId = sessionId;
        pending.set(m.id, { res, rej, method });
        proc.stdio[3].write(JSON.stringify(m) + '\0');
    });

    const { targetInfos } = await raw('Target.getTargets', {});
    let page = targetInfos.find((t) => t.type === 'page');
    const targetId = page ? page.targetId
        : (await raw('Target.createTarget', { url: 'about:blank' })).targetId;
    const { sessionId } = await raw('Target.attachToTarget',
        { targetId, flatten: true });
    b.send = (method, params = {}) => raw(method, params, sessionId);
    b.event = (want) => new Promise((r) => {
        const check = (msg) => (msg.method === want && msg.sessionId === sessionId
            ? r(msg) : waiters.push(check));
        waiters.push(check);
    });
    return b;
}

module.exports = { open };
