/**
 * compose.yaml without Docker: what can be checked here is checked for real. The files it mounts exist
 * and parse, Prometheus' config passes promtool and loads the alert rules in a real Prometheus, Grafana's
 * provisioning names the compose Prometheus and the dashboard's folder, and the Vigie service's command
 * makes the built CLI listen on every interface (the container's), as Prometheus needs.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { freePort } from '../infra/index.js';
import { promtool, startPrometheus } from '../infra/prometheus.js';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: string[];
}

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const compose = parse(read('compose.yaml')) as { services: Record<string, Service> };
const services = compose.services;

/** `./host:/container[:ro]` mounts of a service, the host side relative to the repository. */
function mounts(service: string): Array<{ host: string; container: string }> {
  return (services[service].volumes ?? []).map((v) => {
    const [host, container] = v.split(':');
    return { host: relative(ROOT, resolve(ROOT, host)), container };
  });
}

/** The container port a service publishes for `hostPort` ("127.0.0.1:9090:9090"). */
function containerPort(service: string, hostPort: number): number | undefined {
  for (const p of services[service].ports ?? []) {
    const [, host, container] = p.split(':');
    if (Number(host) === hostPort) return Number(container);
  }
  return undefined;
}

const prometheusYml = parse(read('deploy/prometheus.yml')) as {
  rule_files: string[];
  scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
};
const alertRules = (parse(read('ops/prometheus/vigie-alerts.yml')) as { groups: { name: string; rules: { alert: string }[] }[] }).groups;

