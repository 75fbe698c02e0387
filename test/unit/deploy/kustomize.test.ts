// deploy/kubernetes rendered as an operator applies it (`kubectl kustomize`, offline), each object
// validated against the Kubernetes schemas (kubernetes-models), then the references between the
// objects checked: Service → container ports, selectors → pod labels, PDB/HPA/ServiceMonitor →
// Deployment/Service, volumes → ConfigMaps, probes → ports, NetworkPolicy → ports, and every env
// var against what our settings loader reads. What the pods do on a cluster is not tested here.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import { loadSettings, type Settings } from '../../../src/config/settings/settings.js';
import { HEALTH_SERVICE_NAMES } from '../../../src/health/health-state.js';
import { finalStage, parseDockerfile } from '../../support/dockerfile.js';
import {
  containerEnv,
  containerPort,
  find,
  type K8sObject,
  kubectlAvailable,
  kustomize,
  recordingEnv,
  selects,
  validateObject,
} from '../../support/kubernetes.js';

const root = (rel: string): string => fileURLToPath(new URL(`../../../${rel}`, import.meta.url));
const OVERLAYS = ['base', 'overlays/dev', 'overlays/production'] as const;
/** Replicas each render asks for at least (the HPA's floor included). */
const MIN_REPLICAS: Record<(typeof OVERLAYS)[number], number> = {
  base: 2,
  'overlays/dev': 2,
  'overlays/production': 3,
};
const imageUser = finalStage(parseDockerfile(readFileSync(root('deploy/docker/Dockerfile'), 'utf8'))).user;

const hasKubectl = kubectlAvailable();
if (!hasKubectl) {
  console.warn(
    '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' +
      '!!! kubectl is not installed: deploy/kubernetes is NOT rendered, validated or checked here. !!!\n' +
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n',
  );
}

