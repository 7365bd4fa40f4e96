import { execFileSync } from 'node:child_process';

/** CLI tests run the built `vigie` executable: build once before the suite. */
export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