describe('compose.yaml', () => {
  it('has Vigie, Kafka, Redis, Prometheus and Grafana, each publishing its ports on 127.0.0.1 only', () => {
    expect(Object.keys(services).sort()).toEqual(['grafana', 'kafka', 'prometheus', 'redis', 'vigie']);
    for (const [name, s] of Object.entries(services)) {
      expect(s.image ?? s.build, name).toBeTruthy();
      for (const p of s.ports ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
      for (const d of s.depends_on ?? []) expect(Object.keys(services), name).toContain(d);
    }
  });

  it('mounts only files and folders of the repository', () => {
    for (const name of Object.keys(services)) {
      for (const m of mounts(name)) {
        expect(m.host.startsWith('..'), `${name}: ${m.host}`).toBe(false);
        expect(existsSync(join(ROOT, m.host)), `${name}: ${m.host} does not exist`).toBe(true);
        expect(m.container, name).toMatch(/^\//);
      }
    }
  });

  it('builds Vigie from the repository: every file the Dockerfile copies exists', () => {
    const build = services.vigie.build!;
    const dockerfile = join(ROOT, build.context, build.dockerfile);
    expect(existsSync(dockerfile)).toBe(true);
    const lines = readFileSync(dockerfile, 'utf8').split('\n');
    const copies = lines.filter((l) => /^COPY /.test(l) && !l.includes('--from='));
    expect(copies.length).toBeGreaterThan(0);
    for (const line of copies) {
      const parts = line.split(/\s+/).slice(1);
      for (const src of parts.slice(0, -1)) expect(existsSync(join(ROOT, build.context, src)), line).toBe(true);
    }
    const entry = lines.find((l) => l.startsWith('ENTRYPOINT '));
    expect(entry).toBe('ENTRYPOINT ["node", "bin/vigie.js"]');
    // What the build stage must not take from the host: its node_modules and dist are built inside.
    const ignored = read('.dockerignore').split('\n');
    for (const p of ['node_modules', 'dist']) expect(ignored).toContain(p);
  });

  it('has Prometheus scrape the Vigie service on the port its config serves metrics on', () => {
    const [, , config] = services.vigie.command!;
    expect(services.vigie.command!.slice(0, 2)).toEqual(['run', '-c']);
    const metricsPort = (parse(read(config)) as { metrics: { port: number } }).metrics.port;
    expect(prometheusYml.scrape_configs.flatMap((j) => j.static_configs.flatMap((c) => c.targets))).toEqual([`vigie:${metricsPort}`]);
    expect(prometheusYml.scrape_configs[0].job_name).toMatch(/^vigie/); // VigieDown watches up{job=~"vigie.*"}
    expect(containerPort('vigie', metricsPort)).toBe(metricsPort);
    const at = services.vigie.command!.indexOf('--metrics-host');
    expect(services.vigie.command![at + 1]).toBe('0.0.0.0');
  });

  it("runs a Vigie that listens on every interface with the service's command", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'bin/vigie.js'), ...services.vigie.command!, '--metrics-port', String(port)], {
      cwd: ROOT,
      env: { ...process.env, VIGIE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 30_000;
      let status = 0;
      while (status !== 200 && Date.now() < deadline) {
        status = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status, () => 0);
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status, stderr).toBe(200);
      // The listening socket's local address in /proc/net/tcp: 00000000 is 0.0.0.0, every interface.
      const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
      const listening = readFileSync('/proc/net/tcp', 'utf8')
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A');
      expect(listening.map((f) => f[1])).toEqual([`00000000:${hexPort}`]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, stderr).toBe(0);
  });

  it('mounts the alert rules where deploy/prometheus.yml names them, from /etc/prometheus as from deploy/', () => {
    const m = mounts('prometheus');
    expect(m).toContainEqual({ host: 'deploy/prometheus.yml', container: '/etc/prometheus/prometheus.yml' });
    expect(prometheusYml.rule_files.length).toBeGreaterThan(0);
    for (const rule of prometheusYml.rule_files) {
      const host = relative(ROOT, resolve(ROOT, 'deploy', rule));
      expect(host).toBe('ops/prometheus/vigie-alerts.yml');
      expect(m).toContainEqual({ host, container: posix.resolve('/etc/prometheus', rule) });
    }
  });

  it('deploy/prometheus.yml passes promtool check config, rule files included', async () => {
    const r = await promtool(['check', 'config', 'deploy/prometheus.yml'], { cwd: ROOT });
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${prometheusYml.rule_files.length} rule files found`);
    expect(r.stdout).toContain(`SUCCESS: ${alertRules.flatMap((g) => g.rules).length} rules found`);
  });

  it('deploy/prometheus.yml loads the alert rules in a real Prometheus', async () => {
    const prom = await startPrometheus({ configFile: join(ROOT, 'deploy/prometheus.yml') });
    try {
      const data = await prom.api<{ groups: { name: string; file: string; rules: { name: string; type: string }[] }[] }>('rules');
      expect(data.groups.map((g) => g.name)).toEqual(alertRules.map((g) => g.name));
      for (const g of data.groups) expect(g.file).toBe(join(ROOT, 'ops/prometheus/vigie-alerts.yml'));
      const loaded = data.groups.flatMap((g) => g.rules.map((r) => `${r.type}:${r.name}`));
      expect(loaded).toEqual(alertRules.flatMap((g) => g.rules.map((r) => `alerting:${r.alert}`)));
      // Targets reach the scrape manager shortly after startup.
      let active: string[] = [];
      for (const deadline = Date.now() + 15_000; active.length === 0 && Date.now() < deadline; ) {
        const targets = await prom.api<{ activeTargets: { labels: { job: string; instance: string } }[] }>('targets');
        active = targets.activeTargets.map((t) => `${t.labels.job}/${t.labels.instance}`);
        if (active.length === 0) await new Promise((r) => setTimeout(r, 250));
      }
      expect(active).toEqual(['vigie/vigie:9464']);
    } finally {
      await prom.stop();
    }
  });

  it("provisions Grafana with the compose Prometheus as default data source and the Vigie dashboard", () => {
    const m = mounts('grafana');
    expect(m).toContainEqual({ host: 'ops/grafana/provisioning', container: '/etc/grafana/provisioning' });
    const dir = join(ROOT, 'ops/grafana/provisioning');
    expect(readdirSync(dir).sort()).toEqual(['dashboards', 'datasources']);
    for (const sub of readdirSync(dir)) {
      for (const f of readdirSync(join(dir, sub))) {
        expect(statSync(join(dir, sub, f)).isFile()).toBe(true);
        expect(f).toMatch(/\.ya?ml$/);
        expect((parse(readFileSync(join(dir, sub, f), 'utf8')) as { apiVersion: number }).apiVersion, f).toBe(1);
      }
    }

    const ds = (parse(read('ops/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { type: string; url: string; access: string; isDefault: boolean; uid: string }[] }).datasources;
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({ type: 'prometheus', access: 'proxy', isDefault: true });
    const url = new URL(ds[0].url);
    expect(Object.keys(services)).toContain(url.hostname);
    expect(containerPort(url.hostname, 9090)).toBe(Number(url.port));

    const providers = (parse(read('ops/grafana/provisioning/dashboards/vigie.yml')) as { providers: { type: string; options: { path: string } }[] }).providers;
    expect(providers).toHaveLength(1);
    expect(providers[0].type).toBe('file');
    const dashboardMount = m.find((x) => x.host === 'ops/grafana/vigie-dashboard.json');
    expect(dashboardMount, 'the dashboard is mounted').toBeDefined();
    expect(posix.dirname(dashboardMount!.container)).toBe(providers[0].options.path);
    expect(dashboardMount!.container.endsWith('.json')).toBe(true);

    // The dashboard's data source variable falls back on the default Prometheus: nothing pinned to another uid.
    const dashboard = JSON.parse(read('ops/grafana/vigie-dashboard.json')) as { uid: string; templating: { list: { type: string; query?: string; current?: { value?: string } }[] } };
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable?.query).toBe(ds[0].type);
    expect([undefined, ds[0].uid]).toContain(variable?.current?.value);
    expect(dirname(join(ROOT, dashboardMount!.host))).toBe(join(ROOT, 'ops/grafana'));
  });
});
