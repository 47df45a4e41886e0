// The live event log: every QMP event this session receives, newest last, bounded.

const MAX_ENTRIES = 300;

export class EventLog {
  constructor(list) {
    this.list = list;
  }

  add(ev) {
    const li = document.createElement('li');
    li.dataset.event = ev.event;
    const t = document.createElement('time');
    const d = new Date(ev.timestamp.seconds * 1000 + Math.floor(ev.timestamp.microseconds / 1000));
    t.dateTime = d.toISOString();
    t.textContent = d.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
    const name = document.createElement('span');
    name.className = 'ev-name';
    name.textContent = ev.event;
    li.append(t, name, ' ' + (ev.data ? summarize(ev.event, ev.data) : ''));
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
    this.list.append(li);
    while (this.list.children.length > MAX_ENTRIES) this.list.firstElementChild.remove();
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
  }
}

function summarize(name, data) {
  if (name === '__com.vifd_VIF_STATE') return `${data.device ?? data.path} ${data.vif} ${data.side} → ${data['state-name']} (${data.state})`;
  if (name === 'DEVICE_DELETED') return `${data.device ?? ''} ${data.path}`.trim();
  // The page's own entries (not QMP events): what it did, or what failed.
  if (name === 'error' || name === 'capture') return data.desc;
  return JSON.stringify(data);
}
