/**
 * The picture of docs/adaptive.md, from a real run: an `error_rate` controller protecting an
 * upstream that fails for ten seconds.
 *
 *   make adaptive-plot     (or: node dist/bench/bench/adaptive-scenario.js [--seconds 40])
 *
 * Starts the BUILT service (`node dist/cli.js serve`, memory backend, loopback ports) on a temp
 * config like examples/adaptive/ratelimit.yaml (interval 2s, min_samples 20, floor 0.2,
 * increase 0.2, node limit 100/second), then for ~40 s:
 *
 * - offers ~150 ShouldRateLimit calls per second (hits 1) over gRPC, open loop;
 * - sends every call answered OK to a simulated upstream in this process, which fails with
 *   probability 0.7 from 10 s to 20 s and never otherwise;
 * - reports each outcome (503 or 200, upstream_cluster `checkout`) to the service on a real
 *   `AccessLogService/StreamAccessLogs` stream, flushed every 250 ms like Envoy's buffer (the
 *   calls answered OVER_LIMIT go on it too, with flag RL, as Envoy logs them; the service skips them);
 * - records every 250 ms the offered and admitted rates, the error ratio of the admitted calls
 *   and the effective limit (`current_limit.requests_per_unit` of the latest answer).
 *
 * Writes bench/results/adaptive-scenario.csv and docs/img/adaptive-error-rate.svg (hand-written
 * SVG, no dependency) and prints the reaction time, the recovery time and admitted vs offered
 * during the failure.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { credentials, Client as GrpcClient, Metadata } from '@grpc/grpc-js';
import { RateLimitResponse_Code } from '../src/gen/envoy/service/ratelimit/v3/rls.js';
import { startServeProcess } from '../test/support/cli-process.js';
import { type EntrySpec, encodeAccessLogs } from '../test/support/envoy-access-log.js';
import { createRlsClient } from '../test/support/grpc-client.js';
import { mulberry32 } from './load/request-bodies.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '40' },
    rate: { type: 'string', default: '150' },
    csv: { type: 'string', default: join(ROOT, 'bench/results/adaptive-scenario.csv') },
    svg: { type: 'string', default: join(ROOT, 'docs/img/adaptive-error-rate.svg') },
  },
});
const DURATION_S = Number(values.seconds);
const OFFERED_PER_S = Number(values.rate);
const FAIL_START_S = 10;
const FAIL_END_S = 20;
const FAIL_PROBABILITY = 0.7;
const LIMIT = 100;
const SAMPLE_MS = 250;
const FLUSH_MS = 250;
const TOKEN = 'scenario-token';

const CONFIG = `domain: api
adaptive:
  - name: checkout-health
    type: error_rate
    match: {upstream_cluster: checkout}
    error_threshold: 0.2
    min_samples: 20
    interval: 2s
    decrease: 0.5
    increase: 0.2
    floor: 0.2
descriptors:
  - key: path
    value: /checkout
    rate_limit: {unit: second, requests_per_unit: ${LIMIT}}
    adaptive: [checkout-health]
`;

/** One 250 ms window: its counts, and the rates over the last second (this window and the 3 before). */
interface Sample {
  t: number;
  offeredCount: number;
  admittedCount: number;
  errorCount: number;
  /** Per second over the trailing 1 s: the limit's unit is a second, so a 250 ms window alone shows its bursts. */
  offered: number;
  admitted: number;
  /** Errors / admitted over the trailing 1 s; undefined when nothing was admitted. */
  errorRatio: number | undefined;
  limit: number;
}

