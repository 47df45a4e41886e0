// The vif table: one row per xen-net-device, keyed by device id (anonymous devices by their
// QOM path). Counters come from polling __com.vifd_query-vifs; states also from
// __com.vifd_VIF_STATE as they change. Every cell has a stable id, vif-<key>-<field>.

import { Throughput } from './throughput.js';

const COUNTERS = ['packets', 'bytes', 'errors', 'dropped'];

/**
 * A row's key: the device id, or for an anonymous device `_anon-` and its QOM name
 * (device[3] → _anon-device-3). Device ids start with a letter, so the two never meet.
 */
export function keyOf(row) {
  if (row.id !== undefined) return row.id;
  return '_anon-' + row.path.split('/').pop().replace(/[^A-Za-z0-9_-]+/g, '-').replace(/-+$/, '');
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

export class VifTable {
  /** handlers: { onUnplug(row), onLink(row, up), onInspect(row) } */
  constructor(tbody, empty, handlers) {
    this.tbody = tbody;
    this.empty = empty;
    this.handlers = handlers;
    this.rows = new Map();
  }

  has(idOrPath) {
    return this.find(idOrPath) !== undefined;
  }

  find(idOrPath) {
    for (const r of this.rows.values()) if (r.data.id === idOrPath || r.data.path === idOrPath) return r;
    return undefined;
  }

  /** The whole list from __com.vifd_query-vifs: adds, updates and drops rows. */
  update(list) {
    const seen = new Set();
    for (const data of list) {
      const key = keyOf(data);
      seen.add(key);
      let r = this.rows.get(key);
      if (!r) r = this.add(key, data);
      this.fill(r, data);
    }
    // A device leaves the list in the same turn DEVICE_DELETED is sent (before this reply), so
    // a missing row here is one whose event this page missed (while reconnecting, say).
    for (const key of [...this.rows.keys()]) if (!seen.has(key)) this.remove(key);
    this.empty.hidden = this.rows.size > 0;
  }

  /** __com.vifd_VIF_STATE */
  setState(ev) {
    const r = this.find(ev.device ?? ev.path);
    if (!r) return false;
    r.data[`${ev.side}-state`] = ev.state;
    r.data[`${ev.side}-state-name`] = ev['state-name'];
    this.fillState(r, ev.side);
    return true;
  }

  markRemoving(row) {
    const r = this.rows.get(keyOf(row));
    if (!r) return;
    r.removing = true;
    r.tr.classList.add('removing');
    r.status.textContent = 'removing…';
    for (const b of r.tr.querySelectorAll('button')) b.disabled = true;
  }

  unmarkRemoving(row) {
    const r = this.rows.get(keyOf(row));
    if (!r) return;
    r.removing = false;
    r.tr.classList.remove('removing');
    r.status.textContent = '';
    for (const f of ['unplug', 'xenstore']) document.getElementById(`vif-${r.key}-${f}`).disabled = false;
    this.fill(r, r.data);
  }

  /** DEVICE_DELETED */
  deleted(ev) {
    const r = this.find(ev.device ?? ev.path);
    if (r) this.remove(keyOf(r.data));
    this.empty.hidden = this.rows.size > 0;
  }

  remove(key) {
    const r = this.rows.get(key);
    if (!r) return;
    r.chart.destroy();
    r.tr.remove();
    this.rows.delete(key);
  }

  add(key, data) {
    const id = (f) => `vif-${key}-${f}`;
    const cell = (f, cls = '') => el('span', { id: id(f), class: cls });
    const tr = el('tr', { id: id('row'), 'data-key': key });
    const status = el('span', { id: id('status'), class: 'removing-note', 'aria-live': 'polite' });
    tr.append(
      el('td', {}, cell('id', 'mono'), ' ', status, cell('path', 'path')),
      el('td', {}, cell('vif', 'mono')),
      el('td', {}, cell('mac', 'mono')),
      el('td', {}, cell('netdev', 'mono')),
      el('td', { class: 'states' }, cell('backend-state', 'state'), cell('frontend-state', 'state')),
      el('td', {}, cell('link', 'link')),
    );
    for (const c of COUNTERS) {
      tr.append(el('td', { class: 'num' }, cell(`rx-${c}`, 'pair'), cell(`tx-${c}`, 'pair')));
    }
    const chartBox = el('div', { id: id('chart'), class: 'chart', role: 'img', 'aria-label': `throughput of ${key}` });
    tr.append(el('td', {}, chartBox));
    const link = el('button', { id: id('link-toggle'), type: 'button' });
    const unplug = el('button', { id: id('unplug'), type: 'button', text: 'Unplug' });
    const inspect = el('button', { id: id('xenstore'), type: 'button', text: 'xenstore', title: 'Show the backend in the xenstore browser' });
    const capture = el('button', { id: id('capture'), type: 'button', text: 'Capture', 'aria-pressed': 'false' });
    const captureNote = el('span', { id: id('capture-file'), class: 'capture-note mono', 'aria-live': 'polite' });
    tr.append(el('td', {}, el('div', { class: 'actions' }, link, unplug, inspect, capture), captureNote));
    this.tbody.append(tr);

    const r = { key, tr, data, status, removing: false, chart: new Throughput(chartBox) };
    link.addEventListener('click', () => this.handlers.onLink(r.data, r.data.link !== 'up'));
    unplug.addEventListener('click', () => this.handlers.onUnplug(r.data));
    inspect.addEventListener('click', () => this.handlers.onInspect(r.data));
    capture.addEventListener('click', () => this.handlers.onCapture(r.data));
    this.rows.set(key, r);
    return r;
  }

  fill(r, data) {
    r.data = data;
    const set = (f, text) => {
      const e = document.getElementById(`vif-${r.key}-${f}`);
      if (e.textContent !== String(text)) e.textContent = String(text);
    };
    set('id', data.id ?? '(anonymous)');
    set('path', data.path);
    set('vif', data.vif);
    set('mac', data.mac);
    set('netdev', data.netdev ? `${data.netdev} (${data.peer})` : data.peer);
    // Cells cut long texts short: the whole text is a hover away.
    for (const f of ['id', 'path', 'netdev']) {
      const e = document.getElementById(`vif-${r.key}-${f}`);
      if (e.title !== e.textContent) e.title = e.textContent;
    }
    this.fillState(r, 'backend');
    this.fillState(r, 'frontend');
    set('link', data.link);
    document.getElementById(`vif-${r.key}-link`).dataset.link = data.link;
    for (const c of COUNTERS) {
      set(`rx-${c}`, data.stats[`rx-${c}`]);
      set(`tx-${c}`, data.stats[`tx-${c}`]);
    }
    const link = document.getElementById(`vif-${r.key}-link-toggle`);
    link.textContent = data.link === 'up' ? 'Link down' : 'Link up';
    // set_link names a NIC by its id, as in QEMU; a device without one has no such name.
    link.disabled = r.removing || data.id === undefined;
    link.title = data.id === undefined ? 'set_link needs a device id; this device was added without one' : '';
    link.setAttribute('aria-pressed', String(data.link === 'up'));
    this.fillCapture(r, data.capture);
    r.chart.sample(data.stats['rx-bytes'], data.stats['tx-bytes']);
    if (data['unplug-pending'] && !r.removing) this.markRemoving(data);
  }

  /** The capture button says what a click does; the note says where the frames go. */
  fillCapture(r, capture) {
    const button = document.getElementById(`vif-${r.key}-capture`);
    const note = document.getElementById(`vif-${r.key}-capture-file`);
    button.textContent = capture ? 'Stop capture' : 'Capture';
    button.setAttribute('aria-pressed', String(Boolean(capture)));
    button.disabled = r.removing;
    button.title = capture ? `Stop writing ${capture.file}` : 'Write this vif\'s frames to a pcap file on the vifd host';
    const text = capture ? `→ ${capture.file} (${capture.frames} frames)` : '';
    if (note.textContent !== text) note.textContent = text;
  }

  fillState(r, side) {
    const e = document.getElementById(`vif-${r.key}-${side}-state`);
    const n = r.data[`${side}-state`];
    const text = `${r.data[`${side}-state-name`]} (${n})`;
    if (e.textContent !== text) e.textContent = text;
    e.dataset.state = String(n);
  }
}
