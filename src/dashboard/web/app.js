// The dashboard page: one QMP session over the WebSocket, and the page's parts wired to it.
// Counters are polled once a second; states, deletions and xenstore changes arrive as events.

import { EventLog } from './event-log.js';
import { renderGuests } from './guests.js';
import { HotplugForm } from './hotplug.js';
import { Qmp } from './qmp.js';
import { VifTable } from './vifs-table.js';
import { XenstoreTree } from './xenstore-tree.js';

const DRIVER = 'xen-net-device';
const POLL_MS = 1000;

const wsUrl = new URL('qmp', location.href);
wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
// A token in the page's address goes along (the cookie it set would do too).
const token = new URLSearchParams(location.search).get('token');
if (token !== null) wsUrl.searchParams.set('token', token);
const qmp = new Qmp(wsUrl.href);

const log = new EventLog(document.getElementById('event-log'));
const xenstore = new XenstoreTree(qmp, document.getElementById('xs-tree'), document.getElementById('xs-error'));
const hotplug = new HotplugForm(qmp, DRIVER, () => void poll());
const unplugDialog = document.getElementById('unplug-dialog');
const table = new VifTable(document.getElementById('vif-rows'), document.getElementById('vifs-empty'), {
  onUnplug: (row) => confirmUnplug(row),
  onLink: (row, up) => setLink(row, up),
  onCapture: (row) => toggleCapture(row),
  onInspect: (row) => {
    document.getElementById('xs-path').value = row['backend-path'];
    void xenstore.show(row['backend-path']);
  },
});

function confirmUnplug(row) {
  document.getElementById('unplug-text').textContent =
    `Network interface ${row.mac} (${row.id ?? row.path}, ${row.vif}) will be removed from guest ${row['frontend-id']}.`;
  unplugDialog.returnValue = '';
  unplugDialog.onclose = async () => {
    if (unplugDialog.returnValue !== 'confirm') return;
    table.markRemoving(row);
    try {
      await qmp.execute('device_del', { id: row.id ?? row.path });
    } catch (err) {
      table.unmarkRemoving(row);
      reportError(`device_del ${row.id ?? row.path}: ${err.message}`);
    }
  };
  unplugDialog.showModal();
}

async function setLink(row, up) {
  try {
    await qmp.execute('set_link', { name: row.id ?? row.path, up });
  } catch (err) {
    reportError(`set_link ${row.id ?? row.path}: ${err.message}`);
  }
  await poll();
}

/** Starts a capture into a new file under /tmp on the vifd host, or stops the running one. */
async function toggleCapture(row) {
  const id = row.id ?? row.path;
  try {
    if (row.capture) {
      const { frames } = await qmp.execute('__com.vifd_vif-capture-stop', { id });
      report('capture', `${row.vif}: ${frames} frames saved in ${row.capture.file}`);
    } else {
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
      const file = `/tmp/${row.vif}-${stamp}.pcap`;
      await qmp.execute('__com.vifd_vif-capture-start', { id, file });
      report('capture', `${row.vif}: capturing to ${file}`);
    }
  } catch (err) {
    reportError(`capture ${id}: ${err.message}`);
  }
  await poll();
}

function report(event, text) {
  log.add({ event, timestamp: { seconds: Date.now() / 1000, microseconds: 0 }, data: { desc: text } });
}

function reportError(text) {
  report('error', text);
}

let polling = false;
let lastGuests = '';
async function poll() {
  if (polling || qmp.state !== 'ready') return;
  polling = true;
  try {
    const [vifs, guests] = await Promise.all([qmp.execute('__com.vifd_query-vifs'), qmp.execute('__com.vifd_query-guests')]);
    table.update(vifs);
    const text = JSON.stringify(guests);
    if (text !== lastGuests) {
      lastGuests = text;
      renderGuests(document.getElementById('guests'), document.getElementById('guests-empty'), guests);
    }
  } catch {
    // disconnected: the connection status says so, and the next poll after reconnecting catches up
  } finally {
    polling = false;
  }
}

qmp.onEvent((ev) => {
  if (ev.event !== '__com.vifd_XENSTORE_WATCH') log.add(ev);
  switch (ev.event) {
    case '__com.vifd_VIF_STATE':
      // A state of a device the table does not know yet: a device_add from another client.
      if (!table.setState(ev.data)) void poll();
      // The guest's side changed: its card (state, carrier) follows at once rather than next second.
      else if (ev.data.side === 'frontend') void poll();
      break;
    case 'DEVICE_DELETED':
      table.deleted(ev.data);
      void poll();
      break;
    case '__com.vifd_XENSTORE_WATCH':
      xenstore.onWatch(ev.data);
      break;
  }
});

const status = document.getElementById('connection');
const hotplugButton = document.getElementById('hotplug-open');
qmp.onState(async (state) => {
  status.dataset.state = state;
  status.textContent = state === 'ready' ? `connected (${qmp.greeting.version.package})` : state === 'connecting' ? 'connecting…' : 'disconnected, retrying…';
  hotplugButton.disabled = state !== 'ready';
  if (state !== 'ready') return;
  await hotplug.load().catch((err) => reportError(`device-list-properties: ${err.message}`));
  await poll();
  if (xenstore.root === null) await xenstore.show(document.getElementById('xs-path').value);
  else await xenstore.resume();
  document.body.dataset.ready = 'true';
});

hotplugButton.addEventListener('click', () => hotplug.open());
document.getElementById('xs-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void xenstore.show(document.getElementById('xs-path').value.trim() || '/');
});

setInterval(() => void poll(), POLL_MS);
qmp.connect();