const TRAILING = 1000 / SAMPLE_MS;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'adaptive-scenario-'));
  writeFileSync(join(dir, 'ratelimit.yaml'), CONFIG);
  const server = await startServeProcess(
    ['--config', dir, '--backend', 'memory', '--log-level', 'info'],
    { ADAPTIVE_SIGNAL_TOKEN: TOKEN },
    'listening',
    { cli: join(ROOT, 'dist/cli.js') },
  );
  const address = `127.0.0.1:${server.grpcPort}`;
  const rls = createRlsClient(address);
  const logClient = new GrpcClient(address, credentials.createInsecure());
  let streamError: Error | undefined;
  const stream = logClient.makeClientStreamRequest(
    '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs',
    (b: Buffer) => b,
    (b: Buffer) => b,
    new Metadata(),
    (error) => {
      if (error) streamError = error;
    },
  );

  const random = mulberry32(42);
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;
  const failing = (t: number) => t >= FAIL_START_S && t < FAIL_END_S;

  let buffered: EntrySpec[] = [];
  let window = { offered: 0, admitted: 0, errors: 0 };
  let latestLimit = LIMIT;
  let latestLimitAt = -1;
  const samples: Sample[] = [];
  let reactionAt: number | undefined;
  let recoveredAt: number | undefined;
  let minLimit = LIMIT;
  let offeredDuringFailure = 0;
  let admittedDuringFailure = 0;
  let sent = 0;
  let answered = 0;
  let failedCalls = 0;

  const call = () => {
    const sentAt = now();
    sent++;
    window.offered++;
    if (failing(sentAt)) offeredDuringFailure++;
    rls
      .shouldRateLimit({
        domain: 'api',
        descriptors: [{ entries: [{ key: 'path', value: '/checkout' }] }],
        hitsAddend: 1,
      })
      .then((reply) => {
        answered++;
        const at = now();
        const limit = reply.statuses[0]?.currentLimit?.requestsPerUnit;
        if (limit !== undefined && at >= latestLimitAt) {
          latestLimit = limit;
          latestLimitAt = at;
          minLimit = Math.min(minLimit, limit);
          if (reactionAt === undefined && at >= FAIL_START_S && limit < LIMIT) reactionAt = at;
          if (recoveredAt === undefined && reactionAt !== undefined && at >= FAIL_END_S && limit >= LIMIT) {
            recoveredAt = at;
          }
        }
        if (reply.overallCode === RateLimitResponse_Code.OK) {
          window.admitted++;
          if (failing(sentAt)) admittedDuringFailure++;
          // the upstream answers the admitted request at once
          const error = failing(at) && random() < FAIL_PROBABILITY;
          if (error) window.errors++;
          buffered.push({ cluster: 'checkout', route: 'checkout', code: error ? 503 : 200 });
        } else {
          // Envoy's 429 for a request the ratelimit filter rejected: flag RL, no upstream_cluster
          buffered.push({ route: 'checkout', code: 429, flags: { rate_limited: true } });
        }
      })
      .catch(() => {
        failedCalls++;
      });
  };

  // open loop: every 5 ms, send what the offered rate owes by now
  const loadTimer = setInterval(() => {
    const t = now();
    if (t >= DURATION_S) return;
    const due = Math.floor(t * OFFERED_PER_S);
    while (sent < due) call();
  }, 5);
  const flushTimer = setInterval(() => {
    if (buffered.length === 0) return;
    const batch = buffered;
    buffered = [];
    void encodeAccessLogs(batch).then((bytes) => stream.write(bytes));
  }, FLUSH_MS);
  const sampleTimer = setInterval(() => {
    const w = window;
    window = { offered: 0, admitted: 0, errors: 0 };
    const last = samples.slice(-(TRAILING - 1));
    const sum = (pick: (s: { offeredCount: number; admittedCount: number; errorCount: number }) => number) =>
      last.reduce((acc, s) => acc + pick(s), 0);
    const offered = sum((s) => s.offeredCount) + w.offered;
    const admitted = sum((s) => s.admittedCount) + w.admitted;
    const errors = sum((s) => s.errorCount) + w.errors;
    const span = (last.length + 1) * (SAMPLE_MS / 1000);
    samples.push({
      t: Math.round(now() * 1000) / 1000,
      offeredCount: w.offered,
      admittedCount: w.admitted,
      errorCount: w.errors,
      offered: offered / span,
      admitted: admitted / span,
      errorRatio: admitted > 0 ? errors / admitted : undefined,
      limit: latestLimit,
    });
  }, SAMPLE_MS);

  await new Promise((resolve) => setTimeout(resolve, DURATION_S * 1000 + 300));
  clearInterval(loadTimer);
  clearInterval(flushTimer);
  clearInterval(sampleTimer);
  await new Promise((resolve) => setTimeout(resolve, 300));
  stream.end();
  rls.close();
  logClient.close();
  const logs = server.logs.filter(
    (l) => typeof l.msg === 'string' && (l.msg as string).startsWith('adaptive'),
  );
  await server.stop();
  rmSync(dir, { recursive: true, force: true });

  mkdirSync(dirname(values.csv), { recursive: true });
  writeFileSync(
    values.csv,
    `${[
      't_s,offered_250ms,admitted_250ms,errors_250ms,offered_rps_1s,admitted_rps_1s,error_ratio_admitted_1s,effective_limit_rps',
      ...samples.map((s) =>
        [
          s.t.toFixed(3),
          s.offeredCount,
          s.admittedCount,
          s.errorCount,
          s.offered.toFixed(1),
          s.admitted.toFixed(1),
          s.errorRatio?.toFixed(3) ?? '',
          s.limit,
        ].join(','),
      ),
    ].join('\n')}\n`,
  );
  const result = {
    offeredPerSecond: OFFERED_PER_S,
    limit: LIMIT,
    failure: { from: FAIL_START_S, to: FAIL_END_S, probability: FAIL_PROBABILITY },
    reactionSeconds: reactionAt === undefined ? null : round(reactionAt - FAIL_START_S),
    recoverySeconds: recoveredAt === undefined ? null : round(recoveredAt - FAIL_END_S),
    lowestLimit: minLimit,
    duringFailure: { offered: offeredDuringFailure, admitted: admittedDuringFailure },
    calls: { sent, answered, failed: failedCalls },
    accessLogStreamError: streamError?.message ?? null,
  };
  mkdirSync(dirname(values.svg), { recursive: true });
  writeFileSync(values.svg, chart(samples, result.reactionSeconds, result.recoverySeconds));

  for (const line of logs) process.stderr.write(`${JSON.stringify(line)}\n`);
  process.stdout.write(
    [
      `reaction time: ${fmt(result.reactionSeconds)} (failure start at ${FAIL_START_S} s -> first answer with current_limit < ${LIMIT})`,
      `recovery time: ${fmt(result.recoverySeconds)} (failure end at ${FAIL_END_S} s -> current_limit back to ${LIMIT})`,
      `lowest effective limit: ${minLimit}/s`,
      `during the failure: admitted ${admittedDuringFailure} of ${offeredDuringFailure} offered (${((100 * admittedDuringFailure) / Math.max(1, offeredDuringFailure)).toFixed(1)} %; the static limit would admit ~${LIMIT * (FAIL_END_S - FAIL_START_S)})`,
      `wrote ${values.csv} and ${values.svg}`,
      JSON.stringify(result),
      '',
    ].join('\n'),
  );
}

