/** Bearer-token access of the console: the tokens come from the environment, one per role, and are compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { VigieError } from '../errors.js';

export type Role = 'read-only' | 'analyst';

/** The environment variable of each role's token. */
export const TOKEN_ENV: Readonly<Record<Role, string>> = {
  'read-only': 'VIGIE_CONSOLE_TOKEN',
  analyst: 'VIGIE_CONSOLE_ANALYST_TOKEN',
};

/** Shorter tokens are refused: they could be guessed. */
export const MIN_TOKEN_LENGTH = 16;

/** Only digests are kept: comparing equal-length digests leaks neither the token nor its length. */
export interface Tokens {
  readonly digests: ReadonlyArray<{ role: Role; digest: Buffer }>;
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** The tokens set in `env`; refuses to go on without any, or with one too short to be safe. */
export function tokensFromEnv(env: NodeJS.ProcessEnv = process.env): Tokens {
  const digests: Array<{ role: Role; digest: Buffer }> = [];
  for (const [role, name] of Object.entries(TOKEN_ENV) as Array<[Role, string]>) {
    const token = env[name];
    if (token === undefined || token === '') continue;
    if (token.length < MIN_TOKEN_LENGTH) throw new VigieError('VIGIE_ERR_CONSOLE', `${name} is shorter than ${MIN_TOKEN_LENGTH} characters`);
    digests.push({ role, digest: digest(token) });
  }
  if (digests.length === 0) {
    throw new VigieError('VIGIE_ERR_CONSOLE', `no access token: set ${TOKEN_ENV['read-only']} and/or ${TOKEN_ENV.analyst} in the environment`);
  }
  return { digests };
}

/** The role of the request's `Authorization: Bearer TOKEN`, or undefined when absent or unknown. */
export function authorize(tokens: Tokens, header: string | undefined): Role | undefined {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m === null ? undefined : roleOfToken(tokens, m[1]);
}

/** The role of a token (as typed in the sign-in form), or undefined when unknown. */
export function roleOfToken(tokens: Tokens, token: string): Role | undefined {
  const given = digest(token);
  let role: Role | undefined;
  // Every token is compared, so the time taken does not tell which one (if any) matched.
  for (const t of tokens.digests) if (timingSafeEqual(given, t.digest) && role === undefined) role = t.role;
  return role;
}
