// Opens an edgebench HTML report from file:// in Debian's headless chromium (a fresh profile) and asserts: no
// console error, no network request of any kind, every section present with its charts, a failed cell visible, the
// EMULATED / SOFTWARE ADAPTER flags shown, the table filter and sorting work. Writes a full-page screenshot.
// usage: node report-test.mjs REPORT.html SCREENSHOT.png [--expect-gate] [--expect-trends]
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [, , htmlArg, pngArg, ...flags] = process.argv;
if (!htmlArg || !pngArg) {
  console.error('usage: node report-test.mjs REPORT.html SCREENSHOT.png [--expect-gate] [--expect-trends]');
  process.exit(2);
}
const expectGate = flags.includes('--expect-gate');
const expectTrends = flags.includes('--expect-trends');
const profile = mkdtempSync(join(tmpdir(), 'edgebench-chromium-'));
const failures = [];
const fail = (m) => failures.push(m);
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
try {
  const requests = [];
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') fail(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => fail(`page error: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  const url = 'file://' + resolve(htmlArg);
  await page.goto(url, { waitUntil: 'load' });
  const network = requests.filter((u) => u !== url);
  if (network.length) fail(`network requests: ${network.join(', ')}`);

  const sections = ['run', 'compat', 'rewrites', 'cells', 'latency', 'cold', 'variants', 'memory', 'energy',
    'roofline', 'profile', 'gate', 'failures'];
  for (const id of sections) {
    if (await page.locator(`section#${id}`).count() !== 1) fail(`section #${id} missing`);
  }
  for (const id of ['latency', 'cold', 'variants', 'energy', 'roofline']) {
    const n = await page.locator(`section#${id} svg`).count();
    if (n < 1) fail(`section #${id} has no chart`);
  }
  if (await page.locator('section#profile svg').count() < 1) fail('section #profile has no node roofline');
  if (await page.locator('section#profile table tbody tr').count() < 1) fail('section #profile has no node rows');
  const targets = await page.locator('section#run table.sort tbody tr').count();
  if (targets < 2) fail(`expected several targets in the run header, found ${targets}`);
  const failed = page.locator('section#failures tr.bad');
  if (await failed.count() < 1) fail('no failed cell listed');
  else if (!(await failed.first().isVisible())) fail('the failed cell is not visible');
  if (await page.locator('section#compat td.bad').count() < 1) fail('no failed cell in the compatibility matrix');
  if (await page.locator('.flag.emu').count() < 1) fail('no EMULATED flag shown');
  if (await page.locator('.flag.sw').count() < 1) fail('no SOFTWARE ADAPTER flag shown');
  if (await page.locator('section#variants table tbody tr').count() < 1) fail('no variant rows');
  if (expectGate) {
    const verdicts = await page.locator('section#gate tbody tr').count();
    if (verdicts < 1) fail('no gate verdicts');
    if (await page.locator('section#gate .banner').count() !== 1) fail('no gate banner');
  }
  if (expectTrends) {
    if (await page.locator('section#trends').count() !== 1) fail('section #trends missing');
    const charts = await page.locator('section#trends figure.trend svg').count();
    if (charts < 1) fail('no trend chart');
  }
  // The filter hides rows that do not match; clearing it shows them again.
  const rows = page.locator('section#cells tbody tr');
  const all = await rows.count();
  await page.fill('#filter', 'no-such-model-xyz');
  const shown = await page.locator('section#cells tbody tr:visible').count();
  if (shown !== 0) fail(`filter left ${shown} of ${all} rows visible`);
  await page.fill('#filter', '');
  // Sorting by p50 puts the rows in numeric order.
  await page.locator('section#cells th', { hasText: 'p50' }).click();
  const vals = (await page.locator('section#cells tbody tr td:nth-child(6)').evaluateAll(
    (tds) => tds.map((td) => parseFloat(td.dataset.v)))).filter((v) => !Number.isNaN(v));
  for (let i = 1; i < vals.length; i++) if (vals[i] < vals[i - 1]) { fail('sorting by p50 is not ascending'); break; }
  await page.screenshot({ path: pngArg, fullPage: true });
  console.log(`browser: ${url}: ${sections.length} sections, ${all} cells, ${targets} targets, ` +
    `${await failed.count()} failed cells, ${requests.length - 1} network requests; screenshot ${pngArg}`);
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
if (failures.length) {
  for (const f of failures) console.error(`browser: FAIL: ${f}`);
  process.exit(1);
}
