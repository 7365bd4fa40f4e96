/**
 * Telemetry scenario: HTTP request logs from a handful of services in three regions,
 * with a diurnal traffic pattern and labelled incidents (a service's error spike,
 * latency degradation, or traffic drop) lasting minutes. During an incident, every
 * event emitted by the affected service carries the incident's label and case id.
 */
import { ArrivalStage, Rng, checkCommonOptions, type GenEvent } from './rng.js';

export interface TelemetryOptions {
  seed: number;
  /** Epoch ms of the first event time. */
  start: number;
  /** Mean events per second of event time (averaged over a day). */
  ratePerSecond: number;
  /** Number of services (default 8). */
  services?: number;
  /** Probability, per normal event, that an incident starts (default 3e-5). */
  incidentRate?: number;
  /** Max arrival delay: event times can lag the max seen so far by at most this (default 0). */
  disorderMs?: number;
  /** Traffic follows the time of day (default true); false: a flat rate. */
  diurnal?: boolean;
}

export const INCIDENT_TYPES = ['error_spike', 'latency_degradation', 'traffic_drop'] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];

export const TELEMETRY_DEFAULTS = { services: 8, incidentRate: 3e-5, disorderMs: 0 } as const;

const SERVICE_NAMES = [
  'api-gateway', 'checkout', 'payments', 'auth', 'search', 'catalog', 'cart', 'inventory',
  'shipping', 'notifications', 'recommendations', 'user-profile',
];
const REGIONS = ['eu-west-1', 'us-east-1', 'ap-southeast-1'];
const REGION_CUM = Float64Array.from([0.5, 0.85, 1]);
const REGION_LATENCY = [1, 1.08, 1.25];
const CODES_5XX = [500, 502, 503, 504];
const CUM_5XX = Float64Array.from([0.4, 0.65, 0.9, 1]);
const CODES_4XX = [400, 401, 403, 404, 409, 429];
const CUM_4XX = Float64Array.from([0.2, 0.35, 0.45, 0.8, 0.9, 1]);

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Diurnal amplitude: rate(t) = R (1 + A sin(2π (hourUTC - 8) / 24)), peak at 14:00 UTC. */
const DIURNAL_AMPLITUDE = 0.6;

interface Endpoint {
  name: string;
  mu: number;
  sigma: number;
  p4xx: number;
  okStatus: number;
}

interface Incident {
  type: IncidentType;
  caseId: string;
  end: number;
  p5xx: number;
  latencyMult: number;
  /** Fraction of requests that still get through (traffic_drop). */
  keep: number;
}

interface Service {
  name: string;
  endpoints: Endpoint[];
  endpointCum: Float64Array;
  p5xx: number;
  incident: Incident | null;
}

function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let s = 0;
  for (let i = 0; i < weights.length; i++) out[i] = s += weights[i];
  return out;
}

export class TelemetryGenerator {
  private readonly services: Service[] = [];
  private readonly serviceCum: Float64Array;
  private readonly traffic: Rng;
  private readonly incidents: Rng;
  private readonly stage: ArrivalStage;
  private readonly meanGapMs: number;
  private readonly incidentRate: number;
  private readonly amplitude: number;
  private caseCount = 0;
  /** Event time (float ms) of the last candidate request. */
  private t: number;

