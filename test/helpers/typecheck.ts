// Type-checking the project's own files with the compiler API, some of them replaced by text in
// memory: how tests prove that a change on one side of a typed boundary breaks the other.

import { join } from 'node:path';
import ts from 'typescript';
import { schemaDir } from '../../src/schema/registry.js';

/** The repository (whose tsconfig.json and sources are checked). */
export const REPO = join(schemaDir(), '..');

export interface TypeCheck {
  /** Semantic errors of each root file (repository-relative), empty where it type-checks. */
  errors: Map<string, string[]>;
  /** To hand to the next check as `oldProgram`: it reuses what did not change. */
  program: ts.Program;
}

/** The errors in `files` (absolute paths) with the project's options, `replaced` files read from memory. */
export function typeCheck(files: readonly string[], replaced: ReadonlyMap<string, string> = new Map(),
  oldProgram?: ts.Program): TypeCheck {
  const config = ts.getParsedCommandLineOfConfigFile(join(REPO, 'tsconfig.json'), {}, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
  });
  if (!config) throw new Error('tsconfig.json does not parse');
  const options = { ...config.options, noEmit: true };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError, shouldCreate) => {
    const text = replaced.get(name);
    return text !== undefined ? ts.createSourceFile(name, text, language) : read(name, language, onError, shouldCreate);
  };
  const program = ts.createProgram({ rootNames: [...files], options, host, ...(oldProgram ? { oldProgram } : {}) });
  const errors = new Map<string, string[]>();
  for (const file of files) {
    const source = program.getSourceFile(file);
    if (!source) throw new Error(`${file} is not in the program`);
    errors.set(file.slice(REPO.length + 1), program.getSemanticDiagnostics(source)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')));
  }
  return { errors, program };
}
