import {
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  credentials,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import { AggregatedDiscoveryServiceClient } from '../../gen/envoy/service/discovery/v3/ads.js';
import type { DiscoveryRequest, DiscoveryResponse } from '../../gen/envoy/service/discovery/v3/discovery.js';
import type { Any } from '../../gen/google/protobuf/any.js';
import type { Logger } from '../../log/logger.js';
import type { XdsBackoff, XdsSettings } from '../settings/xds-settings.js';

/** google.rpc.Code INVALID_ARGUMENT: the error code of a NACK. */
const INVALID_ARGUMENT = 3;
/** Longest NACK message sent back (the management server logs it; the full list is in our log). */
const MAX_NACK_MESSAGE = 4_096;

/** What the owner of the client made of one response: ACK, or NACK with the reason. */
export type XdsVerdict = { readonly ok: true } | { readonly ok: false; readonly message: string };

export interface XdsClientOptions {
  readonly settings: XdsSettings;
  /** The one resource type subscribed to (a wildcard subscription: every resource of it). */
  readonly typeUrl: string;
  readonly logger: Logger;
  /**
   * Applies the full set of one response (state of the world); never rejects. Responses are
   * applied one at a time, in order.
   */
  readonly apply: (resources: readonly Any[], version: string) => Promise<XdsVerdict>;
}

/**
 * A state-of-the-world ADS client for one resource type: dials the management server
 * (a new attempt every CONFIG_GRPC_XDS_SERVER_CONNECT_RETRY_INTERVAL while it cannot be
 * reached), opens StreamAggregatedResources, subscribes, and answers every response with an
 * ACK (`version_info` = the response's) or a NACK (`version_info` = the last accepted one,
 * `error_detail` = the reason). When the stream breaks it reconnects after the backoff and
 * subscribes again with the last accepted version, so the server knows what the client has.
 */
export class XdsClient {
  private client: AggregatedDiscoveryServiceClient | undefined;
  private stream: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private accepted = '';
  private attempt = 0;
  private started = false;
  private closed = false;
  private unreachableLogged = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: XdsClientOptions) {}

  /** The version of the last accepted response ('' before one). */
  get acceptedVersion(): string {
    return this.accepted;
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    const { settings, logger } = this.options;
    logger.info(
      { server: settings.serverUrl, nodeId: settings.nodeId, tls: settings.tls !== undefined },
      'xDS: connecting to the management server for the rate limit config',
    );
    this.dial();
  }

  /** Ends the stream and the channel; waits for a response being applied. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.stream?.cancel();
    this.client?.close();
    await this.queue;
  }

  private dial(): void {
    if (this.closed) return;
    const { settings } = this.options;
    const options: ChannelOptions = {
      // grpc-js's own reconnection, between our waits, follows the same interval
      'grpc.initial_reconnect_backoff_ms': settings.connectRetryIntervalMs,
      'grpc.max_reconnect_backoff_ms': settings.connectRetryIntervalMs,
    };
    if (settings.maxReceiveMessageBytes !== undefined)
      options['grpc.max_receive_message_length'] = settings.maxReceiveMessageBytes;
    if (settings.tls?.serverName !== undefined)
      options['grpc.ssl_target_name_override'] = settings.tls.serverName;
    const client = new AggregatedDiscoveryServiceClient(
      settings.serverUrl,
      channelCredentials(settings),
      options,
    );
    this.client = client;
    const waitForServer = (): void => {
      client.waitForReady(Date.now() + settings.connectRetryIntervalMs, (err) => {
        if (this.closed || client !== this.client) return;
        if (err === undefined || err === null) {
          this.unreachableLogged = false;
          this.open(client);
          return;
        }
        if (!this.unreachableLogged) {
          this.unreachableLogged = true;
          this.options.logger.warn(
            { server: settings.serverUrl, retryIntervalMs: settings.connectRetryIntervalMs },
            'xDS: management server not reachable yet; retrying (the last good config stays)',
          );
        }
        waitForServer();
      });
    };
    waitForServer();
  }

  private open(client: AggregatedDiscoveryServiceClient): void {
    const { settings, logger } = this.options;
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(settings.additionalHeaders)) metadata.set(key, value);
    const stream = client.streamAggregatedResources(metadata);
    this.stream = stream;
    let ended = false;
    const broken = (reason: string): void => {
      if (ended) return;
      ended = true;
      if (this.closed || stream !== this.stream) return;
      this.stream = undefined;
      client.close();
      const delay = backoffDelay(settings.backoff, this.attempt++);
      logger.warn(
        { reason, retryInMs: Math.round(delay), lastAcceptedVersion: this.accepted },
        'xDS: stream to the management server ended; reconnecting (the last good config stays)',
      );
      this.timer = setTimeout(() => this.dial(), delay);
      this.timer.unref();
    };
    stream.on('data', (response: DiscoveryResponse) => {
      this.attempt = 0;
      this.enqueue(() => this.answer(stream, response));
    });
    stream.on('error', (err: ServiceError) => broken(err.details || err.message));
    stream.on('end', () => broken('the server ended the stream'));
    logger.info({ server: settings.serverUrl, version: this.accepted }, 'xDS: stream open; subscribing');
    this.send(stream, { version: this.accepted, nonce: '' });
  }

  private async answer(
    stream: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>,
    response: DiscoveryResponse,
  ): Promise<void> {
    const { typeUrl, logger } = this.options;
    if (response.typeUrl !== typeUrl) {
      logger.warn({ typeUrl: response.typeUrl }, 'xDS: response of a type not subscribed to; ignored');
      return;
    }
    const wrongType = response.resources.findIndex((r) => r.typeUrl !== typeUrl);
    const verdict: XdsVerdict =
      wrongType >= 0
        ? {
            ok: false,
            message: `resource ${wrongType} has type '${response.resources[wrongType]!.typeUrl}', expected '${typeUrl}'`,
          }
        : await this.options.apply(response.resources, response.versionInfo);
    if (verdict.ok) this.accepted = response.versionInfo;
    // a response of a stream that broke meanwhile is answered by the next stream's subscription
    if (this.closed || stream !== this.stream) return;
    this.send(stream, {
      version: this.accepted,
      nonce: response.nonce,
      error: verdict.ok ? undefined : verdict.message,
    });
  }

  private send(
    stream: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>,
    request: { version: string; nonce: string; error?: string | undefined },
  ): void {
    const { settings, typeUrl } = this.options;
    const message: DiscoveryRequest = {
      versionInfo: request.version,
      node: {
        id: settings.nodeId,
        cluster: '',
        metadata: { ...settings.nodeMetadata },
        userAgentName: 'ratelimit-ts',
      },
      resourceNames: [],
      typeUrl,
      responseNonce: request.nonce,
      errorDetail:
        request.error === undefined
          ? undefined
          : { code: INVALID_ARGUMENT, message: truncate(request.error), details: [] },
    };
    stream.write(message);
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err: unknown) => {
      this.options.logger.error({ err }, 'xDS: applying a response failed');
    });
  }
}

/**
 * The delay before reconnect attempt `attempt` (0 first): `initialMs · factor^attempt`,
 * at least `initialMs` and at most `maxMs`; with jitter, drawn between `initialMs` and that.
 */
export function backoffDelay(
  backoff: XdsBackoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  const grown = Math.min(
    backoff.maxMs,
    Math.max(backoff.initialMs, backoff.initialMs * backoff.factor ** attempt),
  );
  return backoff.jitter ? backoff.initialMs + random() * (grown - backoff.initialMs) : grown;
}

function channelCredentials(settings: XdsSettings): ChannelCredentials {
  const { tls } = settings;
  if (tls === undefined) return credentials.createInsecure();
  return credentials.createSsl(tls.caCert ?? null, tls.clientKey ?? null, tls.clientCert ?? null);
}

function truncate(message: string): string {
  return message.length <= MAX_NACK_MESSAGE ? message : `${message.slice(0, MAX_NACK_MESSAGE)}…`;
}
