// The guests and their vifs as each guest's netfront sees them, with the guest's addresses.
// Ids: guest-<domid>, guest-<domid>-vif-<devid>-{state,address,carrier,mac}.

export function renderGuests(list, empty, guests) {
  empty.hidden = guests.length > 0;
  const items = guests.map((g) => {
    const li = document.createElement('li');
    li.id = `guest-${g.domid}`;
    const head = document.createElement('div');
    head.innerHTML = '<strong></strong> <span class="muted"></span>';
    head.firstChild.textContent = g.name;
    head.lastChild.textContent = `domid ${g.domid}${g.running ? '' : ' (stopped)'}`;
    const vifs = document.createElement('ul');
    if (g.vifs.length === 0) {
      const none = document.createElement('li');
      none.className = 'muted';
      none.textContent = 'no vifs';
      vifs.append(none);
    }
    for (const v of g.vifs) {
      const id = (f) => `guest-${g.domid}-vif-${v.devid}-${f}`;
      const item = document.createElement('li');
      item.id = id('row');
      const span = (f, text, cls = '') => {
        const s = document.createElement('span');
        s.id = id(f);
        s.className = cls;
        s.textContent = text;
        return s;
      };
      item.append(
        span('name', `eth${v.devid}`, 'mono'), ' ',
        span('address', v.address ?? 'no address', 'mono'), ' ',
        span('mac', v.mac ?? '', 'mono muted'), ' ',
        span('state', v.state, 'state'), ' ',
        span('carrier', v.carrier ? 'carrier up' : 'no carrier', v.carrier ? 'link' : 'link muted'),
      );
      item.querySelector(`#${id('carrier')}`).dataset.link = v.carrier ? 'up' : 'down';
      if (v.broken) item.append(' ', span('broken', `broken: ${v.broken}`, 'muted'));
      vifs.append(item);
    }
    li.append(head, vifs);
    return li;
  });
  list.replaceChildren(...items);
}
