// Replies printed the way qmp-shell prints them: Python's json.dumps, i.e. ", " and ": "
// separators on one line, or (-p) four-space indentation with sorted keys; non-ASCII as \uXXXX.

function str(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function pyJson(value: unknown, pretty = false, level = 0): string {
  if (value === null || typeof value !== 'object') return typeof value === 'string' ? str(value) : JSON.stringify(value) ?? 'null';
  const pad = (n: number) => ' '.repeat(4 * n);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v) => pyJson(v, pretty, level + 1));
    return pretty ? `[\n${items.map((i) => pad(level + 1) + i).join(',\n')}\n${pad(level)}]` : `[${items.join(', ')}]`;
  }
  let keys = Object.keys(value);
  if (keys.length === 0) return '{}';
  if (pretty) keys = keys.sort();
  const obj = value as Record<string, unknown>;
  const items = keys.map((k) => `${str(k)}: ${pyJson(obj[k], pretty, level + 1)}`);
  return pretty ? `{\n${items.map((i) => pad(level + 1) + i).join(',\n')}\n${pad(level)}}` : `{${items.join(', ')}}`;
}
