// page_load.js — how long headless Chromium takes to load and render a
// page, measured inside the browser, not counting its start-up:
//   node page_load.js CHROMIUM FILE [RUNS]
// prints one line per run: "load_ms=N paint_ms=N nodes=N errors=N", where
// load_ms is navigation start to the end of the load event (parse,
// style, layout), paint_ms the first contentful paint, nodes the DOM's
// elements, errors the console errors and blocked loads seen. Chromium
// runs as cdp.js runs it: the network disabled, the DevTools protocol on
// a pipe.
'use strict';
const path = require('path');
const cdp = require('./cdp');

const [chrome, file, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 1);

async function main() {
    const b = await cdp.open(chrome, 'page_load');
    const send = b.send;
    let errors = 0;
    b.onEvent = (msg) => {
        if (msg.method === 'Log.entryAdded' &&
            msg.params.entry.level === 'error') errors++;
        if (msg.method === 'Runtime.consoleAPICalled' &&
            msg.params.type === 'error') errors++;
        if (msg.method === 'Runtime.exceptionThrown') errors++;
    };
    await send('Page.enable');
    await send('Log.enable');
    await send('Runtime.enable');
    for (let i = 0; i < runs; i++) {
        const loaded = b.event('Page.loadEventFired');
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
        const [load, paint, nodes] = r.result.value;
        console.log(`load_ms=${Math.round(load)} paint_ms=${Math.round(paint)} ` +
            `nodes=${nodes} errors=${errors}`);
    }
    b.close(0);
}
main().catch((e) => { console.error('page_load: ' + e.message); process.exit(2); });
