/** SIGINT/SIGTERM/SIGHUP handling of the foreground commands that stop in an orderly way. */

/**
 * A signal arriving this soon after the first is the same request: a process-group kill (`timeout`,
 * a supervisor) or a forwarding parent can deliver one Ctrl-C twice, and only a deliberate second
 * one should cut the orderly stop short.
 */
const REPEAT_WINDOW_MS = 1000;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Calls `stop` on the first signal and `force` on a later one (at least a second after it);
 * returns the function that removes the handlers.
 */
export function onStopSignals(stop: (sig: NodeJS.Signals) => void, force: (sig: NodeJS.Signals) => void): () => void {
  let first: number | undefined;
  const handler = (sig: NodeJS.Signals): void => {
    if (first === undefined) {
      first = Date.now();
      stop(sig);
    } else if (Date.now() - first >= REPEAT_WINDOW_MS) {
      force(sig);
    }
  };
  for (const s of SIGNALS) process.on(s, handler);
  return () => {
    for (const s of SIGNALS) process.off(s, handler);
  };
}
