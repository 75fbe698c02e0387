import { stringify } from 'yaml';
import {
  type RateLimitConfig,
  type RateLimitDescriptor,
  type RateLimitPolicy,
  RateLimitUnit,
} from '../../gen/ratelimit/config/ratelimit/v3/rls_conf.js';
import type { ConfigFile } from '../rules/build-config.js';

/** The problems of an xDS resource are reported against this pseudo path, then its name. */
export const XDS_PATH_PREFIX = 'xds:';

/**
 * One pushed RateLimitConfig as the YAML config file that says the same, so an xDS config is
 * validated and built by exactly the code that loads files (as the reference converts the
 * proto to its YAML structs: config_xds.go). Proto3 defaults are what an absent YAML key
 * means: an empty `value` is left out (a value-less key), false booleans and an empty
 * `name` are left out, an absent `rate_limit` is left out. A set `rate_limit` always carries
 * `unit` (UNKNOWN when unset: refused unless `unlimited`, as the reference does) and
 * `requests_per_unit`. `metadata` is the Struct as a map.
 */
export function xdsConfigToYaml(config: RateLimitConfig): string {
  const doc: Record<string, unknown> = { domain: config.domain };
  if (config.descriptors.length > 0) doc.descriptors = config.descriptors.map(descriptorToYaml);
  return stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** The file a resource becomes: `xds:<name>` (or `xds:<domain>`, or its position, when unnamed). */
export function xdsConfigFile(config: RateLimitConfig, index: number): ConfigFile {
  const name = config.name !== '' ? config.name : config.domain !== '' ? config.domain : `#${index}`;
  return { path: `${XDS_PATH_PREFIX}${name}`, content: xdsConfigToYaml(config) };
}

function descriptorToYaml(descriptor: RateLimitDescriptor): Record<string, unknown> {
  const out: Record<string, unknown> = { key: descriptor.key };
  if (descriptor.value !== '') out.value = descriptor.value;
  if (descriptor.rateLimit !== undefined) out.rate_limit = policyToYaml(descriptor.rateLimit);
  if (descriptor.descriptors.length > 0) out.descriptors = descriptor.descriptors.map(descriptorToYaml);
  if (descriptor.shadowMode) out.shadow_mode = true;
  if (descriptor.detailedMetric) out.detailed_metric = true;
  if (descriptor.quotaMode) out.quota_mode = true;
  if (descriptor.metadata !== undefined && Object.keys(descriptor.metadata).length > 0)
    out.metadata = descriptor.metadata;
  return out;
}

function policyToYaml(policy: RateLimitPolicy): Record<string, unknown> {
  const out: Record<string, unknown> = {
    unit: unitName(policy.unit),
    requests_per_unit: policy.requestsPerUnit,
  };
  if (policy.unlimited) out.unlimited = true;
  if (policy.name !== '') out.name = policy.name;
  if (policy.replaces.length > 0) out.replaces = policy.replaces.map((r) => ({ name: r.name }));
  return out;
}

/** The enum value's name; a number the enum does not know stays a number (an invalid unit). */
function unitName(unit: RateLimitUnit): string {
  const name = (RateLimitUnit as unknown as Record<number, string | undefined>)[unit];
  return name === undefined || name === 'UNRECOGNIZED' ? String(unit) : name;
}
