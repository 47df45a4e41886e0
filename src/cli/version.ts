import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaDir } from '../schema/registry.js';

/** The package version, read from package.json beside schema/. */
export const VERSION: string = (JSON.parse(readFileSync(join(schemaDir(), '..', 'package.json'), 'utf8')) as { version: string }).version;
