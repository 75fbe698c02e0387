import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';

/*
 * Our proto/ defines the RLS surface ourselves (see DESIGN.md "Wire contract"), and the part of
 * Envoy's xDS API the xDS config source speaks (ADS, DiscoveryRequest/Response, Node, rpc
 * Status). This test loads it next to the copy of Envoy's API inside @grpc/grpc-js-xds and
 * compares every message and enum by full name, so a typo in a number, type or label can never
 * reach Envoy or an xDS server.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const require = createRequire(import.meta.url);
const xdsDeps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
// protobufjs ships google/protobuf/descriptor.proto, which the udpa/validate annotations extend.
const protobufjsDir = path.dirname(require.resolve('protobufjs/package.json'));

const RLS_FILES = [
  'envoy/service/ratelimit/v3/rls.proto',
  'envoy/extensions/common/ratelimit/v3/ratelimit.proto',
  'envoy/type/v3/ratelimit_unit.proto',
  'envoy/config/core/v3/base.proto',
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
];

/** Every message and enum our RLS surface must define (a removal fails too). */
const SURFACE = [
  'envoy.service.ratelimit.v3.RateLimitRequest',
  'envoy.service.ratelimit.v3.RateLimitResponse',
  'envoy.service.ratelimit.v3.RateLimitResponse.Code',
  'envoy.service.ratelimit.v3.RateLimitResponse.RateLimit',
  'envoy.service.ratelimit.v3.RateLimitResponse.RateLimit.Unit',
  'envoy.service.ratelimit.v3.RateLimitResponse.Quota',
  'envoy.service.ratelimit.v3.RateLimitResponse.DescriptorStatus',
  'envoy.extensions.common.ratelimit.v3.RateLimitDescriptor',
  'envoy.extensions.common.ratelimit.v3.RateLimitDescriptor.Entry',
  'envoy.extensions.common.ratelimit.v3.RateLimitDescriptor.RateLimitOverride',
  'envoy.config.core.v3.HeaderValue',
  'envoy.type.v3.RateLimitUnit',
  ...[
    'envoy.config.core.v3.Node',
    'envoy.service.discovery.v3.DiscoveryRequest',
    'envoy.service.discovery.v3.DiscoveryResponse',
    'google.rpc.Status',
  ],
];

/**
 * The xDS client's messages: only the fields the client reads or writes are declared (the
 * others are skipped on the wire as unknown fields), so Envoy's may have more; every field we
 * declare is still compared.
 */
const SUBSETS = new Set([
  'envoy.config.core.v3.Node',
  'envoy.service.discovery.v3.DiscoveryRequest',
  'envoy.service.discovery.v3.DiscoveryResponse',
  'google.rpc.Status',
]);

/** Fields and enum values current Envoy has and the @grpc/grpc-js-xds copy predates. */
const KNOWN_NEWER = [
  'envoy.extensions.common.ratelimit.v3.RateLimitDescriptor.hits_addend = 3 .google.protobuf.UInt64Value',
  'envoy.service.ratelimit.v3.RateLimitResponse.RateLimit.Unit.WEEK = 7',
  'envoy.type.v3.RateLimitUnit.WEEK = 7',
];

const SERVICE = 'envoy.service.ratelimit.v3.RateLimitService';

function rootWithIncludes(includes: string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of includes) {
      const candidate = path.join(dir, target);
      if (statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
    }
    return target;
  };
  return root;
}

async function load(includes: string[]): Promise<protobuf.Root> {
  const root = rootWithIncludes([...includes, protobufjsDir]);
  await root.load(RLS_FILES, { keepCase: true });
  root.resolveAll();
  return root;
}

/** All messages and enums declared in files under `dir` (nested ones included). */
function declaredIn(ns: protobuf.NamespaceBase, dir: string, out: Map<string, protobuf.ReflectionObject>) {
  for (const child of ns.nestedArray) {
    const isDecl = child instanceof protobuf.Type || child instanceof protobuf.Enum;
    if (isDecl && child.filename?.startsWith(dir)) out.set(child.fullName.slice(1), child);
    if (child instanceof protobuf.Namespace) declaredIn(child, dir, out);
  }
  return out;
}

function fieldShape(field: protobuf.Field) {
  field.resolve();
  return {
    id: field.id,
    type: field.resolvedType ? field.resolvedType.fullName : field.type,
    repeated: field.repeated,
    map: field.map,
    oneof: field.partOf?.name ?? null,
  };
}

let ours: protobuf.Root;
let envoy: protobuf.Root;
let ourDecls: Map<string, protobuf.ReflectionObject>;

