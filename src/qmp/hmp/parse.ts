// The text of an HMP command line: the command word, then its arguments as QEMU's monitor
// reads them (`s`: one word, optionally quoted; `O`: the rest as a QemuOpts list
// `implied,key=value,...` with `,,` for a literal comma).

export interface CommandWord { name: string; rest: string }

/** Splits off the command name (QEMU's get_command_name: up to the first blank). */
export function commandWord(line: string): CommandWord {
  const trimmed = line.replace(/^\s+/, '');
  const m = /^(\S*)\s*(.*)$/s.exec(trimmed)!;
  return { name: m[1]!, rest: m[2]!.replace(/\s+$/, '') };
}

/** One `s` argument: a word or a double-quoted string; null when there is none. */
export function takeWord(text: string): { word: string; rest: string } | null {
  const t = text.replace(/^\s+/, '');
  if (t === '') return null;
  if (t.startsWith('"')) {
    let word = '';
    for (let i = 1; i < t.length; i++) {
      const c = t[i]!;
      if (c === '\\' && i + 1 < t.length) {
        word += t[++i]!;
      } else if (c === '"') {
        return { word, rest: t.slice(i + 1) };
      } else {
        word += c;
      }
    }
    return null; // unterminated
  }
  const m = /^(\S+)(.*)$/s.exec(t)!;
  return { word: m[1]!, rest: m[2]! };
}

export interface OptsList { implied: string | undefined; pairs: Array<[string, string]> }

/** `tap,id=t0,ifname=x`: the first part without `=` is the implied key's value. */
export function parseOptsList(text: string): OptsList {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ',' && text[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (c === ',') {
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  let implied: string | undefined;
  const pairs: Array<[string, string]> = [];
  parts.forEach((part, i) => {
    if (part === '') return;
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (i === 0) implied = part;
      else pairs.push([part, 'on']);
      return;
    }
    pairs.push([part.slice(0, eq), part.slice(eq + 1)]);
  });
  return { implied, pairs };
}
