#!/usr/bin/env node
// Entry point of the `vifd` command; the code is compiled to dist/ by `npm install` (prepare).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`vifd: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
