// YAML -> JSON the way Envoy reads it (source/common/protobuf/yaml_utility.cc, parseYamlNode, on yaml-cpp):
// quoted and block scalars are strings; a plain scalar is null if ~/null/empty, else a bool if yaml-cpp's
// convert<bool> takes it (y/n/yes/no/true/false/on/off in lower, UPPER or Capitalized case), else an int64
// if a C++ stream reads it whole in auto base (so 0x1F is hex and 010 octal; it becomes a JSON number in
// the int32 range and a decimal string beyond), else a string -- floats included, since proto3 JSON
// accepts "0.5" for float fields. Map keys are strings. So `cluster_name: 123` is a number (rejected for a
// string field) and `descriptor_key: yes` is a bool, as in Envoy, while the YAML 1.2 core schema would
// differ on both.
import { isAlias, isMap, isScalar, isSeq, type Node, parseDocument } from 'yaml';

export interface EnvoyYaml {
  value: unknown;
  errors: string[];
}

const BOOL_NAMES: Record<string, boolean> = {
  y: true,
  n: false,
  yes: true,
  no: false,
  true: true,
  false: false,
  on: true,
  off: false,
};
const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The JSON value Envoy derives from a plain (unquoted) YAML scalar. */
export function plainScalar(text: string): null | boolean | number | string {
  if (['', '~', 'null', 'Null', 'NULL'].includes(text)) return null;
  const lower = text.toLowerCase();
  const flexibleCase =
    text === lower ||
    text === text.toUpperCase() ||
    text === text[0]!.toUpperCase() + text.slice(1).toLowerCase();
  if (flexibleCase && lower in BOOL_NAMES) return BOOL_NAMES[lower]!;
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\s*$/.exec(text);
  if (m) {
    const digits = m[2]!;
    const magnitude = /^0[0-7]+$/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
    const n = m[1] === '-' ? -magnitude : magnitude;
    if (n >= INT64_MIN && n <= INT64_MAX) return n >= INT32_MIN && n <= INT32_MAX ? Number(n) : n.toString();
  }
  return text;
}

/** Parses one YAML document into the JSON value Envoy would feed to its proto3 JSON parser. */
export function envoyYamlToJson(text: string): EnvoyYaml {
  const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: true, prettyErrors: false });
  const errors = [...doc.errors, ...doc.warnings].map((e) => e.message);
  if (doc.errors.length > 0) return { value: undefined, errors };
  const convert = (node: unknown, depth: number): unknown => {
    if (depth > 200) {
      errors.push('YAML nested too deeply (alias cycle?)');
      return null;
    }
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return convert(node.resolve(doc), depth + 1);
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = isScalar(pair.key)
          ? String(pair.key.value)
          : JSON.stringify(convert(pair.key, depth + 1));
        out[key] = convert(pair.value, depth + 1);
      }
      return out;
    }
    if (isSeq(node)) return node.items.map((item) => convert(item, depth + 1));
    if (isScalar(node)) return node.type === 'PLAIN' ? plainScalar(String(node.value)) : String(node.value);
    errors.push(`unsupported YAML node ${String((node as Node).constructor?.name)}`);
    return null;
  };
  return { value: convert(doc.contents, 0), errors };
}
