// QemuOpts-style option strings: `value,key=value,key=value`, a literal comma written `,,`,
// a bare `key` meaning `key=on` and `nokey` meaning `key=off` (the legacy `server,nowait`).

export class OptionError extends Error {
  constructor(readonly option: string, message: string) {
    super(`-${option}: ${message}`);
    this.name = 'OptionError';
  }
}

export interface ParsedOpts {
  /** The leading value without `=`, when the option has an implied first key (`tap`, `socket`). */
  implied: string | undefined;
  params: Map<string, string>;
}

function splitEscaped(text: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ',') {
      if (text[i + 1] === ',') {
        cur += ',';
        i++;
      } else {
        parts.push(cur);
        cur = '';
      }
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

/** Parses `text`; `impliedKey` says whether a first part without `=` is allowed. */
export function parseOpts(option: string, text: string, impliedKey: boolean, flags: readonly string[] = []): ParsedOpts {
  const parts = splitEscaped(text);
  const params = new Map<string, string>();
  let implied: string | undefined;
  parts.forEach((part, i) => {
    if (part === '') throw new OptionError(option, `empty parameter in '${text}'`);
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (i === 0 && impliedKey && !flags.includes(part)) {
        implied = part;
        return;
      }
      const off = part.startsWith('no') && flags.includes(part.slice(2));
      const key = off ? part.slice(2) : part;
      if (!flags.includes(key)) throw new OptionError(option, `invalid parameter '${part}'`);
      setOnce(option, params, key, off ? 'off' : 'on');
      return;
    }
    setOnce(option, params, part.slice(0, eq), part.slice(eq + 1));
  });
  return { implied, params };
}

function setOnce(option: string, params: Map<string, string>, key: string, value: string): void {
  if (key === '') throw new OptionError(option, 'parameter without a name');
  if (params.has(key)) throw new OptionError(option, `parameter '${key}' given twice`);
  params.set(key, value);
}

export function parseBool(option: string, key: string, value: string): boolean {
  if (value === 'on' || value === 'yes' || value === 'true') return true;
  if (value === 'off' || value === 'no' || value === 'false') return false;
  throw new OptionError(option, `Parameter '${key}' expects 'on' or 'off'`);
}

export function takeKnown(option: string, p: ParsedOpts, known: readonly string[]): void {
  for (const key of p.params.keys()) {
    if (!known.includes(key)) throw new OptionError(option, `Invalid parameter '${key}'`);
  }
}
