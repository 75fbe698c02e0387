import { SettingError } from '../../core/errors.js';
import { parseBool } from './settings-parsers.js';

/**
 * A reference env var that turns on transport security this version does not
 * implement, with the settings the reference reads only while it is on
 * (envoyproxy/ratelimit settings.go: GrpcServerTlsConfig / ConfigGrpcXdsServerTlsConfig
 * build a tls.Config only when the switch is true).
 */
interface SecuritySwitch {
  readonly name: string;
  /** What the switch asks for, completed by mutual TLS when `mutualWith` is set too. */
  readonly what: string;
  readonly mutualWith: string;
  readonly companions: readonly string[];
  readonly instead: string;
}

const SWITCHES: readonly SecuritySwitch[] = [
  {
    name: 'GRPC_SERVER_USE_TLS',
    what: 'TLS on the gRPC server',
    // a client CA makes the reference require and verify client certificates
    mutualWith: 'GRPC_CLIENT_TLS_CACERT',
    companions: [
      'GRPC_SERVER_TLS_CERT',
      'GRPC_SERVER_TLS_KEY',
      'GRPC_CLIENT_TLS_CACERT',
      'GRPC_CLIENT_TLS_SAN',
    ],
    instead: 'terminate TLS in a sidecar or mesh proxy (e.g. Envoy) in front of the service',
  },
];

/** The switches themselves: `true` is refused by checkTransportSecurity, `false` asks for nothing. */
export const SECURITY_SWITCH_NAMES: ReadonlySet<string> = new Set(SWITCHES.map((s) => s.name));

/** Settings read only under a switch, mapped to that switch. */
export const SECURITY_COMPANIONS: ReadonlyMap<string, string> = new Map(
  SWITCHES.flatMap((s) => s.companions.map((companion) => [companion, s.name] as const)),
);

/**
 * Throws SettingError, in one line naming every refused variable, when the env
 * asks for transport security this version cannot provide. Serving plaintext
 * instead would be a silent downgrade (DESIGN.md, "Health, defaults and load").
 * An empty value means unset; a value other than a Go bool spelling is an error,
 * as in the reference. Values of the companion settings are never quoted.
 */
export function checkTransportSecurity(env: Readonly<Record<string, string | undefined>>): void {
  const refusals: string[] = [];
  for (const security of SWITCHES) {
    const raw = env[security.name];
    if (raw === undefined || raw === '' || !parseBool(security.name, raw)) continue;
    const given = security.companions.filter((name) => env[name] !== undefined && env[name] !== '').sort();
    const mutual = env[security.mutualWith] ? `mutual ${security.what}` : security.what;
    refusals.push(
      `${security.name}=${raw}${given.length > 0 ? ` (with ${given.join(', ')})` : ''} asks for ${mutual}, ` +
        'but TLS is not implemented yet and the service will not fall back to plaintext; ' +
        `${security.instead}, and unset ${security.name} (or set it to false)`,
    );
  }
  if (refusals.length > 0) throw new SettingError(refusals.join('; '));
}
