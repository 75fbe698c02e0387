import { X509Certificate } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';
import type { GrpcServerTls } from '../config/settings/transport-security.js';
import type { Logger } from '../log/logger.js';

export interface TlsCredentialsOptions {
  readonly logger: Logger;
  /**
   * A connection that has not finished its TLS handshake by then is closed (Node's
   * tls.Server handshakeTimeout): the connection guard's handshake deadline
   * (CONNECTION_HANDSHAKE_TIMEOUT), which counts bytes only. 0: Node's default.
   */
  readonly handshakeTimeoutMs: number;
  /** Changes in the watched directory closer together than this make one reload (default 100 ms). */
  readonly debounceMs?: number | undefined;
}

/**
 * grpc-js server credentials for GRPC_SERVER_USE_TLS=true whose certificate and key
 * are reloaded when their directory changes, as the reference's CertProvider does
 * (a Kubernetes Secret volume swaps its `..data` symlink in that directory).
 *
 * grpc-js applies a new context with `setSecureContext` on its TLS server (every
 * listener or injector it serves, through `ServerCredentials` watchers): new
 * connections present the new certificate, established ones keep their session
 * and are not closed. A new pair is checked (PEM parse, key matches certificate)
 * before it is applied; a pair that fails (a half-written rotation) is logged and
 * the current one stays, as in the reference. The client CA (GRPC_CLIENT_TLS_CACERT)
 * is read once, also as in the reference.
 *
 * With a client CA, client certificates are required and verified against it
 * alone (not the system roots), during the handshake: a client without one, or
 * with one from another CA, fails the handshake.
 */
export class ReloadingServerCredentials extends ServerCredentials {
  private readonly settings: GrpcServerTls;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private current: { cert: string; key: string };
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private again = false;

  constructor(settings: GrpcServerTls, options: TlsCredentialsOptions) {
    const mutual = settings.clientCa !== undefined;
    super(
      {
        requestCert: mutual,
        rejectUnauthorized: mutual,
        ...(options.handshakeTimeoutMs > 0 ? { handshakeTimeout: options.handshakeTimeoutMs } : {}),
      },
      contextOptions(settings.cert, settings.key, settings.clientCa),
    );
    this.settings = settings;
    this.logger = options.logger;
    this.debounceMs = options.debounceMs ?? 100;
    this.current = { cert: settings.cert, key: settings.key };
    this.logger.info(
      {
        mutual,
        clientSan: settings.clientSan !== undefined,
        serial: serialOf(settings.cert),
      },
      'gRPC server TLS on',
    );
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }

  /** Starts watching the certificate's directory; a failure to watch is logged (no reload then). */
  watch(): void {
    if (this.watcher !== undefined) return;
    const directory = dirname(this.settings.certFile);
    try {
      this.watcher = watch(directory, { persistent: false }, () => this.schedule());
      this.watcher.on('error', (err) => {
        this.logger.error({ err, directory }, 'TLS certificate directory watch failed: no more reloads');
        this.close();
      });
    } catch (err) {
      this.logger.error({ err, directory }, 'cannot watch the TLS certificate directory: no reloads');
    }
  }

  /** Stops watching (the credentials stay usable). */
  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Reads the files now and applies them if they changed and are valid; resolves when done. */
  async reload(): Promise<void> {
    if (this.reloading !== undefined) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = this.load().finally(() => {
      this.reloading = undefined;
    });
    await this.reloading;
    if (this.again) {
      this.again = false;
      await this.reload();
    }
  }

  private schedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reload();
    }, this.debounceMs);
    this.timer.unref();
  }

  private async load(): Promise<void> {
    const { certFile, keyFile, clientCa } = this.settings;
    let cert: string;
    let key: string;
    try {
      [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
      if (cert === this.current.cert && key === this.current.key) return;
      createSecureContext({ cert, key });
    } catch (err) {
      // the message names the file or the OpenSSL check, never the key
      this.logger.error(
        { err: { message: (err as Error).message }, certFile, keyFile },
        'TLS certificate reload failed: keeping the current certificate',
      );
      return;
    }
    this.current = { cert, key };
    this.updateSecureContextOptions(contextOptions(cert, key, clientCa));
    this.logger.info({ certFile, serial: serialOf(cert) }, 'TLS certificate reloaded');
  }
}

function contextOptions(cert: string, key: string, ca: string | undefined): SecureContextOptions {
  return ca === undefined ? { cert, key } : { cert, key, ca };
}

/** The leaf certificate's serial number, for the logs. */
function serialOf(pem: string): string | undefined {
  try {
    return new X509Certificate(pem).serialNumber;
  } catch {
    return undefined;
  }
}
