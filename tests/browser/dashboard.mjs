// The dashboard in a real browser: Debian's headless Chromium, driven by playwright-core,
// against a running `meridian demo`. Run by tests/browser.sh, which starts the demo.
//
// It opens the page without a token (read-only), sees three healthy regions on the cards and
// the map, checks that hostile input is shown as text, fails one region through the demo's
// chaos control and waits for the page to show it down without a reload, saves screenshots
// (desktop, phone, dark) and brings the region back.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const url = process.env.DASHBOARD_URL;
const artifacts = process.env.ARTIFACTS || 'artifacts/browser';
const failRegion = process.env.FAIL_REGION || 'eu-west';
if (!url) throw new Error('DASHBOARD_URL is not set');
mkdirSync(artifacts, { recursive: true });

let passed = 0;
let failed = 0;
async function check(name, body) {
  const started = Date.now();
  try {
    const detail = await body();
    passed += 1;
    console.log(`ok   ${name}${detail ? ' — ' + detail : ''} (${Date.now() - started} ms)`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${String(error.message || error).split('\n')[0]}`);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  timeout: 30000,
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });

  await check('the page loads from the status listener', async () => {
    const response = await page.goto(url, { waitUntil: 'load', timeout: 15000 });
    if (!response || response.status() !== 200) throw new Error(`status ${response && response.status()}`);
    return `${await page.title()}`;
  });

  await check('the live stream connects', async () => {
    await page.waitForSelector('#live[data-state="live"]', { timeout: 10000 });
  });

  await check('three healthy regions on the cards and the map', async () => {
    await page.waitForFunction(
      () => document.querySelectorAll('.card[data-verdict="up"]').length === 3
        && document.querySelectorAll('#markers .marker[data-verdict="up"]').length === 3,
      null, { timeout: 20000 });
    const names = await page.$$eval('.card', (cards) => cards.map((c) => c.dataset.region));
    return names.join(', ');
  });

  await check('the world map is drawn with probe paths', async () => {
    // Each node's votes arrive with its answers to the others' probes: wait for all six.
    await page.waitForFunction(() => document.querySelectorAll('#paths .probe.up').length === 6,
      null, { timeout: 10000 }).catch(() => {});
    const land = await page.$$eval('#land path', (paths) => paths.length);
    const probes = await page.$$eval('#paths .probe.up', (paths) => paths.length);
    if (land < 1) throw new Error('no land outline');
    if (probes !== 6) throw new Error(`${probes} healthy probe paths, expected 6 between three regions`);
    return `${land} land path(s), ${probes} probe paths up`;
  });

  await check('without a token the page is read-only', async () => {
    const mode = await page.textContent('#mode');
    const enabled = await page.$$eval('button[data-action]', (buttons) => buttons.filter((b) => !b.disabled).length);
    const total = await page.$$eval('button[data-action]', (buttons) => buttons.length);
    if (mode.trim() !== 'Read-only') throw new Error(`mode says ${mode}`);
    if (total === 0) throw new Error('no admin buttons at all');
    if (enabled !== 0) throw new Error(`${enabled} of ${total} admin buttons enabled`);
    return `${total} admin buttons disabled`;
  });

  await check('DNS queries and backend requests per second are shown live', async () => {
    // tests/browser.sh sends a few queries and requests a second while the page is open.
    await page.waitForFunction(() => Number(document.querySelector('#dns-qps')?.textContent) > 0,
      null, { timeout: 10000 });
    await page.waitForFunction(
      () => [...document.querySelectorAll('.card[data-region="us-east"] tr[data-backend] td:nth-child(4)')]
        .some((cell) => Number(cell.textContent) > 0),
      null, { timeout: 10000 });
    const qps = await page.textContent('#dns-qps');
    const regions = await page.$$eval('#dns .bars > span:first-child', (spans) => spans.length);
    return `${qps} queries/s on the page`;
  });

  await check('hostile input is shown as text, never as markup', async () => {
    const hostile = '<img src=x id=pwned onerror="window.pwned=1">.gtm.test';
    await page.fill('#explain-name', hostile);
    await page.fill('#explain-client', '81.2.69.142');
    await page.click('#explain-form button[type=submit]');
    await page.waitForFunction(() => {
      const out = document.querySelector('#explain-out');
      return out && !out.hidden && out.textContent !== 'Asking…';
    }, null, { timeout: 5000 });
    const injected = await page.evaluate(() => Boolean(document.getElementById('pwned') || window.pwned));
    const text = await page.textContent('#explain-out');
    if (injected) throw new Error('the hostile name became an element');
    if (!text.includes('<img')) throw new Error(`the name is not shown as text: ${text}`);
    return 'shown as text';
  });

  await check('why this answer shows the explain report', async () => {
    await page.fill('#explain-name', 'www.gtm.test');
    await page.fill('#explain-client', '81.2.69.0/24');
    await page.click('#explain-form button[type=submit]');
    await page.waitForFunction(
      () => /region|chosen|answer/i.test(document.querySelector('#explain-out').textContent)
        && document.querySelector('#explain-out').textContent !== 'Asking…',
      null, { timeout: 5000 });
    return (await page.textContent('#explain-out')).split('\n')[0];
  });

  await check('the demo shows its chaos controls', async () => {
    await page.waitForSelector(`#demo:not([hidden]) button[data-chaos="fail"][data-region="${failRegion}"]`, { timeout: 5000 });
  });

  await page.screenshot({ path: `${artifacts}/dashboard-desktop.png`, fullPage: true });

  await check(`failing ${failRegion} through the chaos control turns it down on the page, without a reload`, async () => {
    await page.evaluate(() => { window.__sameDocument = true; });
    const clicked = Date.now();
    await page.click(`button[data-chaos="fail"][data-region="${failRegion}"]`);
    await page.waitForFunction(
      (region) => document.querySelector(`.card[data-region="${region}"]`)?.dataset.verdict === 'down'
        && document.querySelector(`#markers .marker[data-region="${region}"]`)?.dataset.verdict === 'down',
      failRegion, { timeout: 15000, polling: 100 });
    const seconds = ((Date.now() - clicked) / 1000).toFixed(1);
    if (!(await page.evaluate(() => window.__sameDocument === true))) throw new Error('the page was reloaded');
    return `down on the page ${seconds} s after the click`;
  });

  await check('the timeline records the verdict', async () => {
    await page.waitForFunction(
      (region) => [...document.querySelectorAll('#timeline li')].some((li) => li.textContent.includes(region) && /verdict/i.test(li.textContent)),
      failRegion, { timeout: 5000 });
  });

  await page.screenshot({ path: `${artifacts}/dashboard-region-down.png`, fullPage: true });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const phonePage = await phone.newPage();
  await check('the page fits a phone screen', async () => {
    await phonePage.goto(url, { waitUntil: 'load', timeout: 15000 });
    await phonePage.waitForSelector('.card', { timeout: 10000 });
    const overflow = await phonePage.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await phonePage.screenshot({ path: `${artifacts}/dashboard-phone.png`, fullPage: true });
    if (overflow > 2) throw new Error(`the page is ${overflow} px wider than the screen`);
    return 'no horizontal overflow at 390 px';
  });
  await phone.close();

  const dark = await browser.newContext({ viewport: { width: 1400, height: 1000 }, colorScheme: 'dark' });
  const darkPage = await dark.newPage();
  await check('the page follows a dark colour scheme', async () => {
    await darkPage.goto(url, { waitUntil: 'load', timeout: 15000 });
    await darkPage.waitForSelector('.card', { timeout: 10000 });
    const background = await darkPage.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await darkPage.screenshot({ path: `${artifacts}/dashboard-dark.png`, fullPage: true });
    const [r, g, b] = background.match(/\d+/g).map(Number);
    if (r + g + b > 150) throw new Error(`background ${background} is not dark`);
    return background;
  });
  await dark.close();

  await check(`recovering ${failRegion} brings it back up on the page`, async () => {
    await page.click(`button[data-chaos="recover"][data-region="${failRegion}"]`, { timeout: 10000 });
    await page.waitForFunction(
      (region) => document.querySelector(`.card[data-region="${region}"]`)?.dataset.verdict === 'up',
      failRegion, { timeout: 30000, polling: 200 });
  });

  await check('no script errors on the page', async () => {
    // The failed region's node drops the probe paths it served: connection errors of the
    // chaos itself are expected in the console only for the demo's own requests.
    const real = pageErrors.filter((error) => !/Failed to load resource|net::ERR_/.test(error));
    if (real.length) throw new Error(real.join(' | '));
  });
} finally {
  await browser.close();
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
