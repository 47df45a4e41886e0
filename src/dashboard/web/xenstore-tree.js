// The xenstore browser: a tree under a chosen root, expanded on demand, kept current by one
// xenstore watch on the root (a watch fires for every change at or below its path). A change
// refreshes the nearest expanded node at or above the changed path, coalesced per frame.
// Nodes: <li data-path="..."> with .xs-name and, when the node has a value, .xs-value.

const TOKEN = 'dashboard-tree';

function parentOf(path) {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function join(dir, name) {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export class XenstoreTree {
  constructor(qmp, tree, errorBox) {
    this.qmp = qmp;
    this.tree = tree;
    this.errorBox = errorBox;
    this.root = null;
    this.expanded = new Set();
    this.dirty = new Set();
    this.flushScheduled = false;
  }

  /** Shows the tree under `root` and watches it (the previous root's watch goes). */
  async show(root) {
    this.errorBox.textContent = '';
    if (this.root !== null) await this.qmp.execute('__com.vifd_xenstore-unwatch', { path: this.root, token: TOKEN }).catch(() => {});
    this.root = root;
    this.expanded = new Set([root]);
    const li = this.node(root, root, null);
    li.setAttribute('aria-level', '1');
    this.tree.replaceChildren(li);
    try {
      await this.qmp.execute('__com.vifd_xenstore-watch', { path: root, token: TOKEN });
    } catch (err) {
      this.errorBox.textContent = err.message;
    }
    await this.refresh(root);
  }

  /** After a reconnect the session's watches are gone: set them again. */
  async resume() {
    if (this.root !== null) {
      const root = this.root;
      this.root = null;
      const open = [...this.expanded];
      await this.show(root);
      for (const p of open) if (p !== root) await this.expand(p);
    }
  }

  /** __com.vifd_XENSTORE_WATCH */
  onWatch(ev) {
    if (ev.token !== TOKEN || this.root === null) return;
    let p = ev.path;
    while (!this.expanded.has(p) && p !== '/' && p.startsWith(this.root)) p = parentOf(p);
    if (!this.expanded.has(p)) return;
    this.dirty.add(p);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      requestAnimationFrame(() => {
        this.flushScheduled = false;
        const paths = [...this.dirty];
        this.dirty.clear();
        for (const d of paths) void this.refresh(d);
      });
    }
  }

  node(path, label, value) {
    const li = document.createElement('li');
    li.dataset.path = path;
    li.setAttribute('role', 'treeitem');
    const toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.className = 'xs-toggle';
    toggle.setAttribute('aria-label', `expand ${path}`);
    toggle.addEventListener('click', () => void (this.expanded.has(path) ? this.collapse(path) : this.expand(path)));
    const name = document.createElement('span');
    name.className = 'xs-name';
    name.textContent = label;
    const val = document.createElement('span');
    val.className = 'xs-value';
    val.textContent = value ?? '';
    li.append(toggle, name, val);
    this.setExpandedLook(li, this.expanded.has(path));
    return li;
  }

  setExpandedLook(li, open) {
    const t = li.querySelector(':scope > .xs-toggle');
    t.textContent = open ? '▾' : '▸';
    li.setAttribute('aria-expanded', String(open));
  }

  find(path) {
    return [...this.tree.querySelectorAll('li[data-path]')].find((li) => li.dataset.path === path);
  }

  async expand(path) {
    const li = this.find(path);
    if (!li) return;
    this.expanded.add(path);
    this.setExpandedLook(li, true);
    await this.refresh(path);
  }

  collapse(path) {
    const li = this.find(path);
    for (const p of [...this.expanded]) if (p === path || p.startsWith(path + '/')) this.expanded.delete(p);
    if (!li) return;
    li.querySelector(':scope > ul')?.remove();
    this.setExpandedLook(li, false);
  }

  /** Re-reads a node's value and its children's names and values. */
  async refresh(path) {
    const li = this.find(path);
    if (!li) return;
    let names;
    try {
      names = await this.qmp.execute('__com.vifd_xenstore-directory', { path });
    } catch {
      // The node is gone: its parent's refresh (the same change fired it) removes it.
      if (path === this.root) li.querySelector(':scope > .xs-value').textContent = '(does not exist)';
      li.querySelector(':scope > ul')?.remove();
      return;
    }
    const value = await this.qmp.execute('__com.vifd_xenstore-read', { path }).catch(() => '');
    this.setValue(li, value);
    if (!this.expanded.has(path)) return;
    let ul = li.querySelector(':scope > ul');
    if (!ul) {
      ul = document.createElement('ul');
      ul.setAttribute('role', 'group');
      li.append(ul);
    }
    const wanted = [...names].sort(compareNames);
    const existing = new Map([...ul.children].map((c) => [c.dataset.path, c]));
    const values = await Promise.all(wanted.map((n) => this.qmp.execute('__com.vifd_xenstore-read', { path: join(path, n) }).catch(() => '')));
    const items = wanted.map((n, i) => {
      const p = join(path, n);
      const c = existing.get(p) ?? this.node(p, n, values[i]);
      this.setValue(c, values[i]);
      return c;
    });
    ul.replaceChildren(...items);
    for (const p of existing.keys()) if (!wanted.some((n) => join(path, n) === p)) this.collapse(p);
    for (const c of items) if (this.expanded.has(c.dataset.path)) void this.refresh(c.dataset.path);
  }

  setValue(li, value) {
    const v = li.querySelector(':scope > .xs-value');
    if (v.textContent === value) return;
    const first = v.dataset.seen === undefined;
    v.textContent = value;
    v.dataset.seen = '1';
    if (!first) {
      v.classList.add('xs-flash');
      setTimeout(() => v.classList.remove('xs-flash'), 1000);
    }
  }
}

/** Numeric names in numeric order (vif 2 before vif 10), then the rest by name. */
function compareNames(a, b) {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return Number(a) - Number(b);
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
