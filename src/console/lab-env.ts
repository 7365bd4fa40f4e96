/**
 * The environment the lab validates and runs configs with: only the variables the current config
 * names (`${NAME}`, `${NAME:-default}`, and `...Env: NAME` settings such as `passwordEnv`), plus what
 * a process needs to run. An edited config therefore cannot read any other variable of the console's
 * environment (its tokens, or secrets of other services) into an error message or a report.
 */

/** What every child process gets, when set. */
const BASE = ['PATH', 'HOME', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL'];
/** Never passed on, even when the config names them. */
const WITHHELD = new Set(['VIGIE_CONSOLE_TOKEN', 'VIGIE_CONSOLE_ANALYST_TOKEN']);

/** Variable names a config text refers to. */
export function namedVariables(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]);
  for (const m of text.matchAll(/\b[A-Za-z]*Env\s*:\s*["']?([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]);
  return names;
}

/** The lab's environment for the current config `current` (none: the base variables only). */
export function labEnv(current: string | undefined, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const name of [...BASE, ...(current === undefined ? [] : namedVariables(current))]) {
    if (!WITHHELD.has(name) && env[name] !== undefined) out[name] = env[name];
  }
  return out;
}
