// Strict check of an Envoy YAML config against Envoy's own protos, the way Envoy loads it: YAML -> proto3
// JSON -> message (unknown fields rejected), then protoc-gen-validate rules. Problems are "<yaml path>: ..."
// strings; an empty list means the config passed.
import protobuf from 'protobufjs';
import { BOOTSTRAP_TYPE, type EnvoyProtoRoot, envoyProtoRoot, TYPE_URL_PREFIX } from './envoy-proto-root.js';
import { envoyYamlToJson } from './envoy-yaml.js';
import { checkFieldRules, oneofRequired } from './pgv-rules.js';
import { describe, isObject, type Json, scalarError, specialJsonCheck } from './proto-json-values.js';

export interface CheckOptions {
  /** Accept fields and enum values marked deprecated or disallowed by default (default: report them). */
  allowDeprecated?: boolean;
}

/** Reads `text` as Envoy reads YAML and checks it against `typeName` (default: the v3 Bootstrap). */
export function checkEnvoyYaml(
  text: string,
  typeName = BOOTSTRAP_TYPE,
  options: CheckOptions = {},
): string[] {
  const { value, errors } = envoyYamlToJson(text);
  const yamlProblems = errors.map((e) => `<yaml>: ${e}`);
  return value === undefined ? yamlProblems : [...yamlProblems, ...checkEnvoyJson(value, typeName, options)];
}

/** Checks an already-parsed proto3-JSON value against the message `typeName`. */
export function checkEnvoyJson(
  value: unknown,
  typeName = BOOTSTRAP_TYPE,
  options: CheckOptions = {},
): string[] {
  const walker = new Walker(envoyProtoRoot(), options);
  const type = walker.protos.messageType(typeName);
  if (!type) return [`<root>: unknown message type ${typeName}`];
  walker.message(type, value, '');
  return walker.problems;
}

const join = (path: string, key: string): string =>
  /^[A-Za-z_@][\w@]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;

const TYPED_STRUCTS = new Set(['xds.type.v3.TypedStruct', 'udpa.type.v1.TypedStruct']);
const NULLABLE = new Set(['.google.protobuf.Value', '.google.protobuf.NullValue']);
const jsonNameCache = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

/** Proto field names and their JSON names (lowerCamelCase, or an explicit json_name). */
function fieldByKey(type: protobuf.Type, key: string): protobuf.Field | undefined {
  let byJson = jsonNameCache.get(type);
  if (!byJson) {
    byJson = new Map();
    for (const f of type.fieldsArray) {
      const json =
        (f.options?.json_name as string | undefined) ??
        f.name.replace(/_(\w)/g, (_m, c: string) => c.toUpperCase());
      byJson.set(json, f);
    }
    jsonNameCache.set(type, byJson);
  }
  return type.fields[key] ?? byJson.get(key);
}

class Walker {
  readonly problems: string[] = [];
  constructor(
    readonly protos: EnvoyProtoRoot,
    private readonly options: CheckOptions,
  ) {}

  private report = (path: string, message: string): void => {
    this.problems.push(`${path || '<root>'}: ${message}`);
  };

  message(type: protobuf.Type, value: unknown, path: string): void {
    const name = type.fullName.slice(1);
    if (name === 'google.protobuf.Any') {
      this.any(value, path);
      return;
    }
    const special = specialJsonCheck(name, value);
    if (special?.error) this.report(path, special.error);
    if (special) return;
    if (!isObject(value)) {
      this.report(path, `expected an object (${name}), got ${describe(value)}`);
      return;
    }
    const set = new Map<protobuf.Field, string>();
    for (const [key, v] of Object.entries(value)) {
      const field = fieldByKey(type, key);
      const p = join(path, key);
      if (!field) {
        this.report(p, `unknown field '${key}' (not a field of ${name})`);
        continue;
      }
      const other = set.get(field);
      set.set(field, key);
      if (other !== undefined)
        this.report(p, `field '${field.name}' is set twice (as '${other}' and '${key}')`);
      const o = field.options ?? {};
      if (!this.options.allowDeprecated && (o.deprecated || o['(envoy.annotations.disallowed_by_default)']))
        this.report(p, `field '${key}' of ${name} is deprecated`);
      if (v === null) {
        if (!NULLABLE.has(field.resolvedType?.fullName ?? ''))
          this.report(p, `null leaves '${key}' unset; remove it, or write {} for an empty message`);
        continue;
      }
      const before = this.problems.length;
      this.field(field, v, p);
      // Validate rules only for well-formed values, so one mistake yields one problem.
      if (this.problems.length === before) checkFieldRules(field, v, p, this.report);
    }
    // Rules also apply to unset singular fields (proto3 defaults), except oneof members and `optional` ones.
    for (const f of type.fieldsArray)
      if (!set.has(f) && !f.partOf) checkFieldRules(f, undefined, join(path, f.name), this.report);
    for (const oneof of type.oneofsArray) {
      const members = oneof.fieldsArray.filter((f) => set.has(f)).map((f) => set.get(f));
      if (members.length > 1)
        this.report(
          path,
          `oneof '${oneof.name}' of ${name} has more than one member set: ${members.join(', ')}`,
        );
      if (members.length === 0 && oneofRequired(oneof))
        this.report(
          path,
          `oneof '${oneof.name}' of ${name} requires one of: ${oneof.fieldsArray.map((f) => f.name).join(', ')}`,
        );
    }
  }

