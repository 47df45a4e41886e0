// The dashboard on a laptop's screen (1280×800): every vif row keeps its action buttons in view,
// whatever its netdev's name, its QOM path or a running capture's file name make its cells hold.

import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startApp, type TestApp } from '../helpers/app.js';
import { eventually, QmpTestClient } from '../helpers/qmp-client.js';
import { launchChromium, type Browser } from './chromium.js';

describe('the dashboard at 1280×800', function () {
  this.timeout(60000);
  let t: TestApp;
  let qmp: QmpTestClient;
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), 'vifd-layout-'));

  before(async () => {
    t = await startApp(['-dashboard', '127.0.0.1:0']);
    qmp = await QmpTestClient.connect(t.qmpPath);
    const long = 'a-netdev-with-a-rather-long-name-0123456789';
    expect(await qmp.execute('netdev_add', { type: 'hubport', id: long, hubid: 0 })).to.deep.equal({ return: {} });
    expect(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'a-device-with-a-long-id-0123456789', netdev: long }))
      .to.deep.equal({ return: {} });
    expect(await qmp.execute('device_add', { driver: 'xen-net-device' })).to.deep.equal({ return: {} });
    expect(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'n2' })).to.deep.equal({ return: {} });
    const file = join(dir, 'a-capture-file-with-a-name-long-enough-to-fill-its-cell.pcap');
    expect(await qmp.execute('__com.vifd_vif-capture-start', { id: 'n2', file })).to.deep.equal({ return: {} });
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(t.app.dashboard!.url);
    await page.waitForSelector('body[data-ready="true"]');
  });

  after(async () => {
    await browser?.close();
    await qmp?.execute('__com.vifd_vif-capture-stop', { id: 'n2' }).catch(() => undefined);
    qmp?.close();
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows every row\'s action buttons inside the viewport, uncovered', async () => {
    await eventually(async () => await page.locator('#vif-rows tr').count() === 3, 10000, 'three rows');
    await eventually(async () => /frames\)$/.test(await page.locator('#vif-n2-capture-file').textContent() ?? ''), 10000,
      'the capture note');
    const buttons = page.locator('#vif-rows tr .actions button');
    expect(await buttons.count()).to.equal(12);
    for (let i = 0; i < 12; i++) {
      const b = buttons.nth(i);
      // Scrolled into view vertically only: what is off to the right must stay there.
      await b.evaluate((e) => {
        const w = globalThis as unknown as { scrollY: number; scrollTo(x: number, y: number): void };
        w.scrollTo(0, (e as { getBoundingClientRect(): { top: number } }).getBoundingClientRect().top + w.scrollY - 200);
      });
      expect(await page.locator('.table-wrap').evaluate((w) => (w as { scrollLeft: number }).scrollLeft), 'scrolled sideways')
        .to.equal(0);
      const box = (await b.boundingBox())!;
      const name = `${await b.getAttribute('id')} at x ${Math.round(box.x)}..${Math.round(box.x + box.width)}`;
      expect(box.x, name).to.be.at.least(0);
      expect(box.x + box.width, name).to.be.at.most(1280);
      // Nothing clips or covers it: the point at its centre is the button itself.
      const hit = await page.evaluate(([x, y]) => {
        const e = (globalThis as unknown as { document: { elementFromPoint(x: number, y: number): { id: string } | null } })
          .document.elementFromPoint(x!, y!);
        return e?.id ?? null;
      }, [box.x + box.width / 2, box.y + box.height / 2]);
      expect(hit, name).to.equal(await b.getAttribute('id'));
    }
    mkdirSync('test-output', { recursive: true });
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: 'test-output/dashboard-1280.png' });
  });
});
