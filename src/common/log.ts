// One structured line per notable thing, on stderr: `vifd[<level>] <component>: <message>`.
// Level from VIFD_LOG (error|warn|info|debug); warn by default so library users and tests stay
// quiet, the CLI raises it to info.

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

function envLevel(): LogLevel {
  const v = process.env['VIFD_LOG'];
  return v === 'error' || v === 'warn' || v === 'info' || v === 'debug' ? v : 'warn';
}

let threshold: LogLevel = envLevel();
let sink: (line: string) => void = (line) => process.stderr.write(line + '\n');

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export function logLevel(): LogLevel {
  return threshold;
}

/** A line logged elsewhere (a worker thread's), to wherever this thread's lines go. */
export function emitLogLine(line: string): void {
  sink(line);
}

/** Redirects log lines (tests capture them); returns where they went before, to put back. */
export function setLogSink(fn: (line: string) => void): (line: string) => void {
  const before = sink;
  sink = fn;
  return before;
}

export class Logger {
  constructor(readonly component: string) {}

  child(component: string): Logger {
    return new Logger(`${this.component} ${component}`);
  }

  error(msg: string): void { this.log('error', msg); }
  warn(msg: string): void { this.log('warn', msg); }
  info(msg: string): void { this.log('info', msg); }
  debug(msg: string): void { this.log('debug', msg); }

  enabled(level: LogLevel): boolean {
    return RANK[level] <= RANK[threshold];
  }

  private log(level: LogLevel, msg: string): void {
    if (this.enabled(level)) sink(`vifd[${level}] ${this.component}: ${msg}`);
  }
}
