/**
 * The floors of the code base (docs/architecture.md): a module imports only from its own floor or the
 * floors below it, never up, and no import forms a cycle. `npm run check:layers` (run by `npm test`
 * through tests/architecture.test.ts) fails on any violation.
 *
 *   0 ground    src/types.ts, src/errors.ts, src/log.ts, src/log-pretty.ts, src/time/, src/util/
 *   1 services  src/redis/, src/kafka/, src/metrics/, src/state/, src/privacy/, src/generator/
 *   2 plugins   operators/, detectors/, sinks/, src/sources/  (independent of one another)
 *   3 config    src/config/
 *   4 engine    src/engine/, src/ingest/
 *   5 apps      src/cli/, src/backtest/, src/eval/, src/console/, load-tests/
 */
const GROUND = '^src/(types|errors|log|log-pretty)\\.ts$|^src/(time|util)/';
const SERVICES = '^src/(redis|kafka|metrics|state|privacy|generator)/';
const PLUGINS = '^(operators|detectors|sinks)/|^src/sources/';
const CONFIG = '^src/config/';
const ENGINE = '^src/(engine|ingest)/';
const APPS = '^src/(cli|backtest|eval|console)/|^load-tests/';

const up = (name, from, to, comment) => ({ name, severity: 'error', comment, from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'Modules must not depend on each other in a circle: move what both need one floor down.',
      from: {},
      to: { circular: true },
    },
    up('ground-imports-nothing-above', GROUND, `${SERVICES}|${PLUGINS}|${CONFIG}|${ENGINE}|${APPS}`, 'The ground floor (types, errors, log, time, util) imports only itself.'),
    up('services-import-only-ground', SERVICES, `${PLUGINS}|${CONFIG}|${ENGINE}|${APPS}`, 'Clients and libraries (Redis, Kafka, metrics, checkpoint store, privacy, generators) import only the ground floor.'),
    up('plugins-import-no-config-engine-or-apps', PLUGINS, `${CONFIG}|${ENGINE}|${APPS}`, 'Operators, detectors, sinks and sources are built by the config and engine floors, never the other way.'),
    up('operators-are-independent', '^operators/', '^(detectors|sinks)/|^src/sources/', 'A plugin family does not import another one.'),
    up('detectors-are-independent', '^detectors/', '^(operators|sinks)/|^src/sources/', 'A plugin family does not import another one.'),
    up('sinks-are-independent', '^sinks/', '^(operators|detectors)/|^src/sources/', 'A plugin family does not import another one.'),
    up('sources-are-independent', '^src/sources/', '^(operators|detectors|sinks)/', 'A plugin family does not import another one.'),
    up('config-imports-no-engine-or-apps', CONFIG, `${ENGINE}|${APPS}`, 'The config floor validates and loads configs; the engine runs them.'),
    up('engine-imports-no-apps', ENGINE, APPS, 'Applications (CLI, backtest, eval, benchmarks) sit on the engine, not under it.'),
    up('only-benchmarks-use-test-infra', '^(src|operators|detectors|sinks)/', '^tests/', 'Shipped code never imports tests.'),
    {
      name: 'no-unknown-floor',
      severity: 'error',
      comment: 'Every source folder belongs to a floor: add a new folder to a floor here and in docs/architecture.md.',
      from: { path: '^(src|operators|detectors|sinks|load-tests)/', pathNot: `${GROUND}|${SERVICES}|${PLUGINS}|${CONFIG}|${ENGINE}|${APPS}` },
      to: {},
    },
  ],
  options: {
    // TypeScript 7 has no compiler API for the default parser: swc reads the sources, type-only imports included.
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
  },
};
