// Drives Debian's Chromium (headless, through playwright-core) through the dashboard of a running
// `obscura run`, as a shop manager would: tests/dashboard.rs starts the service and runs this.
//
//   node dashboard.mjs --url=http://127.0.0.1:PORT --config=obscura.toml --out=DIR \
//     --live=door --recorded=recorded --day=YYYY-MM-DD
//
// Prints one line per step; exits 1 with the reason at the first failure. Screenshots of every
// page go to --out.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split(/=(.*)/s).slice(0, 2)));
for (const key of ['url', 'config', 'out', 'live', 'recorded', 'day']) {
  if (!args[key]) { console.error(`missing --${key}`); process.exit(2); }
}
const { url, config, out, live, recorded, day } = args;
const step = (text) => console.log(`step: ${text}`);
const fail = (text) => { throw new Error(text); };

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
});
const errors = [];
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
try {
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => { if (msg.type() === 'error' && !/404|Failed to load resource/.test(msg.text())) errors.push(msg.text()); });
  page.on('dialog', (dialog) => dialog.accept());
  await page.goto(url + '/');

  step('overview: the live camera streams, its redacted snapshot shows');
  const card = page.locator(`article.card[data-camera="${live}"]`);
  await card.locator('.state', { hasText: 'streaming' }).waitFor({ timeout: 60_000 });
  await page.waitForFunction((name) => {
    const img = document.querySelector(`article.card[data-camera="${name}"] img`);
    return img && img.complete && img.naturalWidth > 0 && !img.dataset.failed;
  }, live, { timeout: 30_000 });
  await card.locator('tr[data-line="middle"]').waitFor({ timeout: 10_000 });
  await page.screenshot({ path: `${out}/overview.png`, fullPage: true });

  step('counts: the chart shows what the store holds');
  await page.click('#tab-counts');
  await page.selectOption('#counts-camera', recorded);
  await page.selectOption('#counts-resolution', 'hour');
  await page.fill('#counts-day', day);
  await page.dispatchEvent('#counts-day', 'change');
  await page.locator('#charts figure figcaption', { hasText: `${recorded}, ${day}` }).waitFor({ timeout: 20_000 });
  await page.locator('#charts figure svg rect.bar').first().waitFor({ state: 'attached', timeout: 20_000 });
  const shown = await page.evaluate(() => {
    const rows = [...document.querySelectorAll('#charts figure:first-of-type tr.row-line')];
    return rows.reduce((sum, row) => sum + Number(row.children[2].textContent) + Number(row.children[3].textContent), 0);
  });
  const stored = await page.evaluate(async ([camera, d]) => {
    const [y, m, dd] = d.split('-').map(Number);
    const from = new Date(y, m - 1, dd); const to = new Date(y, m - 1, dd + 1);
    const q = new URLSearchParams({ camera, from: from.toISOString(), to: to.toISOString() });
    const data = await (await fetch('/api/counts?' + q)).json();
    return data.lines.reduce((sum, r) => sum + r.in + r.out, 0);
  }, [recorded, day]);
  if (stored <= 0) fail(`the recorded camera stored no crossings (${stored})`);
  // The overview's figures for the day are the same (stored buckets, none counted twice).
  const overview = await page.evaluate(async ([camera, d]) => {
    const [y, m, dd] = d.split('-').map(Number);
    const data = await (await fetch('/api/cameras?since=' + new Date(y, m - 1, dd).toISOString())).json();
    return data.cameras.find((c) => c.name === camera).counts.lines.reduce((sum, l) => sum + l.in + l.out, 0);
  }, [recorded, day]);
  if (overview !== stored) fail(`the overview says ${overview} crossings today, the store holds ${stored}`);
  if (shown !== stored) fail(`the chart shows ${shown} crossings, the store holds ${stored}`);
  const bars = await page.locator('#charts figure:first-of-type rect.bar').count();
  const csv = await page.getAttribute('#counts-csv', 'href');
  if (!csv.includes('format=csv')) fail(`the CSV link is ${csv}`);
  const csvText = await page.evaluate(async (href) => (await fetch(href)).text(), csv);
  if (!csvText.startsWith('kind,camera,name,start')) fail(`the CSV download is ${csvText.slice(0, 80)}`);
  const [y, m, d] = day.split('-').map(Number);
  const before = new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
  await page.fill('#counts-compare', before);
  await page.dispatchEvent('#counts-compare', 'change');
  await page.waitForFunction(() => document.querySelectorAll('#charts figure').length === 2, null, { timeout: 10_000 });
  console.log(`counts: ${stored} crossings stored and charted in ${bars} bars; two days side by side`);
  await page.screenshot({ path: `${out}/counts.png`, fullPage: true });

  step('editor: a line drawn on the snapshot is saved into the config');
  const configBefore = readFileSync(config, 'utf8');
  await page.click('#tab-editor');
  await page.selectOption('#editor-camera', live);
  await page.waitForFunction(() => { const i = document.querySelector('#editor-image'); return i.complete && i.naturalWidth > 0; }, null, { timeout: 20_000 });
  await page.check('input[name=kind][value=line]');
  await page.fill('#editor-name', 'drawn');
  const box = await page.locator('#editor-image').boundingBox();
  await page.mouse.click(box.x + box.width * 0.35, box.y + box.height * 0.02);
  await page.mouse.click(box.x + box.width * 0.35, box.y + box.height * 0.98);
  await page.click('#editor-add');
  await page.locator('#editor-items li', { hasText: 'line drawn' }).waitFor({ timeout: 5_000 });
  await page.screenshot({ path: `${out}/editor.png`, fullPage: true });
  const middle = async () => page.evaluate(async ([camera, s]) => {
    const data = await (await fetch('/api/cameras?since=' + encodeURIComponent(s))).json();
    const line = data.cameras.find((c) => c.name === camera)?.counts?.lines.find((l) => l.name === 'middle');
    return line ? line.in + line.out : -1;
  }, [live, (() => { const d = new Date(); d.setHours(0, 0, 0, 0); return d.toISOString(); })()]);
  const middleBefore = await middle();
  await page.click('#editor-save');
  await page.locator('#editor-status', { hasText: 'Saved' }).waitFor({ timeout: 10_000 });
  const configAfter = readFileSync(config, 'utf8');
  if (!/name = "drawn"/.test(configAfter)) fail('the config has no line "drawn"');
  for (const comment of configBefore.split('\n').filter((l) => l.trim().startsWith('#'))) {
    if (!configAfter.includes(comment)) fail(`the comment ${JSON.stringify(comment)} was lost`);
  }
  // A refused edit says why and writes nothing.
  const refused = await page.evaluate(async (camera) => {
    const r = await fetch(`/api/cameras/${camera}/geometry`, { method: 'PUT', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ lines: [{ name: 'bad', from: [0.5, 0], to: [0.5, 0] }] }) });
    return [r.status, await r.text()];
  }, live);
  if (refused[0] !== 400 || readFileSync(config, 'utf8') !== configAfter) fail(`a degenerate line was not refused: ${refused}`);
  console.log(`editor: refused with: ${refused[1].trim()}`);

  step('the next crossings are counted on the drawn line');
  const since = new Date(); since.setHours(0, 0, 0, 0);
  const deadline = Date.now() + 120_000;
  let counted = 0;
  while (Date.now() < deadline) {
    counted = await page.evaluate(async ([camera, s]) => {
      const data = await (await fetch('/api/cameras?since=' + encodeURIComponent(s))).json();
      const line = data.cameras.find((c) => c.name === camera)?.counts?.lines.find((l) => l.name === 'drawn');
      return line ? line.in + line.out : -1;
    }, [live, since.toISOString()]);
    if (counted > 0) break;
    await page.waitForTimeout(1000);
  }
  if (counted <= 0) fail(`no crossing counted on the drawn line within 120 s (${counted})`);
  // The camera restarted mid-bucket: what it had counted before stays counted.
  const middleAfter = await middle();
  if (middleAfter < middleBefore) fail(`the reload lost crossings: middle went from ${middleBefore} to ${middleAfter}`);
  await page.click('#tab-overview');
  await card.locator('tr[data-line="drawn"]').waitFor({ timeout: 10_000 });
  console.log(`counted on the drawn line: ${counted}`);
  const again = await page.evaluate(async (camera) => (await (await fetch('/api/cameras')).json())
    .cameras.find((c) => c.name === camera).state, recorded);
  if (again !== 'stopped') fail(`the reload ran the finished recording again (${again}): its counts would double`);

  step('clips: a clip is listed with its thumbnail and plays');
  const clipDeadline = Date.now() + 120_000;
  await page.click('#tab-clips');
  while (!(await page.locator('#clip-list button.play').count())) {
    if (Date.now() > clipDeadline) fail('no clip listed within 120 s');
    await page.waitForTimeout(2000);
    await page.click('#tab-overview');
    await page.click('#tab-clips');
  }
  await page.waitForFunction(() => { const i = document.querySelector('#clip-list img'); return i && i.complete && i.naturalWidth > 0; }, null, { timeout: 10_000 });
  await page.locator('#clip-list button.play').first().click();
  // Played past half a second, or to its end (a clip the reload cut short may be shorter).
  await page.waitForFunction(() => {
    const v = document.querySelector('#video');
    return v.currentTime > 0.5 || (v.ended && v.currentTime > 0);
  }, null, { timeout: 20_000 });
  const played = await page.evaluate(() => ({ t: document.querySelector('#video').currentTime, w: document.querySelector('#video').videoWidth }));
  if (!played.w) fail('the clip played without a picture');
  console.log(`clip played to ${played.t.toFixed(1)} s, ${played.w} px wide`);
  await page.screenshot({ path: `${out}/clips.png`, fullPage: true });

  step('health: per camera figures');
  await page.click('#tab-health');
  await page.locator(`#health-table tr[data-camera="${live}"]`).waitFor({ timeout: 5_000 });
  await page.screenshot({ path: `${out}/health.png`, fullPage: true });

  step('keyboard: the tabs follow the arrow keys');
  await page.focus('#tab-health');
  await page.keyboard.press('ArrowLeft');
  if (await page.getAttribute('#tab-editor', 'aria-selected') !== 'true') fail('ArrowLeft did not select the previous tab');
  await page.keyboard.press('Home');
  if (await page.getAttribute('#tab-overview', 'aria-selected') !== 'true') fail('Home did not select the first tab');

  step('accessibility basics: every control has a label, every image a text');
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, button, video')].filter((c) => {
    if (c.labels && c.labels.length) return false;
    return !(c.getAttribute('aria-label') || c.textContent.trim());
  }).map((c) => c.outerHTML.slice(0, 80)));
  if (unlabelled.length) fail(`controls without a label: ${unlabelled.join(' | ')}`);
  const noAlt = await page.evaluate(() => [...document.querySelectorAll('img')].filter((i) => !i.alt).length);
  if (noAlt) fail(`${noAlt} images without alt text`);

  step('narrow screen: nothing wider than a phone');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#tab-overview');
  await page.waitForTimeout(500);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 392) fail(`the page is ${width} px wide on a 390 px screen`);
  await page.screenshot({ path: `${out}/overview-narrow.png`, fullPage: true });

  if (errors.length) fail(`errors in the page: ${errors.join(' | ')}`);
  console.log('dashboard: ok');
} catch (err) {
  console.error(`dashboard: FAILED: ${err.message}`);
  if (errors.length) console.error(`errors in the page: ${errors.join(' | ')}`);
  await page.screenshot({ path: `${out}/failure.png`, fullPage: true }).catch(() => {});
  console.error(await page.evaluate(() => [...document.querySelectorAll('img')].map((i) => `${i.alt}: ${i.src} complete=${i.complete} w=${i.naturalWidth} failed=${i.dataset.failed}`).join('\n')).catch(() => ''));
  process.exitCode = 1;
} finally {
  await browser.close();
}
