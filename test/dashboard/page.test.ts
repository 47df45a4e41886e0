// The dashboard page in a real browser (Debian's chromium through playwright-core) against an
// in-process vifd whose vifs have no taps: the page drives vifd with QMP over its WebSocket and
// follows what other QMP clients do.

import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { startApp, type TestApp } from '../helpers/app.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';
import { launchChromium, type Browser } from './chromium.js';

type Row = Record<string, unknown>;

function outputDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = resolve(dir, '..');
  const out = join(dir, 'test-output');
  mkdirSync(out, { recursive: true });
  return out;
}

describe('the dashboard page in chromium', function () {
  this.timeout(60000);
  let t: TestApp;
  let qmp: QmpTestClient;
  let browser: Browser;
  let page: Page;
  /** Every request the page made that failed or was answered 4xx/5xx. */
  const failed: string[] = [];

  before(async () => {
    t = await startApp(['-dashboard', '127.0.0.1:0']);
    qmp = await QmpTestClient.connect(t.qmpPath);
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
    page.on('requestfailed', (r) => failed.push(`failed ${r.url()}`));
    await page.goto(t.app.dashboard!.url);
    await page.waitForSelector('body[data-ready="true"]');
  });

  after(async () => {
    await browser?.close();
    qmp?.close();
    await t?.stop();
  });

  const text = (selector: string) => page.locator(selector).textContent();
  const waitText = (selector: string, want: string | RegExp) =>
    eventually(async () => {
      const got = await text(selector).catch(() => null);
      return got !== null && (typeof want === 'string' ? got === want : want.test(got));
    }, 15000, `${selector} to read ${String(want)}`);

  async function guestVif(domid: number, devid: number): Promise<Row | undefined> {
    const guests = (await qmp.execute('__com.vifd_query-guests'))['return'] as Row[];
    return (guests.find((g) => g['domid'] === domid)?.['vifs'] as Row[]).find((v) => v['devid'] === devid);
  }

  it('says there are no vifs yet', async () => {
    expect(await page.locator('#vifs-empty').isVisible()).to.equal(true);
    expect(await text('#connection')).to.match(/^connected \(vifd /);
  });

  it('loads without a failed request, and names an icon that is served', async () => {
    expect(failed).to.deep.equal([]);
    // Headless Chromium does not fetch icons itself: fetched as a browser would, from the link.
    const icon = await page.evaluate(`(async () => {
      const href = document.querySelector('link[rel="icon"]')?.href;
      const r = href ? await fetch(href) : null;
      return r ? [r.status, r.headers.get('content-type')] : null;
    })()`);
    expect(icon).to.deep.equal([200, 'image/svg+xml']);
  });

  it('hotplugs a vif from the form, whose row reaches Connected', async () => {
    const emptyHeight = await page.locator('#vifs').evaluate('(t) => t.offsetHeight');
    await page.click('#hotplug-open');
    expect(await page.locator('#hotplug-mac').count()).to.equal(1);
    expect(await page.locator('#hotplug-idx').getAttribute('placeholder')).to.equal('default -1');
    await page.fill('#hotplug-id', 'web0');
    await page.fill('#hotplug-mac', '00:16:3e:00:00:10');
    await page.click('#hotplug-submit');
    await waitText('#vif-web0-frontend-state', 'Connected (4)');
    await waitText('#vif-web0-backend-state', 'Connected (4)');
    expect(await text('#vif-web0-vif')).to.equal('vif1.0');
    expect(await text('#vif-web0-mac')).to.equal('00:16:3e:00:00:10');
    expect(await text('#vif-web0-link')).to.equal('up');
    expect(await text('#vif-web0-rx-packets')).to.match(/^\d+$/);
    expect(await page.locator('#vifs-empty').isVisible()).to.equal(false);
    expect(await page.locator('#hotplug-dialog').isVisible()).to.equal(false);
    expect(await text('#vif-web0-capture')).to.equal('Capture');
    // The empty state's row gave way to the vif's: the page below did not move.
    expect(await page.locator('#vifs').evaluate('(t) => t.offsetHeight')).to.equal(emptyHeight);
    await eventually(async () => /^throughput: rx \d+ B\/s, tx \d+ B\/s$/.test(
      await page.locator('#vif-web0-chart').getAttribute('aria-label') ?? ''), 5000, 'a throughput sample');
  });

  it('shows a device_add from another QMP client live, without a reload', async () => {
    await page.evaluate('window.stayed = true');
    expect(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'cli0', mac: '00:16:3e:00:00:20' }))
      .to.deep.equal({ return: {} });
    await waitText('#vif-cli0-frontend-state', 'Connected (4)');
    expect(await text('#vif-cli0-vif')).to.equal('vif1.1');
    expect(await page.evaluate('window.stayed')).to.equal(true);
    await waitText('#event-log', /__com\.vifd_VIF_STATE.*cli0 vif1\.1 frontend → Connected \(4\)/);
  });

  it('captures a vif into a pcap file and stops, showing where the frames went', async () => {
    await page.click('#vif-web0-capture');
    await waitText('#vif-web0-capture', 'Stop capture');
    await waitText('#vif-web0-capture-file', /^→ \/tmp\/vif1\.0-\d{8}T\d{6}\.pcap \(\d+ frames\)$/);
    const file = (await text('#vif-web0-capture-file'))!.replace(/^→ (\S+) .*$/, '$1');
    const vifs = (await qmp.execute('__com.vifd_query-vifs'))['return'] as Row[];
    expect(vifs.find((v) => v['id'] === 'web0')?.['capture']).to.deep.include({ file });
    await page.click('#vif-web0-capture');
    await waitText('#vif-web0-capture', 'Capture');
    expect(await text('#vif-web0-capture-file')).to.equal('');
    await waitText('#event-log', new RegExp(`capture vif1\\.0: \\d+ frames saved in ${file.replace(/\./g, '\\.')}`));
    // A pcap file: the classic header's magic, as tshark reads it (the capture tests check frames).
    expect(readFileSync(file).readUInt32LE(0)).to.equal(0xa1b2c3d4);
    rmSync(file);
  });

  it('shows the server\'s error under the field it concerns', async () => {
    await page.click('#hotplug-open');
    await page.fill('#hotplug-id', 'bad0');
    await page.fill('#hotplug-mac', 'zz');
    await page.click('#hotplug-submit');
    await waitText('#hotplug-mac-error', "Property 'xen-net-device.mac' doesn't take value 'zz'");
    expect(await page.locator('#hotplug-mac').getAttribute('aria-invalid')).to.equal('true');
    expect(await page.evaluate('document.activeElement.id')).to.equal('hotplug-mac');
    expect(await text('#hotplug-id-error')).to.equal('');
    // A duplicate id lands under the id field.
    await page.fill('#hotplug-mac', '');
    await page.fill('#hotplug-id', 'web0');
    await page.click('#hotplug-submit');
    await waitText('#hotplug-id-error', "Duplicate device ID 'web0'");
    await waitText('#hotplug-mac-error', '');
    await page.keyboard.press('Escape');
    expect(await page.locator('#hotplug-dialog').isVisible()).to.equal(false);
    expect(await page.locator('#vif-bad0-row').count()).to.equal(0);
  });

  it('toggles the link, and the row and the guest follow', async () => {
    await page.click('#vif-web0-link-toggle');
    await waitText('#vif-web0-link', 'down');
    expect(await text('#vif-web0-link-toggle')).to.equal('Link up');
    await eventually(async () => (await guestVif(1, 0))?.['carrier'] === false, 10000, 'the guest to lose carrier');
    await waitText('#guest-1-vif-0-carrier', 'no carrier');
    expect((await guestVif(1, 1))?.['carrier']).to.equal(true);

    await page.focus('#vif-web0-link-toggle');
    await page.keyboard.press('Enter');
    await waitText('#vif-web0-link', 'up');
    await eventually(async () => (await guestVif(1, 0))?.['carrier'] === true, 10000, 'the guest to get carrier back');
    await waitText('#guest-1-vif-0-carrier', 'carrier up');
  });

  it('browses the vif\'s backend in xenstore and follows its changes', async () => {
    const backend = '/local/domain/0/backend/qnic/1/0';
    await page.click('#vif-web0-xenstore');
    expect(await page.inputValue('#xs-path')).to.equal(backend);
    const value = (key: string) => `#xs-tree li[data-path="${backend}/${key}"] > .xs-value`;
    await waitText(value('mac'), '00:16:3e:00:00:10');
    await waitText(value('state'), '4');
    expect(await page.locator(`#xs-tree li[data-path="${backend}/frontend-id"]`).count()).to.equal(1);

    await qmp.execute('__com.vifd_xenstore-write', { path: `${backend}/dashboard-test`, value: 'hello' });
    await waitText(value('dashboard-test'), 'hello');
    await qmp.execute('__com.vifd_xenstore-write', { path: `${backend}/dashboard-test`, value: 'changed' });
    await waitText(value('dashboard-test'), 'changed');
  });

  it('writes a screenshot of the page with two vifs', async () => {
    await eventually(async () => Number(await text('#vif-cli0-rx-packets')) >= 0 && await page.locator('#vif-rows tr').count() === 2,
      5000, 'two rows');
    // A few seconds of throughput samples, with the guests' gratuitous ARPs as traffic.
    const guest = t.app.guests.get(1)!;
    for (let i = 0; i < 60; i++) {
      for (const vif of guest.vifs.values()) {
        const burst = vif.devid === 0 ? 1 + (i % 20 < 10 ? i % 10 : 10 - (i % 10)) : (i % 3 === 0 ? 2 : 0);
        for (let n = 0; n < burst; n++) vif.stack?.announce();
      }
      await page.waitForTimeout(100);
    }
    const file = join(outputDir(), 'dashboard-two-vifs.png');
    await page.screenshot({ path: file, fullPage: true });
    expect(statSync(file).size).to.be.greaterThan(10000);
  });

  it('unplugs after a confirmation: the row says removing… until DEVICE_DELETED, then goes', async () => {
    // Page-side (this file is compiled without DOM types, hence a string).
    await page.evaluate(`(() => {
      window.sawRemoving = false;
      const status = document.getElementById('vif-web0-status');
      new MutationObserver(() => { if (status.textContent === 'removing…') window.sawRemoving = true; })
        .observe(status, { childList: true, characterData: true, subtree: true });
    })()`);
    await page.click('#vif-web0-unplug');
    expect(await text('#unplug-text')).to.include('00:16:3e:00:00:10');
    await page.click('#unplug-cancel');
    expect(await page.locator('#vif-web0-row').count()).to.equal(1);
    expect(await page.evaluate('window.sawRemoving')).to.equal(false);

    await page.click('#vif-web0-unplug');
    await page.click('#unplug-confirm');
    const deleted = await qmp.waitEvent('DEVICE_DELETED', (d) => d['device'] === 'web0');
    expect(deleted['data']).to.deep.equal({ device: 'web0', path: '/machine/peripheral/web0' });
    await page.waitForSelector('#vif-web0-row', { state: 'detached', timeout: 10000 });
    expect(await page.evaluate('window.sawRemoving')).to.equal(true);
    await waitText('#event-log', /DEVICE_DELETED web0 \/machine\/peripheral\/web0/);
    expect(await page.locator('#vif-cli0-row').count()).to.equal(1);
  });

  it('shows an anonymous device by its QOM path, without a link toggle (set_link needs an id)', async () => {
    await qmp.execute('device_add', { driver: 'xen-net-device' });
    await waitText('#vif-_anon-device-0-frontend-state', 'Connected (4)');
    expect(await text('#vif-_anon-device-0-id')).to.equal('(anonymous)');
    expect(await text('#vif-_anon-device-0-path')).to.equal('/machine/peripheral-anon/device[0]');
    expect(await page.locator('#vif-_anon-device-0-link-toggle').isDisabled()).to.equal(true);
    await page.click('#vif-_anon-device-0-unplug');
    await page.click('#unplug-confirm');
    await page.waitForSelector('#vif-_anon-device-0-row', { state: 'detached', timeout: 10000 });
  });
});

describe('the dashboard page in chromium, with a token', function () {
  this.timeout(60000);
  let t: TestApp;
  let browser: Browser;

  before(async () => {
    t = await startApp(['-dashboard', '127.0.0.1:0,token=page-secret']);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('works from the printed URL, and not without the token', async () => {
    const url = t.app.dashboard!.url;
    expect(url).to.match(/\/\?token=page-secret$/);
    const page = await browser.context.newPage();
    const bare = await page.goto(url.replace(/\?token=.*$/, ''));
    expect(bare?.status()).to.equal(401);
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.locator('#hotplug-mac').count()).to.equal(1);
    const guests = await page.locator('#guest-1').textContent();
    expect(guests).to.include('guest1');
  });
});
