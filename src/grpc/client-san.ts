import { ServerInterceptingCall, type ServerInterceptor, status } from '@grpc/grpc-js';

/**
 * GRPC_CLIENT_TLS_SAN: refuses, with UNAUTHENTICATED and before the handler runs,
 * every call whose verified client certificate lacks the DNS name `san`.
 *
 * The reference checks it during the handshake (a VerifyPeerCertificate hook, so the
 * client sees a failed handshake); grpc-js exposes no hook there, so here the
 * connection is established and each call on it is refused with a status that
 * names the reason. Nothing is served either way. Matching is Go's
 * (x509.Certificate.VerifyHostname, which the reference uses): DNS SANs only (not
 * the subject CN), case-insensitive, `*.` matching one leftmost label; an IP
 * address as `san` matches an IP SAN.
 */
export function clientSanCheck(san: string): ServerInterceptor {
  const wanted = san.toLowerCase().replace(/\.$/, '');
  return (_method, call) => {
    const peer = call.getAuthContext()?.sslPeerCertificate;
    if (peer !== undefined && hasSan(peer.subjectaltname, wanted)) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: () => {
            call.sendStatus({
              code: status.UNAUTHENTICATED,
              details: 'the client certificate does not carry the required subject alternative name',
            });
          },
        }),
    });
  };
}

/** True when Node's `subjectaltname` ("DNS:a, IP Address:1.2.3.4") names `wanted`. */
export function hasSan(subjectAltName: string | undefined, wanted: string): boolean {
  if (subjectAltName === undefined) return false;
  for (const entry of subjectAltName.split(', ')) {
    if (entry.startsWith('DNS:') && dnsMatches(entry.slice(4).toLowerCase().replace(/\.$/, ''), wanted)) {
      return true;
    }
    if (entry.startsWith('IP Address:') && entry.slice(11).toLowerCase() === wanted) return true;
  }
  return false;
}

function dnsMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!pattern.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot) === pattern.slice(1);
}
