// The dashboard's access rules as pure functions: Host, token and Origin.

import { expect } from 'chai';
import { checkOrigin, checkRequest, hostNameOf, isLoopbackHost } from '../../src/dashboard/access.js';

describe('dashboard access rules', () => {
  it('knows loopback names and addresses', () => {
    for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) expect(isLoopbackHost(h), h).to.equal(true);
    for (const h of ['0.0.0.0', '10.0.0.1', 'example.com', '::', 'localhost.evil.example']) expect(isLoopbackHost(h), h).to.equal(false);
  });

  it('takes the host name out of a Host header', () => {
    expect(hostNameOf('localhost:8080')).to.equal('localhost');
    expect(hostNameOf('[::1]:8080')).to.equal('::1');
    expect(hostNameOf('[::1]')).to.equal('::1');
    expect(hostNameOf('example.com')).to.equal('example.com');
  });

  it('without a token, serves loopback host names and the address it listens on only', () => {
    const policy = { host: '127.0.0.1', token: null };
    expect(checkRequest(policy, { url: '/', headers: { host: 'localhost:8080' } }).ok).to.equal(true);
    expect(checkRequest(policy, { url: '/', headers: { host: '[::1]:8080' } }).ok).to.equal(true);
    expect(checkRequest(policy, { url: '/', headers: { host: 'rebound.evil.example:8080' } })).to.deep.include({ ok: false, status: 403 });
    expect(checkRequest(policy, { url: '/', headers: {} })).to.deep.include({ ok: false, status: 403 });
  });

  it('with a token, wants exactly that token, and sets the cookie only when it came in the query', () => {
    const policy = { host: '0.0.0.0', token: 'abc' };
    const at = (url: string, headers: Record<string, string> = {}) => checkRequest(policy, { url, headers: { host: 'h', ...headers } });
    expect(at('/')).to.deep.include({ ok: false, status: 401 });
    expect(at('/?token=ab')).to.deep.include({ ok: false, status: 401 });
    expect(at('/?token=abcd')).to.deep.include({ ok: false, status: 401 });
    expect(at('/?token=abc')).to.deep.equal({ ok: true, setCookie: true });
    expect(at('/', { authorization: 'Bearer abc' })).to.deep.equal({ ok: true, setCookie: false });
    expect(at('/', { cookie: 'a=1; vifd_token=abc; b=2' })).to.deep.equal({ ok: true, setCookie: false });
    expect(at('/', { authorization: 'Basic abc' })).to.deep.include({ ok: false, status: 401 });
  });

  it('lets a WebSocket in from the dashboard\'s own origin, or from a client without one', () => {
    const ws = (origin: string | undefined, host = '127.0.0.1:8080') =>
      checkOrigin({ url: '/qmp', headers: { host, ...(origin !== undefined ? { origin } : {}) } }).ok;
    expect(ws(undefined)).to.equal(true);
    expect(ws('http://127.0.0.1:8080')).to.equal(true);
    expect(ws('https://127.0.0.1:8080')).to.equal(true);
    expect(ws('http://localhost:8080')).to.equal(false);
    expect(ws('http://127.0.0.1:8081')).to.equal(false);
    expect(ws('http://evil.example')).to.equal(false);
    expect(ws('null')).to.equal(false);
    expect(ws('file://')).to.equal(false);
    expect(ws('http://[::1]:8080', '[::1]:8080')).to.equal(true);
  });
});
