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

/**
 * `text` with the values of the config's variables (all but the base ones) replaced by their
 * `${NAME}`: a message never shows a secret, even one the config itself puts where it does not
 * belong (a password where a list is expected is quoted back by validation, cut after 57 characters).
 */
export function scrubValues(text: string, env: NodeJS.ProcessEnv): string {
  let out = text;
  // Longest first, so that a value containing another is replaced whole.
  const named = Object.entries(env)
    .filter((e): e is [string, string] => !BASE.includes(e[0]) && typeof e[1] === 'string' && e[1].length >= 4)
    .sort((a, b) => b[1].length - a[1].length);
  for (const [name, value] of named) {
    const forms = new Set([value, JSON.stringify(value).slice(1, -1)]);
    if (value.length > 60) for (const f of [...forms]) forms.add(f.slice(0, 57));
    for (const f of forms) out = out.split(f).join(`\${${name}}`);
  }
  return out;
}
