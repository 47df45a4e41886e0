// One small uPlot chart per vif: rx and tx bytes per second over the last 30 seconds, computed from
// the counters the page polls once a second.

import uPlot from './vendor/uplot/uPlot.esm.js';

const WINDOW = 30;

export class Throughput {
  constructor(container) {
    this.container = container;
    const now = Date.now() / 1000;
    this.data = [[now - 1, now], [0, 0], [0, 0]];
    this.last = null;
    this.plot = new uPlot({
      width: 120,
      height: 40,
      legend: { show: false },
      cursor: { show: false },
      select: { show: false },
      axes: [{ show: false }, { show: false }],
      scales: {
        // A fixed minute that scrolls, so the chart never rescales sideways.
        x: { time: true, range: (_u, _min, max) => [max - WINDOW, max] },
        // Zero sits just above the bottom edge, so an idle vif draws a visible flat line.
        y: { range: (_u, _min, max) => { const top = Math.max(1024, max * 1.1); return [-top * 0.08, top]; } },
      },
      series: [{}, { label: 'rx B/s', stroke: '#0969da', width: 1.5, points: { show: false } },
        { label: 'tx B/s', stroke: '#1a7f37', width: 1.5, points: { show: false } }],
    }, this.data, container);
  }

  /** Adds one sample from cumulative byte counters. */
  sample(rxBytes, txBytes, at = Date.now() / 1000) {
    if (this.last) {
      const dt = Math.max(at - this.last.at, 0.001);
      const rx = Math.max(0, rxBytes - this.last.rx) / dt;
      const tx = Math.max(0, txBytes - this.last.tx) / dt;
      this.data[0].push(at);
      this.data[1].push(rx);
      this.data[2].push(tx);
      // Extra polls (after an action) add samples, so the window is trimmed by time, not count.
      while (this.data[0].length > 2 && this.data[0][1] < at - WINDOW) for (const s of this.data) s.shift();
      this.plot.setData(this.data);
      const label = `rx ${rate(rx)}, tx ${rate(tx)}`;
      this.container.title = label;
      this.container.setAttribute('aria-label', `throughput: ${label}`);
    }
    this.last = { rx: rxBytes, tx: txBytes, at };
  }

  destroy() {
    this.plot.destroy();
  }
}

function rate(bytesPerSecond) {
  if (bytesPerSecond >= 1e6) return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
  if (bytesPerSecond >= 1e3) return `${(bytesPerSecond / 1e3).toFixed(1)} kB/s`;
  return `${Math.round(bytesPerSecond)} B/s`;
}