const round = (x: number) => Math.round(x * 100) / 100;
const fmt = (x: number | null) => (x === null ? 'not observed' : `${x.toFixed(2)} s`);

/** A line chart with two y axes, by hand: the rates on the left, the error ratio (0–1) on the right. */
function chart(samples: Sample[], reaction: number | null, recovery: number | null): string {
  const W = 900;
  const H = 460;
  const m = { left: 64, right: 64, top: 48, bottom: 92 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const xMax = DURATION_S;
  const yMax = Math.ceil(Math.max(OFFERED_PER_S, LIMIT, ...samples.map((s) => s.offered)) / 25) * 25;
  const x = (t: number) => m.left + (Math.min(t, xMax) / xMax) * pw;
  const yl = (v: number) => m.top + ph - (v / yMax) * ph;
  const yr = (v: number) => m.top + ph - v * ph;
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">error_rate controller: upstream fails (p = ${FAIL_PROBABILITY}) from ${FAIL_START_S} s to ${FAIL_END_S} s</text>`,
    // the failing period
    `<rect x="${f(x(FAIL_START_S))}" y="${m.top}" width="${f(x(FAIL_END_S) - x(FAIL_START_S))}" height="${ph}" fill="#d62728" fill-opacity="0.10"/>`,
    `<text x="${f((x(FAIL_START_S) + x(FAIL_END_S)) / 2)}" y="${m.top + 14}" text-anchor="middle" fill="#a01010">upstream failing</text>`,
  );
  // grid and ticks
  for (let t = 0; t <= xMax; t += 5) {
    out.push(
      `<line x1="${f(x(t))}" y1="${m.top}" x2="${f(x(t))}" y2="${m.top + ph}" stroke="#e6e6e6"/>`,
      `<line x1="${f(x(t))}" y1="${m.top + ph}" x2="${f(x(t))}" y2="${m.top + ph + 5}" stroke="#333"/>`,
      `<text x="${f(x(t))}" y="${m.top + ph + 18}" text-anchor="middle">${t}</text>`,
    );
  }
  for (let v = 0; v <= yMax; v += 25) {
    out.push(
      `<line x1="${m.left}" y1="${f(yl(v))}" x2="${m.left + pw}" y2="${f(yl(v))}" stroke="#e6e6e6"/>`,
      `<line x1="${m.left - 5}" y1="${f(yl(v))}" x2="${m.left}" y2="${f(yl(v))}" stroke="#333"/>`,
      `<text x="${m.left - 8}" y="${f(yl(v) + 4)}" text-anchor="end">${v}</text>`,
    );
  }
  for (let i = 0; i <= 5; i++) {
    const v = i / 5;
    out.push(
      `<line x1="${m.left + pw}" y1="${f(yr(v))}" x2="${m.left + pw + 5}" y2="${f(yr(v))}" stroke="#333"/>`,
      `<text x="${m.left + pw + 8}" y="${f(yr(v) + 4)}">${v.toFixed(1)}</text>`,
    );
  }
  out.push(
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}" stroke="#333"/>`,
    `<line x1="${m.left + pw}" y1="${m.top}" x2="${m.left + pw}" y2="${m.top + ph}" stroke="#333"/>`,
    `<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${m.top + ph + 38}" text-anchor="middle">time (s)</text>`,
    `<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">requests per second</text>`,
    `<text transform="translate(${W - 16} ${m.top + ph / 2}) rotate(90)" text-anchor="middle">error ratio of admitted requests</text>`,
  );
  const series = [
    { name: 'offered req/s', color: '#7f7f7f', dash: '4 3', y: (s: Sample) => yl(s.offered) },
    { name: 'admitted req/s', color: '#1f77b4', dash: '', y: (s: Sample) => yl(s.admitted) },
    { name: 'effective limit req/s', color: '#2ca02c', dash: '', y: (s: Sample) => yl(s.limit), step: true },
    {
      name: 'error ratio (right axis)',
      color: '#d62728',
      dash: '',
      y: (s: Sample) => (s.errorRatio === undefined ? undefined : yr(s.errorRatio)),
    },
  ];
  for (const s of series) {
    const points: string[] = [];
    let previous: number | undefined;
    for (const sample of samples) {
      const y = s.y(sample);
      if (y === undefined) continue;
      if ('step' in s && previous !== undefined)
        points.push(`${f(x(sample.t - SAMPLE_MS / 1000))},${f(previous)}`);
      points.push(`${f(x(sample.t))},${f(y)}`);
      previous = y;
    }
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${points.join(' ')}"/>`,
    );
  }
  // legend, below the plot
  const ly = H - 22;
  series.forEach((s, i) => {
    const lx = m.left + i * 200;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 30}" y="${ly + 4}">${s.name}</text>`,
    );
  });
  out.push(
    `<text x="${W / 2}" y="${m.top - 8}" text-anchor="middle" fill="#444">limit ${LIMIT}/s, offered ${OFFERED_PER_S}/s, interval 2 s, rates over the last 1 s; reaction ${fmt(reaction)}, recovery ${fmt(recovery)} (memory backend, one run)</text>`,
    '</svg>',
    '',
  );
  return out.join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
