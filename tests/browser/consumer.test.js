// tests/browser/consumer.test.js — the consumer page in a real browser.
//
// Debian's chromium, driven by playwright-core (never a downloaded browser),
// at a phone viewport. Opens the page for a genuine, a recalled, a claimed
// and an unregistered item and checks what a person reads; runs the "check
// it yourself" hash recomputation; submits an ownership claim through the
// form and sees the item become claimed; checks Chinese, no-JavaScript
// reading, labelled controls and that nothing loads from another origin.
// Screenshots go to tests/artifacts/. Item pages and the claim are opened on
// the resolver listener (RESOLVER_URL, default BASE_URL); one page and the
// QR code on the API port (BASE_URL).
//
//   node consumer.test.js BASE_URL ARTIFACT_DIR [RESOLVER_URL]
//
// Prints one line per check and "N passed, N failed"; exits 1 on failure.
'use strict';

const path = require('path');
const { chromium } = require('playwright-core');

const base = process.argv[2];
const artifacts = process.argv[3];
const resolver = process.argv[4] || base;
const gtin = '09520123456788';
const code = 'SCRATCH-7Q4M';
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.message ? e.message.split('\n')[0] : e}`);
  }
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

async function statusText(page) {
  return (await page.locator('[role=status] strong').first().innerText()).trim();
}

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  const ctx = await browser.newContext({ ...phone, locale: 'en-US' });
  const page = await ctx.newPage();
  const foreign = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(resolver) && !r.url().startsWith(base) && !r.url().startsWith('data:')) {
      foreign.push(r.url());
    }
  });
  const item = (serial) => `${resolver}/01/${gtin}/21/${serial}`;

  await check('genuine item reads "Genuine" with its history', async () => {
    const resp = await page.goto(item('GEN1'));
    expect(resp.status() === 200, `HTTP ${resp.status()}`);
    expect((await statusText(page)) === 'Genuine', `status "${await statusText(page)}"`);
    const timeline = await page.locator('ol.timeline').innerText();
    for (const w of ['Made', 'Packed', 'Shipped']) expect(timeline.includes(w), `timeline lacks ${w}`);
    expect((await page.locator('h2#product-h').innerText()).includes('Mulberry silk scarf'), 'product name');
    expect((await page.locator('#lookups').innerText()).includes('looked up'), 'lookup counter');
    await page.screenshot({ path: path.join(artifacts, 'genuine.png'), fullPage: true });
  });

  await check('check it yourself: every hash recomputed in the browser matches', async () => {
    await page.getByRole('button', { name: 'Recompute the hashes' }).click();
    await page.locator('#steps li', { hasText: 'all hashes match' }).waitFor({ timeout: 10000 });
    const bad = await page.locator('#steps li.bad').count();
    expect(bad === 0, `${bad} failed steps`);
    const steps = await page.locator('#steps li.ok').count();
    expect(steps >= 5, `only ${steps} steps`);
    await page.screenshot({ path: path.join(artifacts, 'genuine-checked.png'), fullPage: true });
  });

  await check('recalled item reads "Recalled" with the reason', async () => {
    await page.goto(item('REC1'));
    expect((await statusText(page)) === 'Recalled', `status "${await statusText(page)}"`);
    expect((await page.locator('[role=status]').innerText()).includes('Colour may run'), 'reason');
    expect((await page.locator('form').count()) === 0, 'no claim form on a recalled item');
    await page.screenshot({ path: path.join(artifacts, 'recalled.png'), fullPage: true });
  });

  await check('claimed item reads "Already claimed" with the date', async () => {
    await page.goto(item('CLM1'));
    const s = await statusText(page);
    expect(/^Already claimed \d{4}-\d\d-\d\d/.test(s), `status "${s}"`);
    await page.screenshot({ path: path.join(artifacts, 'claimed.png'), fullPage: true });
  });

  await check('unknown serial reads "Not registered" as a warning', async () => {
    const resp = await page.goto(item('FAKE0001'));
    expect(resp.status() === 404, `HTTP ${resp.status()}`);
    expect((await statusText(page)) === 'Not registered', `status "${await statusText(page)}"`);
    expect((await page.locator('[role=status]').innerText()).includes('likely not genuine'), 'warning');
    await page.screenshot({ path: path.join(artifacts, 'not-registered.png'), fullPage: true });
  });

  await check('a wrong hidden code is refused and claims nothing', async () => {
    await page.goto(item('GEN2'));
    await page.getByLabel('Hidden code').fill('WRONG-CODE');
    await page.getByRole('button', { name: 'Claim this item' }).click();
    await page.waitForLoadState();
    const said = await page.locator('[role=status]').innerText();
    expect(said.includes('refused') && said.includes('does not match'), `said "${said}"`);
    await page.goto(item('GEN2'));
    expect((await statusText(page)) === 'Genuine', 'GEN2 still genuine');
  });

  await check('a shopper claims an item with the hidden code', async () => {
    await page.goto(item('GEN2'));
    expect((await statusText(page)) === 'Genuine', 'GEN2 starts genuine');
    await page.getByLabel('Hidden code').fill(code);
    await page.screenshot({ path: path.join(artifacts, 'claim-form.png'), fullPage: true });
    await page.getByRole('button', { name: 'Claim this item' }).click();
    await page.waitForLoadState();
    expect((await page.locator('[role=status]').innerText()).includes('Claim submitted'), 'claim accepted');
    let s = '';
    for (let i = 0; i < 100; i++) {
      await page.goto(item('GEN2'));
      s = await statusText(page);
      if (s.startsWith('Already claimed')) break;
      await page.waitForTimeout(200);
    }
    expect(s.startsWith('Already claimed'), `after the claim: "${s}"`);
    await page.screenshot({ path: path.join(artifacts, 'claimed-by-form.png'), fullPage: true });
  });

  await check('GTIN-13 and a lot qualifier resolve to the same item', async () => {
    await page.goto(`${resolver}/01/9520123456788/10/L1/21/GEN1`);
    expect((await statusText(page)) === 'Genuine', `status "${await statusText(page)}"`);
  });

  await check('a GTIN with a wrong check digit is refused with a warning', async () => {
    const resp = await page.goto(`${resolver}/01/09520123456789/21/GEN1`);
    expect(resp.status() === 400, `HTTP ${resp.status()}`);
    expect((await statusText(page)) === 'Not a valid product code', `status "${await statusText(page)}"`);
    await page.screenshot({ path: path.join(artifacts, 'bad-code.png'), fullPage: true });
  });

  await check('the API port serves the same item page', async () => {
    const resp = await page.goto(`${base}/01/${gtin}/21/GEN1`);
    expect(resp.status() === 200, `HTTP ${resp.status()}`);
    expect((await statusText(page)) === 'Genuine', `status "${await statusText(page)}"`);
  });

  await check('the claim form posts back to the port that served the page', async () => {
    await page.goto(item('GEN1'));
    const action = await page.locator('form').first().evaluate((f) => f.action);
    expect(action.startsWith(resolver), `form action ${action}`);
  });

  await check('nothing was loaded from another origin', async () => {
    expect(foreign.length === 0, `loaded ${foreign.join(', ')}`);
  });

  const zh = await browser.newContext({ ...phone, locale: 'zh-CN', extraHTTPHeaders: { 'Accept-Language': 'zh-CN,zh;q=0.9' } });
  await check('Chinese by Accept-Language', async () => {
    const p = await zh.newPage();
    await p.goto(item('GEN1'));
    expect((await statusText(p)) === '正品', `status "${await statusText(p)}"`);
    expect((await p.locator('html').getAttribute('lang')) === 'zh-CN', 'html lang');
    await p.screenshot({ path: path.join(artifacts, 'genuine-zh.png'), fullPage: true });
  });

  const nojs = await browser.newContext({ ...phone, javaScriptEnabled: false });
  await check('readable without JavaScript', async () => {
    const p = await nojs.newPage();
    await p.goto(item('REC1'));
    expect((await statusText(p)) === 'Recalled', 'status without JS');
    await p.goto(item('GEN1'));
    expect((await p.locator('#proof').textContent()).includes('hallmark-proof-bundle'), 'bundle text');
  });

  await check('JSON with Accept: application/json carries data and proof', async () => {
    const r = await ctx.request.get(item('GEN1'), { headers: { Accept: 'application/json' } });
    expect(r.status() === 200, `HTTP ${r.status()}`);
    const j = await r.json();
    expect(j.status === 'genuine', `status ${j.status}`);
    expect(j.proof && j.proof.format === 'hallmark-proof-bundle', 'proof');
    expect((r.headers()['cache-control'] || '').includes('no-cache'), 'status is no-cache');
    expect(/^"[0-9a-f]{64}"$/.test(r.headers()['etag'] || ''), 'strong ETag');
  });

  await check('QR code of the item URI as SVG', async () => {
    const r = await ctx.request.get(`${base}/v1/items/${gtin}/GEN1/qr.svg`);
    expect(r.status() === 200, `HTTP ${r.status()}`);
    expect((r.headers()['content-type'] || '').startsWith('image/svg+xml'), 'content type');
    expect((await r.text()).includes(`/01/${gtin}/21/GEN1</title>`), 'URI in the title');
  });

  // The README's screenshot: the genuine page at a phone viewport.
  await page.goto(item('GEN1'));
  await page.screenshot({ path: path.join(artifacts, 'consumer-page.png') });
  await browser.close();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`FAIL browser: ${e && e.stack ? e.stack : e}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
