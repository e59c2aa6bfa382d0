// page_layout.js — where headless Chromium lays out the words of a page:
//   node page_layout.js CHROMIUM FILE WORD...
// prints, for each WORD, one line "WORD rects=N width=W height=H": the
// boxes an occurrence of WORD in the page's text takes, the one in most
// boxes (a word laid out on one line is one box wider than tall; a word
// squeezed into a column of letters is several), or "WORD missing".
// Chromium runs as cdp.js runs it (no network, the DevTools protocol on
// a pipe), at 1200 by 1600.
'use strict';
const path = require('path');
const cdp = require('./cdp');

const [chrome, file, ...words] = process.argv.slice(2);

async function main() {
    const b = await cdp.open(chrome, 'page_layout');
    const send = b.send;
    await send('Page.enable');
    const loaded = b.event('Page.loadEventFired');
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
        const v = r.result.value;
        console.log(v ? `${w} rects=${v[0]} width=${v[1]} height=${v[2]}`
            : `${w} missing`);
    }
    b.close(0);
}
main().catch((e) => { console.error('page_layout: ' + e.message); process.exit(2); });
