// page_layout.js — where headless Chromium lays out the words of a page:
//   node --experimental-websocket page_layout.js CHROMIUM FILE WORD...
// prints, for each WORD, one line "WORD rects=N width=W height=H": the
// boxes an occurrence of WORD in the page's text takes, the one in most
// boxes (a word laid out on one line is one box wider than tall; a word
// squeezed into a column of letters is several), or "WORD missing". Chromium runs as
// page_load.js runs it (no network, the DevTools protocol on a port it
// picks), at 1200 by 1600.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [chrome, file, ...words] = process.argv.slice(2);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'page_layout.'));
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
setTimeout(() => { console.error('page_layout: timed out'); done(2); }, 120000);

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
    ws.onmessage = (m) => {
        const msg = JSON.parse(m.data);
        if (msg.id && pending.has(msg.id)) {
            pending.get(msg.id)(msg);
            pending.delete(msg.id);
        } else if (msg.method) {
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
    const loaded = event('Page.loadEventFired');
    await send('Page.navigate', { url: 'file://' + path.resolve(file) });
    await loaded;
    for (const w of words) {
        const r = await send('Runtime.evaluate', {
            returnByValue: true, expression: `((w) => {
            const it = document.createTreeWalker(document.body,
                NodeFilter.SHOW_TEXT);
            let worst = null;
            for (let n = it.nextNode(); n; n = it.nextNode()) {
                for (let at = n.data.indexOf(w); at >= 0;
                     at = n.data.indexOf(w, at + 1)) {
                    const g = document.createRange();
                    g.setStart(n, at);
                    g.setEnd(n, at + w.length);
                    const rs = [...g.getClientRects()].filter((x) => x.width > 0);
                    const b = g.getBoundingClientRect();
                    const v = [rs.length, Math.round(b.width), Math.round(b.height)];
                    if (!worst || v[0] > worst[0]) worst = v;
                }
            }
            return worst;
        })(${JSON.stringify(w)})` });
        const v = r.result.result.value;
        console.log(v ? `${w} rects=${v[0]} width=${v[1]} height=${v[2]}`
            : `${w} missing`);
    }
    ws.close();
    done(0);
}
main().catch((e) => { console.error('page_layout: ' + e.message); done(2); });