describe.skipIf(!hasKubectl).each(OVERLAYS)('deploy/kubernetes/%s', (overlay) => {
  let objects: K8sObject[] = [];
  let deployment: K8sObject;
  // biome-ignore lint/suspicious/noExplicitAny: untyped manifest objects (see K8sObject)
  let pod: any;
  // biome-ignore lint/suspicious/noExplicitAny: untyped manifest objects (see K8sObject)
  let container: any;
  let env: Record<string, string>;
  let settings: Settings;

  beforeAll(async () => {
    objects = await kustomize(root(`deploy/kubernetes/${overlay}`));
    deployment = find(objects, 'Deployment', 'ratelimit');
    pod = deployment.spec.template;
    container = pod.spec.containers.find((c: { name: string }) => c.name === 'ratelimit');
    env = containerEnv(container);
    settings = loadSettings(env).settings;
  }, 60_000);

  const podLabels = (): Record<string, string> => pod.metadata.labels;
  const deployments = (): K8sObject[] => objects.filter((o) => o.kind === 'Deployment');

  it('renders only objects that validate against their Kubernetes schemas', () => {
    expect(objects.length).toBeGreaterThanOrEqual(7);
    for (const object of objects) validateObject(object);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of [
      'Deployment',
      'Service',
      'ConfigMap',
      'PodDisruptionBudget',
      'HorizontalPodAutoscaler',
    ])
      expect(kinds).toContain(kind);
    expect(kinds).toContain('NetworkPolicy');
    expect(kinds).toContain('ServiceMonitor');
  });

  it('runs replicas of the Redis backend, selected by the labels its pods carry', () => {
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(MIN_REPLICAS[overlay]);
    expect(selects(deployment.spec.selector.matchLabels, podLabels())).toBe(true);
    expect(settings.backend).toBe('redis');
    expect(container.image).toMatch(/^[\w./-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/);
    expect(container.image).not.toMatch(/:latest$/);
  });

  it('sets only env vars our settings read, each once, with values they accept and no warning', () => {
    const names: string[] = container.env.map((e: { name: string }) => e.name);
    expect(new Set(names).size).toBe(names.length);
    const recorded = recordingEnv(env);
    loadSettings(recorded.env);
    expect(names.filter((name) => !recorded.read.has(name))).toEqual([]);
    expect(loadSettings(env).warnings).toEqual([]);
  });

  it('exposes the ports the settings listen on, and the Service targets them by name', () => {
    expect(containerPort(container, 'grpc')).toBe(settings.grpcPort);
    expect(containerPort(container, 'http')).toBe(settings.httpPort);
    expect(containerPort(container, 'debug')).toBe(settings.debugPort);
    const service = find(objects, 'Service', 'ratelimit');
    expect(selects(service.spec.selector, podLabels())).toBe(true);
    const ports = service.spec.ports as { name: string; port: number; targetPort: string | number }[];
    expect(ports.map((p) => p.name).sort()).toEqual(['debug', 'grpc', 'http']);
    for (const port of ports) expect(containerPort(container, port.targetPort), port.name).toBeDefined();
  });

  it('is ready on gRPC health (a service we answer) and live on the debug port, which Redis cannot fail', () => {
    const readiness = container.readinessProbe;
    expect(containerPort(container, readiness.grpc.port)).toBe(settings.grpcPort);
    expect(HEALTH_SERVICE_NAMES).toContain(readiness.grpc.service ?? '');
    // gRPC health and /healthcheck are NOT_SERVING while Redis is down at startup: not for liveness
    const liveness = container.livenessProbe;
    expect(liveness.grpc).toBeUndefined();
    expect(liveness.httpGet).toMatchObject({ path: '/' });
    expect(containerPort(container, liveness.httpGet.port)).toBe(settings.debugPort);
  });

  it('lets a pod drain: grace period > preStop sleep + SHUTDOWN_GRACE_PERIOD', () => {
    const command: string[] = container.lifecycle.preStop.exec.command;
    expect(command).toEqual(['sleep', expect.stringMatching(/^\d+$/)]);
    const sleepS = Number(command[1]);
    expect(sleepS).toBeGreaterThan(0);
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(sleepS + settings.shutdownGraceMs / 1000);
  });

  it('mounts its ConfigMap as the directory the settings load (no subPath, so updates reach it)', () => {
    const mount = container.volumeMounts.find((m: { mountPath: string }) =>
      settings.configPaths.includes(m.mountPath),
    );
    expect(mount, `no volume at ${settings.configPaths.join()}`).toBeDefined();
    expect(mount.subPath).toBeUndefined();
    const volume = pod.spec.volumes.find((v: { name: string }) => v.name === mount.name);
    const configMap = find(objects, 'ConfigMap', volume.configMap.name);
    const files = Object.entries(configMap.data as Record<string, string>)
      .filter(([file]) => /\.ya?ml$/.test(file))
      .map(([path, content]) => ({ path, content }));
    expect(files.length).toBeGreaterThan(0);
    // the rate limit config it ships loads as the service loads it
    const built = buildConfig(files, { mergeDomains: settings.mergeDomainConfig });
    expect(built.ok ? [] : built.problems).toEqual([]);
  });

  it('mounts only volumes the pod declares, and ConfigMaps the render holds', () => {
    for (const d of deployments()) {
      const spec = d.spec.template.spec;
      const volumes = new Set((spec.volumes ?? []).map((v: { name: string }) => v.name));
      for (const c of spec.containers)
        for (const m of c.volumeMounts ?? [])
          expect(volumes, `${d.metadata.name}: ${m.name}`).toContain(m.name);
      for (const v of spec.volumes ?? [])
        if (v.configMap !== undefined) find(objects, 'ConfigMap', v.configMap.name);
    }
  });

  it('runs every container non-root, read-only, without privileges, seccomp RuntimeDefault, with resources', () => {
    for (const d of deployments()) {
      const spec = d.spec.template.spec;
      expect(spec.securityContext, d.metadata.name).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
      for (const c of spec.containers) {
        expect(c.securityContext, c.name).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.securityContext.privileged ?? false).toBe(false);
        for (const kind of ['requests', 'limits'])
          expect(Object.keys(c.resources?.[kind] ?? {}).sort(), `${c.name} ${kind}`).toEqual([
            'cpu',
            'memory',
          ]);
      }
    }
    // the pod's user is the image's USER (what runAsNonRoot verifies)
    expect(`${pod.spec.securityContext.runAsUser}:${pod.spec.securityContext.runAsGroup}`).toBe(imageUser);
  });

  it('keeps pods through disruptions (PDB below the replica floor) and scales the Deployment (HPA)', () => {
    const pdb = find(objects, 'PodDisruptionBudget', 'ratelimit');
    expect(selects(pdb.spec.selector.matchLabels, podLabels())).toBe(true);
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'ratelimit');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'ratelimit' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(MIN_REPLICAS[overlay]);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    // a minAvailable equal to the replicas would block every node drain
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable).toBeLessThan(Math.min(hpa.spec.minReplicas, deployment.spec.replicas));
    expect(overlay !== 'overlays/production' || pdb.spec.minAvailable >= 2).toBe(true);
  });

  it('has Prometheus scrape /metrics on the Service port that serves it', () => {
    const monitor = find(objects, 'ServiceMonitor', 'ratelimit');
    const service = find(objects, 'Service', 'ratelimit');
    expect(selects(monitor.spec.selector.matchLabels, service.metadata.labels ?? {})).toBe(true);
    expect(monitor.spec.namespaceSelector).toBeUndefined(); // the Service's own namespace
    const [endpoint] = monitor.spec.endpoints;
    expect(endpoint.path).toBe('/metrics');
    const port = service.spec.ports.find((p: { name: string }) => p.name === endpoint.port);
    expect(containerPort(container, port?.targetPort)).toBe(settings.httpPort);
  });

  it('lets in gRPC from anywhere and HTTP/debug from monitoring only, and out Redis and DNS only', () => {
    const policy = find(objects, 'NetworkPolicy', 'ratelimit');
    expect(selects(policy.spec.podSelector.matchLabels, podLabels())).toBe(true);
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    type Rule = { from?: unknown[]; to?: unknown[]; ports: { port: string | number; protocol: string }[] };
    const open = (rules: Rule[], peers: 'from' | 'to') =>
      rules
        .filter((r) => r[peers] === undefined)
        .flatMap((r) => r.ports.map((p) => `${containerPort(container, p.port) ?? p.port}/${p.protocol}`));
    expect(open(policy.spec.ingress, 'from')).toEqual([`${settings.grpcPort}/TCP`]);
    const monitoring = (policy.spec.ingress as Rule[]).filter((r) =>
      JSON.stringify(r.from ?? []).includes('"kubernetes.io/metadata.name":"monitoring"'),
    );
    expect(monitoring.flatMap((r) => r.ports.map((p) => containerPort(container, p.port))).sort()).toEqual(
      [settings.debugPort, settings.httpPort].sort(),
    );
    expect(open(policy.spec.egress, 'to').sort()).toEqual(['53/TCP', '53/UDP', '6379/TCP']);
  });

  it('points REDIS_URL at a Redis port the egress rule allows, and at its Service when the render has one', () => {
    const endpoint = settings.redis?.main;
    expect(endpoint?.type).toBe('single');
    const node = endpoint?.nodes[0];
    if (node === undefined || !('host' in node))
      throw new Error(`REDIS_URL is not host:port: ${env.REDIS_URL}`);
    expect(node.port).toBe(6379);
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === node.host);
    if (overlay !== 'overlays/dev') return; // Redis runs outside the render
    if (service === undefined) throw new Error(`no Service ${node.host} for REDIS_URL`);
    const redis = deployments().find((d) => selects(service.spec.selector, d.spec.template.metadata.labels));
    const port = service.spec.ports.find((p: { port: number }) => p.port === node.port);
    expect(containerPort(redis?.spec.template.spec.containers[0], port?.targetPort)).toBe(6379);
    expect(redis?.spec.replicas).toBe(1);
    expect(redis?.spec.template.spec.containers[0].image).toMatch(/^redis:7\.\d+\.\d+/);
  });
});