  constructor(opts: TelemetryOptions) {
    checkCommonOptions(opts);
    const n = opts.services ?? TELEMETRY_DEFAULTS.services;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`services must be a positive integer, got ${n}`);
    this.incidentRate = opts.incidentRate ?? TELEMETRY_DEFAULTS.incidentRate;
    if (!(this.incidentRate >= 0 && this.incidentRate <= 1)) throw new RangeError(`incidentRate must be in [0, 1], got ${this.incidentRate}`);
    const root = new Rng(opts.seed);
    this.traffic = root.fork('telemetry/traffic');
    this.incidents = root.fork('telemetry/incidents');
    this.serviceCum = this.setup(root.fork('telemetry/services'), n);
    this.amplitude = opts.diurnal === false ? 0 : DIURNAL_AMPLITUDE;
    this.meanGapMs = 1000 / (opts.ratePerSecond * (1 + this.amplitude));
    this.t = opts.start;
    this.stage = new ArrivalStage(() => this.pull(), opts.disorderMs ?? TELEMETRY_DEFAULTS.disorderMs, root.fork('telemetry/arrival'), 't-');
  }

  /** The next `count` events, in arrival order. */
  next(count: number): Record<string, unknown>[] {
    return this.stage.next(count);
  }

  private setup(r: Rng, n: number): Float64Array {
    const weights: number[] = [];
    for (let i = 0; i < n; i++) {
      const name = i < SERVICE_NAMES.length ? SERVICE_NAMES[i] : `service-${i + 1}`;
      const res = name.replace(/^api-/, '');
      const templates: [string, number, number][] = [
        // [endpoint, relative traffic, latency factor]
        [`GET /v1/${res}`, 4, 1.2],
        [`GET /v1/${res}/{id}`, 6, 0.7],
        [`POST /v1/${res}`, 2, 1.6],
        [`PUT /v1/${res}/{id}`, 1, 1.4],
        [`DELETE /v1/${res}/{id}`, 0.3, 1],
        ['GET /healthz', 1, 0.05],
      ];
      const k = r.int(3, 6);
      const base = Math.min(300, Math.max(8, r.lognormal(Math.log(45), 0.6)));
      const endpoints: Endpoint[] = [];
      const ew: number[] = [];
      for (let j = 0; j < k; j++) {
        const [ep, w, lf] = templates[j === k - 1 && k < 6 ? 5 : j];
        const method = ep.slice(0, ep.indexOf(' '));
        endpoints.push({
          name: ep,
          mu: Math.log(Math.max(1, base * lf * r.uniform(0.8, 1.25))),
          sigma: r.uniform(0.3, 0.55),
          p4xx: ep === 'GET /healthz' ? 0 : r.uniform(0.01, 0.04),
          okStatus: method === 'POST' ? 201 : method === 'DELETE' ? 204 : 200,
        });
        ew.push(w * r.uniform(0.7, 1.4));
      }
      this.services.push({ name, endpoints, endpointCum: cumulative(ew), p5xx: r.uniform(0.003, 0.007), incident: null });
      weights.push(r.lognormal(0, 0.5));
    }
    return cumulative(weights);
  }

  /** Next event in event-time order: a thinned Poisson process with a diurnal rate. */
  private pull(): GenEvent {
    const r = this.traffic;
    const twoPiOverDay = (2 * Math.PI) / DAY;
    for (;;) {
      this.t += r.exp(1) * this.meanGapMs;
      const t = this.t;
      const level = 1 + this.amplitude * Math.sin(twoPiOverDay * (t - 8 * 3_600_000));
      if (r.float() * (1 + this.amplitude) >= level) continue;
      const svc = this.services[r.weighted(this.serviceCum)];
      let inc = svc.incident;
      if (inc !== null && t >= inc.end) inc = svc.incident = null;
      if (inc !== null && inc.type === 'traffic_drop' && !r.chance(inc.keep)) continue;
      const ep = svc.endpoints[r.weighted(svc.endpointCum)];
      const regionIdx = r.weighted(REGION_CUM);
      let latency = r.lognormal(ep.mu, ep.sigma) * REGION_LATENCY[regionIdx] * (0.9 + 0.1 * level);
      const p5xx = inc !== null && inc.type === 'error_spike' ? inc.p5xx : svc.p5xx;
      if (inc !== null && inc.type === 'latency_degradation') latency *= inc.latencyMult;
      const u = r.float();
      const status = u < p5xx ? CODES_5XX[r.weighted(CUM_5XX)] : u < p5xx + ep.p4xx ? CODES_4XX[r.weighted(CUM_4XX)] : ep.okStatus;
      const ev: GenEvent = {
        id: '',
        ts: Math.floor(t),
        service: svc.name,
        endpoint: ep.name,
        region: REGIONS[regionIdx],
        status,
        latency_ms: Math.round(latency * 10) / 10,
        label: inc === null ? null : inc.type,
        case: inc === null ? null : inc.caseId,
      };
      if (this.incidentRate > 0 && this.incidents.chance(this.incidentRate)) this.startIncident(t);
      return ev;
    }
  }

  private startIncident(t: number): void {
    const f = this.incidents;
    const svc = this.services[f.weighted(this.serviceCum)];
    const type = f.pick(INCIDENT_TYPES);
    if (svc.incident !== null && t < svc.incident.end) return;
    const minutes = type === 'error_spike' ? f.int(3, 15) : type === 'latency_degradation' ? f.int(5, 20) : f.int(4, 12);
    svc.incident = {
      type,
      caseId: `${type}-${++this.caseCount}`,
      end: t + minutes * MINUTE,
      p5xx: f.uniform(0.2, 0.5),
      latencyMult: f.uniform(5, 10),
      keep: f.uniform(0.03, 0.15),
    };
  }
}
