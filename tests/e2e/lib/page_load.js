// page_load.js — how long headless Chromium takes to load and render a
// page, measured inside the browser, not counting its start-up:
//   node --experimental-websocket page_load.js CHROMIUM FILE [RUNS]
// prints one line per run: "load_ms=N paint_ms=N nodes=N errors=N", where
// load_ms is navigation start to the end of the load event (parse,
// style, layout), paint_ms the first contentful paint, nodes the DOM's
// elements, errors the console errors and blocked loads seen. Chromium
// runs with the network disabled; the DevTools protocol is reached on a
// port the browser picks (DevToolsActivePort in its profile directory).
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [chrome, file, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 1);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'page_load.'));
const proc = spawn(chrome, ['--headless', '--no-sandbox', '--disable-gpu',
    '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--user-data-dir=' + dir,
    '--host-resolver-rules=MAP * ~NOTFOUND', '--proxy-server=127.0.0.1:9',
    '--remote-debugging-port=0', '--window-size=1200,1600', 'about:blank'],
    { stdio: 'ignore' });
const done = (code) => {
    proc.kill('SIGKILL');
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch (e) { /* the browser still writing */ }
    process.exit(code);
};
setTimeout(() => { console.error('page_load: timed out'); done(2); }, 120000);

async function port() {
    for (let i = 0; i < 300; i++) {
        try {
            const l = fs.readFileSync(path.join(dir, 'DevToolsActivePort'),
                'utf8').split('\n');
            if (l[0]) return l[0];
        } catch (e) { /* not yet */ }
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no DevToolsActivePort');
}

async function main() {
    const p = await port();
    const targets = await (await fetch(`http://127.0.0.1:${p}/json/list`)).json();
    const page = targets.find((t) => t.type === 'page');
    const ws = new WebSocket(page.webSocketDebuggerUrl);
    let id = 0;
    const pending = new Map();
    const waiters = [];
    let errors = 0;
    ws.onmessage = (m) => {
        const msg = JSON.parse(m.data);
        if (msg.id && pending.has(msg.id)) {
            pending.get(msg.id)(msg);
            pending.delete(msg.id);
        } else if (msg.method) {
            if (msg.method === 'Log.entryAdded' &&
                msg.params.entry.level === 'error') errors++;
            if (msg.method === 'Runtime.consoleAPICalled' &&
                msg.params.type === 'error') errors++;
            if (msg.method === 'Runtime.exceptionThrown') errors++;
            for (const w of waiters.splice(0)) w(msg);
        }
    };
    await new Promise((r) => { ws.onopen = r; });
    const send = (method, params = {}) => new Promise((r) => {
        pending.set(++id, r);
        ws.send(JSON.stringify({ id, method, params }));
    });
    const event = (name) => new Promise((r) => {
        const check = (msg) => (msg.method === name ? r(msg)
            : waiters.push(check));
        waiters.push(check);
    });
    await send('Page.enable');
    await send('Log.enable');
    await send('Runtime.enable');
    for (let i = 0; i < runs; i++) {
        const loaded = event('Page.loadEventFired');
        await send('Page.navigate', { url: 'file://' + path.resolve(file) });
        await loaded;
        const r = await send('Runtime.evaluate', {
            returnByValue: true, expression: `(() => {
            const n = performance.getEntriesByType('navigation')[0];
            const p = performance.getEntriesByName('first-contentful-paint')[0];
            document.body.getBoundingClientRect();
            return [n.loadEventEnd, p ? p.startTime : -1,
                    document.getElementsByTagName('*').length];
        })()` });
        const [load, paint, nodes] = r.result.result.value;
        console.log(`load_ms=${Math.round(load)} paint_ms=${Math.round(paint)} ` +
            `nodes=${nodes} errors=${errors}`);
    }
    ws.close();
    done(0);
}
main().catch((e) => { console.error('page_load: ' + e.message); done(2); });
