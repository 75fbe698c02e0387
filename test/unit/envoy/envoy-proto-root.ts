// Loads Envoy's API protos (shipped by @grpc/grpc-js-xds) into one protobufjs Root, lazily adding the
// .proto file that declares a type the first time an Any's "@type" names it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const xdsDir = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const protobufjsDir = path.dirname(require.resolve('protobufjs/package.json'));

/** Import roots, in lookup order; protobufjs's own dir supplies google/protobuf/descriptor.proto. */
export const PROTO_ROOTS: readonly string[] = [
  ...['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((d) => path.join(xdsDir, 'deps', d)),
  protobufjsDir,
];

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';
export const TYPE_URL_PREFIX = 'type.googleapis.com/';

// Well-known types protobufjs bundles; loaded up front so an Any may name any of them.
const BUNDLED_WKT = ['any', 'duration', 'timestamp', 'empty', 'struct', 'wrappers', 'field_mask'].map(
  (n) => `google/protobuf/${n}.proto`,
);

export class EnvoyProtoRoot {
  readonly root = new protobuf.Root();

  constructor() {
    this.root.resolvePath = (_origin, target) => {
      if (path.isAbsolute(target)) return target;
      for (const dir of PROTO_ROOTS) {
        const full = path.join(dir, target);
        if (existsSync(full)) return full;
      }
      if (target.startsWith('google/protobuf/')) return target; // bundled with protobufjs
      throw new Error(`cannot resolve proto import '${target}' under ${PROTO_ROOTS.join(', ')}`);
    };
    this.root.loadSync([...BUNDLED_WKT, 'envoy/config/bootstrap/v3/bootstrap.proto'], { keepCase: true });
    this.root.resolveAll();
  }

  /** The message type with this full name, loading its .proto file if needed; undefined if none declares it. */
  messageType(fullName: string): protobuf.Type | undefined {
    const found = this.find(fullName);
    if (found) return found;
    const file = findDeclaringFile(fullName);
    if (!file) return undefined;
    this.root.loadSync(file, { keepCase: true });
    this.root.resolveAll();
    return this.find(fullName);
  }

  private find(fullName: string): protobuf.Type | undefined {
    if (!/^[A-Za-z_][\w.]*$/.test(fullName)) return undefined;
    const found = this.root.lookup(`.${fullName}`);
    return found instanceof protobuf.Type ? found : undefined;
  }
}

/**
 * Envoy, xds and udpa protos live in the directory named after their package, so for
 * `a.b.v3.Outer.Inner` try package `a.b.v3.Outer` (dir a/b/v3/Outer), then `a.b.v3`, ... and return the
 * file in that dir that declares the package and a top-level `message <first name after the package>`.
 */
export function findDeclaringFile(fullName: string): string | undefined {
  const parts = fullName.split('.');
  for (let cut = parts.length - 1; cut >= 1; cut--) {
    const pkg = parts.slice(0, cut).join('.');
    const topMessage = parts[cut]!;
    const declares = new RegExp(`^\\s*message\\s+${topMessage}\\s*\\{`, 'm');
    const packageLine = new RegExp(`^\\s*package\\s+${pkg.replace(/\./g, '\\.')}\\s*;`, 'm');
    for (const base of PROTO_ROOTS) {
      const dir = path.join(base, ...parts.slice(0, cut));
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir).sort()) {
        if (!name.endsWith('.proto')) continue;
        const text = readFileSync(path.join(dir, name), 'utf8');
        if (packageLine.test(text) && declares.test(text)) return path.join(...parts.slice(0, cut), name);
      }
    }
  }
  return undefined;
}

let shared: EnvoyProtoRoot | undefined;

/** One Root per process: loading bootstrap.proto and its ~150 imports takes ~0.1 s. */
export function envoyProtoRoot(): EnvoyProtoRoot {
  shared ??= new EnvoyProtoRoot();
  return shared;
}
