import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key, as files and PEM. */
export interface Issued {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TestCa extends Issued {
  /** A leaf signed by this CA (P-256 key, a fresh random serial), SANs like `DNS:x,IP:127.0.0.1`. */
  issue(name: string, subjectAltName: string): Issued;
}

const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`;

/**
 * Throwaway PKI made with the openssl CLI (scripts/ensure-system-packages.sh) in a
 * temp directory: `ca(name)` makes a self-signed CA. Call `remove()` when done.
 */
export function createTestPki(): { dir: string; ca(name: string): TestCa; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'rl-tls-'));
  const config = join(dir, 'openssl.cnf');
  writeFileSync(config, CONFIG);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const files = (name: string): Issued => {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
  };
  return {
    dir,
    ca(name) {
      openssl(
        'req',
        '-x509',
        '-new',
        ...newKey,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
        '-config',
        config,
        '-extensions',
        'ca',
      );
      return {
        ...files(name),
        issue(leaf, subjectAltName) {
          const ext = join(dir, `${leaf}.ext`);
          writeFileSync(
            ext,
            `[leaf]\nbasicConstraints = CA:FALSE\nsubjectAltName = ${subjectAltName}\n` +
              'extendedKeyUsage = serverAuth,clientAuth\nauthorityKeyIdentifier = keyid\n',
          );
          openssl(
            'req',
            '-new',
            ...newKey,
            '-keyout',
            `${leaf}.key`,
            '-out',
            `${leaf}.csr`,
            '-subj',
            `/CN=${leaf}`,
            '-config',
            config,
          );
          openssl(
            'x509',
            '-req',
            '-in',
            `${leaf}.csr`,
            '-CA',
            `${name}.crt`,
            '-CAkey',
            `${name}.key`,
            '-set_serial',
            `0x${randomBytes(8).toString('hex')}`,
            '-days',
            '2',
            '-out',
            `${leaf}.crt`,
            '-extfile',
            ext,
            '-extensions',
            'leaf',
          );
          return files(leaf);
        },
      };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
