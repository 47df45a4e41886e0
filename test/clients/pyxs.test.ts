// python3-pyxs (Debian's, run with /usr/bin/python3) against vifd's socket: pyxs matches replies
// by req_id and checks the echoed tx_id, so this is also a test of both. A transaction that
// commits, one that conflicts (EAGAIN: pyxs's commit() returns False), and a watch.

import { expect } from 'chai';
import { runTool, serveStore, type ServedStore } from '../helpers/xs-wire.js';

const PYTHON = '/usr/bin/python3';

describe('clients: python3-pyxs', function () {
  this.timeout(30000);
  let s: ServedStore;
  const py = async (script: string): Promise<string[]> => {
    const r = await runTool(s.path, PYTHON, ['-c', script]);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout.trim().split('\n');
  };

  before(async () => { s = await serveStore(); });
  after(async () => { await s?.stop(); });

  it('commits a transaction: invisible to others until the commit, visible after', async () => {
    const out = await py(`
import pyxs
with pyxs.Client() as c, pyxs.Client() as other:
    c[b"/py/x"] = b"1"
    tx = c.transaction()
    c[b"/py/x"] = b"2"
    c[b"/py/y"] = b"new"
    print(tx, other[b"/py/x"].decode(), other.exists(b"/py/y"))
    print(c.commit())
    print(other[b"/py/x"].decode(), other[b"/py/y"].decode(), sorted(p.decode() for p in other.list(b"/py")))
`);
    expect(out).to.deep.equal(['1 1 False', 'True', "2 new ['x', 'y']"]);
  });

  it('fails a conflicting transaction with EAGAIN and keeps the other writer\'s value', async () => {
    const out = await py(`
import pyxs
from pyxs._internal import Op
with pyxs.Client() as a, pyxs.Client() as b:
    a[b"/py/c"] = b"0"
    a.transaction()
    seen = a[b"/py/c"]
    b[b"/py/c"] = b"theirs"
    a[b"/py/c"] = seen + b"+1"
    print(a.commit(), a[b"/py/c"].decode())
    try:
        a.transaction(); a[b"/py/c"]; b[b"/py/c"] = b"again"; a[b"/py/c"] = b"x"
        a.execute_command(Op.TRANSACTION_END, b"T\\x00")
    except pyxs.PyXSError as e:
        import errno
        print(errno.errorcode[e.args[0]])
        a.tx_id = 0
`);
    expect(out).to.deep.equal(['False theirs', 'EAGAIN']);
  });

  it('watches: the initial event, then events for changes below the path, by token', async () => {
    const out = await py(`
import pyxs
with pyxs.Client() as c, pyxs.Client() as w:
    m = c.monitor()
    m.watch(b"/py/w", b"my-token")
    events = m.wait()
    print(next(events))
    w[b"/py/w/k"] = b"v"
    print(next(events))
    w.delete(b"/py/w")
    print(next(events))
    m.unwatch(b"/py/w", b"my-token")
`);
    expect(out).to.deep.equal([
      "Event(path=b'/py/w', token=b'my-token')",
      "Event(path=b'/py/w/k', token=b'my-token')",
      "Event(path=b'/py/w', token=b'my-token')",
    ]);
  });

  it('reports errors by name (ENOENT, EINVAL, EEXIST) and serves the domain requests', async () => {
    const out = await py(`
import pyxs, errno
from pyxs._internal import Op
with pyxs.Client() as c:
    for call in (lambda: c[b"/py/none"], lambda: c.execute_command(Op.READ, b"/py/x-without-its-NUL"),
                 lambda: [c.monitor().watch(b"/py/d", b"t") for _ in range(2)]):
        try:
            call()
        except pyxs.PyXSError as e:
            print(errno.errorcode[e.args[0]])
    print(c.get_domain_path(7).decode(), c.is_domain_introduced(0), c.is_domain_introduced(7))
`);
    expect(out).to.deep.equal(['ENOENT', 'EINVAL', 'EEXIST', '/local/domain/7 True False']);
  });
});