beforeAll(async () => {
  ours = await load([path.join(repoRoot, 'proto')]);
  envoy = await load(
    ['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((d) => path.join(xdsDeps, d)),
  );
  ourDecls = declaredIn(ours, path.join(repoRoot, 'proto'), new Map());
});

describe('wire contract with the @grpc/grpc-js-xds copy of Envoy API', () => {
  it('defines every message and enum of the RLS surface in proto/', () => {
    expect([...ourDecls.keys()].sort()).toEqual(expect.arrayContaining(SURFACE));
    for (const name of ourDecls.keys()) expect(SURFACE, `unlisted declaration ${name}`).toContain(name);
  });

  it('finds each of our declarations under the same full name and kind in Envoy copy', () => {
    for (const [name, decl] of ourDecls) {
      const theirs = envoy.lookup(name);
      expect(theirs, name).not.toBeNull();
      expect(theirs?.constructor, name).toBe(decl.constructor);
    }
  });

  it('gives every shared field the same number, resolved type, label and oneof', () => {
    let compared = 0;
    for (const [name, decl] of ourDecls) {
      if (!(decl instanceof protobuf.Type)) continue;
      const theirs = envoy.lookupType(name);
      for (const field of decl.fieldsArray) {
        const other = theirs.fields[field.name];
        if (!other) continue;
        expect(fieldShape(field), `${name}.${field.name}`).toEqual(fieldShape(other));
        compared++;
      }
    }
    expect(compared).toBe(48); // 30 of the RLS surface, 18 of the xDS client's messages
  });

  it('gives every shared enum value the same number', () => {
    for (const [name, decl] of ourDecls) {
      if (!(decl instanceof protobuf.Enum)) continue;
      const theirs = envoy.lookupEnum(name);
      for (const [value, num] of Object.entries(decl.values)) {
        if (value in theirs.values) expect(num, `${name}.${value}`).toBe(theirs.values[value]);
      }
    }
  });

  it('differs from Envoy copy only by the known newer fields and enum values', () => {
    const onlyOurs: string[] = [];
    const onlyTheirs: string[] = [];
    for (const [name, decl] of ourDecls) {
      if (decl instanceof protobuf.Type) {
        const theirs = envoy.lookupType(name);
        for (const f of decl.fieldsArray) {
          if (!theirs.fields[f.name]) onlyOurs.push(`${name}.${f.name} = ${f.id} ${fieldShape(f).type}`);
        }
        if (SUBSETS.has(name)) continue;
        for (const f of theirs.fieldsArray) if (!decl.fields[f.name]) onlyTheirs.push(`${name}.${f.name}`);
      } else if (decl instanceof protobuf.Enum) {
        const theirs = envoy.lookupEnum(name);
        for (const [v, n] of Object.entries(decl.values))
          if (!(v in theirs.values)) onlyOurs.push(`${name}.${v} = ${n}`);
        for (const v of Object.keys(theirs.values)) if (!(v in decl.values)) onlyTheirs.push(`${name}.${v}`);
      }
    }
    expect(onlyOurs.sort()).toEqual([...KNOWN_NEWER].sort());
    expect(onlyTheirs).toEqual([]);
  });

  it('gives none of our field numbers to a differently named field in Envoy copy', () => {
    for (const [name, decl] of ourDecls) {
      if (!(decl instanceof protobuf.Type)) continue;
      const theirs = envoy.lookupType(name);
      for (const f of decl.fieldsArray) {
        const clash = theirs.fieldsArray.find((o) => o.id === f.id && o.name !== f.name);
        expect(clash?.name, `${name}.${f.name} = ${f.id}`).toBeUndefined();
      }
    }
  });

  it('serves ShouldRateLimit at the path Envoy calls, unary, with the same message types', () => {
    const service = ours.lookupService(SERVICE);
    const method = service.methods.ShouldRateLimit;
    expect(method).toBeDefined();
    expect(`/${service.fullName.slice(1)}/${method?.name}`).toBe(
      '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit',
    );
    const theirs = envoy.lookupService(SERVICE).methods.ShouldRateLimit;
    expect(Object.keys(service.methods)).toEqual(Object.keys(envoy.lookupService(SERVICE).methods));
    for (const m of [method, theirs]) m?.resolve();
    expect(method?.resolvedRequestType?.fullName).toBe(theirs?.resolvedRequestType?.fullName);
    expect(method?.resolvedResponseType?.fullName).toBe(theirs?.resolvedResponseType?.fullName);
    expect(Boolean(method?.requestStream)).toBe(false);
    expect(Boolean(method?.responseStream)).toBe(false);
    expect(Boolean(theirs?.requestStream || theirs?.responseStream)).toBe(false);
  });

  it('opens ADS at the path an xDS server serves, bidirectional, with the same message types', () => {
    const name = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
    const method = ours.lookupService(name).methods.StreamAggregatedResources;
    const theirs = envoy.lookupService(name).methods.StreamAggregatedResources;
    for (const m of [method, theirs]) m?.resolve();
    expect(method?.resolvedRequestType?.fullName).toBe(theirs?.resolvedRequestType?.fullName);
    expect(method?.resolvedResponseType?.fullName).toBe(theirs?.resolvedResponseType?.fullName);
    expect([method?.requestStream, method?.responseStream]).toEqual([true, true]);
    expect([theirs?.requestStream, theirs?.responseStream]).toEqual([true, true]);
  });
});