  private field(field: protobuf.Field, v: unknown, path: string): void {
    if (field instanceof protobuf.MapField) {
      if (!isObject(v)) {
        this.report(path, `expected a map (object), got ${describe(v)}`);
        return;
      }
      for (const [k, item] of Object.entries(v)) {
        const p = `${path}[${JSON.stringify(k)}]`;
        if (
          field.keyType === 'bool'
            ? k !== 'true' && k !== 'false'
            : field.keyType !== 'string' && scalarError(field.keyType, k)
        )
          this.report(p, `invalid ${field.keyType} map key`);
        this.single(field, item, p);
      }
    } else if (field.repeated) {
      if (!Array.isArray(v)) this.report(path, `expected a list, got ${describe(v)}`);
      else for (const [i, item] of v.entries()) this.single(field, item, `${path}[${i}]`);
    } else {
      this.single(field, v, path);
    }
  }

  private single(field: protobuf.Field, v: unknown, path: string): void {
    const t = field.resolvedType;
    if (t instanceof protobuf.Type) this.message(t, v, path);
    else if (t instanceof protobuf.Enum) this.enumValue(t, v, path);
    else {
      const error = scalarError(field.type, v);
      if (error) this.report(path, error);
    }
  }

  private enumValue(e: protobuf.Enum, v: unknown, path: string): void {
    const name = e.fullName.slice(1);
    if (v === null && name === 'google.protobuf.NullValue') return;
    const known =
      typeof v === 'string'
        ? v in e.values
        : Number.isInteger(v) && Object.values(e.values).includes(v as number);
    if (!known) {
      const names = Object.keys(e.values).join(', ');
      this.report(path, `invalid enum value ${JSON.stringify(v)} for ${name}; expected one of ${names}`);
      return;
    }
    const valueName = typeof v === 'string' ? v : e.valuesById[v as number]!;
    const o = e.valuesOptions?.[valueName] ?? {};
    if (
      !this.options.allowDeprecated &&
      (o.deprecated || o['(envoy.annotations.disallowed_by_default_enum)'])
    )
      this.report(path, `enum value ${valueName} of ${name} is deprecated`);
  }

  private any(v: unknown, path: string): void {
    if (!isObject(v)) {
      this.report(path, `expected an object with "@type" (Any), got ${describe(v)}`);
      return;
    }
    const { '@type': url, ...rest } = v;
    const type = this.anyType(url, join(path, '@type'));
    if (!type) return;
    const typeName = type.fullName.slice(1);
    if (typeName === 'google.protobuf.Any' || specialJsonCheck(typeName, undefined)) {
      // Well-known types with a special JSON form nest it under "value".
      for (const k of Object.keys(rest))
        if (k !== 'value')
          this.report(join(path, k), `unknown field '${k}' (Any of ${typeName} takes only "value")`);
      this.message(type, rest.value, join(path, 'value'));
      return;
    }
    this.message(type, rest, path);
    if (TYPED_STRUCTS.has(typeName) && typeof rest.type_url === 'string' && isObject(rest.value ?? {}))
      this.any({ ...((rest.value ?? {}) as Json), '@type': rest.type_url }, join(path, 'value'));
  }

  /** The message type an Any's "@type" names; reports and returns undefined when there is none. */
  private anyType(url: unknown, at: string): protobuf.Type | undefined {
    if (typeof url !== 'string') this.report(at, 'Any needs a string "@type"');
    else if (!url.startsWith(TYPE_URL_PREFIX))
      this.report(at, `@type '${url}' must start with ${TYPE_URL_PREFIX}`);
    else {
      const typeName = url.slice(TYPE_URL_PREFIX.length);
      const type = this.protos.messageType(typeName);
      if (type) return type;
      this.report(at, `unknown @type '${url}': no message ${typeName} in Envoy's protos`);
    }
    return undefined;
  }
}
