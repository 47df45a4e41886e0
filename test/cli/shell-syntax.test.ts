// qmp-shell's command syntax as `vifd shell` parses it, without a server: typed values, JSON
// values, dotted keys, transactions, raw JSON, HMP mode; and replies printed as qmp-shell
// prints them (Python's json.dumps).

import { expect } from 'chai';
import { CommandLineParser, parseValue, ShellSyntaxError, splitCommandLine } from '../../src/cli/shell/command-line.js';
import { parseShellArgs } from '../../src/cli/shell/shell.js';
import { pyJson } from '../../src/cli/shell/py-json.js';

describe('vifd shell: qmp-shell syntax', () => {
  const parse = (line: string) => new CommandLineParser().parse(line);

  it('turns `cmd key=value ...` into a request with arguments, always present', () => {
    expect(parse('query-version')).to.deep.equal({ execute: 'query-version', arguments: {} });
    expect(parse('device_add driver=xen-net-device id=nic0 idx=1 mac=00:16:3e:00:00:01')).to.deep.equal({
      execute: 'device_add', arguments: { driver: 'xen-net-device', id: 'nic0', idx: 1, mac: '00:16:3e:00:00:01' },
    });
  });

  it('converts integers and true/false, parses values starting with { or [ as JSON, keeps the rest as strings', () => {
    expect(parseValue('-12')).to.equal(-12);
    expect(parseValue('True')).to.equal(true);
    expect(parseValue('false')).to.equal(false);
    expect(parseValue('[1, "a"]')).to.deep.equal([1, 'a']);
    expect(parseValue('{not json')).to.equal('{not json');
    expect(parseValue('1.5')).to.equal('1.5');
    expect(parse('set_link name=nic0 up=false')!['arguments']).to.deep.equal({ name: 'nic0', up: false });
    expect(parse('x-cmd opts={"a": [1, 2], "b": "c d"} n=3')!['arguments'])
      .to.deep.equal({ opts: { a: [1, 2], b: 'c d' }, n: 3 });
    expect(splitCommandLine('a k="x y" j={"p": 1}')).to.deep.equal(['a', 'k="x y"', 'j={"p": 1}']);
    expect(parse('a k="x y"')!['arguments']).to.deep.equal({ k: 'x y' });
  });

  it('nests dotted keys and refuses a key used as leaf and non-leaf, or set twice', () => {
    expect(parse('netdev_add type=stream id=s0 addr.type=unix addr.path=/tmp/s server=true')!['arguments']).to.deep.equal({
      type: 'stream', id: 's0', addr: { type: 'unix', path: '/tmp/s' }, server: true,
    });
    expect(() => parse('c a=1 a.b=2')).to.throw(ShellSyntaxError, 'Cannot use "a" as both leaf and non-leaf key');
    expect(() => parse('c a=1 a=2')).to.throw(ShellSyntaxError, 'Cannot set "a" multiple times');
    expect(() => parse('c novalue')).to.throw(ShellSyntaxError, "Expected a key=value pair, got 'novalue'");
  });

  it('collects a transaction until `)` and sends its actions as {type, data}', () => {
    const p = new CommandLineParser();
    expect(p.parse('transaction(')).to.equal(null);
    expect(p.inTransaction).to.equal(true);
    expect(p.parse('block-dirty-bitmap-add node=drive0 name=bitmap0')).to.equal(null);
    expect(p.parse('abort )')).to.deep.equal({
      execute: 'transaction', arguments: { actions: [
        { type: 'block-dirty-bitmap-add', data: { node: 'drive0', name: 'bitmap0' } }, { type: 'abort', data: {} }] },
    });
    expect(p.inTransaction).to.equal(false);
    expect(new CommandLineParser().parse('transaction( abort )')).to.deep.equal({
      execute: 'transaction', arguments: { actions: [{ type: 'abort', data: {} }] },
    });
  });

  it('sends a line starting with { as it is, and in HMP mode wraps every line with cpu-index 0', () => {
    expect(parse('{"execute": "quit", "id": 7}')).to.deep.equal({ execute: 'quit', id: 7 });
    const h = new CommandLineParser({ hmp: true });
    expect(h.parse('info network')).to.deep.equal({
      execute: 'human-monitor-command', arguments: { 'command-line': 'info network', 'cpu-index': 0 },
    });
    expect(h.parse('')).to.equal(null);
  });

  it('prints like Python json.dumps: ", " and ": " on one line, or indented and sorted with -p', () => {
    expect(pyJson({ return: { b: 1, a: [true, null, 'é'] }, id: 'x' })).to.equal('{"return": {"b": 1, "a": [true, null, "\\u00e9"]}, "id": "x"}');
    expect(pyJson({ return: { b: 1, a: {} } }, true)).to.equal('{\n    "return": {\n        "a": {},\n        "b": 1\n    }\n}');
  });

  it('reads qmp-shell\'s options: -H -p -v -N and the socket path (unix: prefix allowed)', () => {
    expect(parseShellArgs(['-p', '-H', 'unix:/run/q.sock'], { VIFD_SHELL_HISTORY: '' })).to.deep.equal({
      path: '/run/q.sock', hmp: true, pretty: true, verbose: false, negotiate: true, historyFile: null,
    });
    expect(() => parseShellArgs(['-x', 'p'], {})).to.throw(/unknown option '-x'/);
    expect(() => parseShellArgs([], {})).to.throw(/path is missing/);
  });
});
