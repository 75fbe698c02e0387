import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';

/** A rendered Kubernetes object, loosely typed: tests read the fields they check. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML; each test asserts the shape it reads
  [field: string]: any;
};

/** True when `kubectl` (with its built-in kustomize) can run here. */
export function kubectlAvailable(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** `kubectl kustomize DIR` (offline), parsed: one object per YAML document. */
export async function kustomize(dir: string): Promise<K8sObject[]> {
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', dir], {
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseAllDocuments(stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors.join('; ')}`);
    return doc.toJS() as K8sObject;
  });
}

type Validating = new (data: never) => { validate(): void };

/** The schema of each kind the manifests use (kubernetes-models: the Kubernetes OpenAPI schemas). */
const MODELS: Readonly<Record<string, Validating>> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/**
 * Validates an object against its kind's schema (types, required fields, enums, formats);
 * throws naming the object. A kind without a schema here throws too. The schemas allow
 * unknown fields (as the OpenAPI documents do), so a misspelt field is not caught here.
 */
export function validateObject(object: K8sObject): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (Model === undefined) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  try {
    new Model(object as never).validate();
  } catch (error) {
    throw new Error(`${object.kind}/${object.metadata.name}: ${(error as Error).message}`);
  }
}

export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind}/${name} in the render`);
  return found;
}

/** Every key/value of `selector` is among `labels`, and the selector is not empty. */
export function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  const pairs = Object.entries(selector ?? {});
  return pairs.length > 0 && pairs.every(([key, value]) => labels[key] === value);
}

interface ContainerPort {
  name?: string;
  containerPort: number;
}

/** A port reference (name or number) as a container port number, or undefined when the container has none such. */
export function containerPort(
  container: { ports?: ContainerPort[] },
  ref: string | number | undefined,
): number | undefined {
  const port = (container.ports ?? []).find((p) =>
    typeof ref === 'number' ? p.containerPort === ref : p.name === ref,
  );
  return port?.containerPort;
}

/**
 * The env a container sets, as the process would see it: `value` as given, a `valueFrom`
 * (Secret, field) as a placeholder, since only the name matters to whoever reads it.
 */
export function containerEnv(container: {
  env?: { name: string; value?: string; valueFrom?: unknown }[];
}): Record<string, string> {
  return Object.fromEntries(
    (container.env ?? []).map(({ name, value, valueFrom }) => [
      name,
      valueFrom === undefined ? (value ?? '') : 'from-a-secret',
    ]),
  );
}

/**
 * An env whose reads by name are recorded. It enumerates as empty, so only the code that
 * asks for a name by name counts as reading it (not a scan of every variable for unknown
 * names, which reads them all).
 */
export function recordingEnv(values: Record<string, string>): {
  env: Record<string, string>;
  read: Set<string>;
} {
  const read = new Set<string>();
  const env = new Proxy(values, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return typeof key === 'string' ? target[key] : undefined;
    },
    has(target, key) {
      if (typeof key === 'string') read.add(key);
      return key in target;
    },
    ownKeys: () => [],
  });
  return { env, read };
}
