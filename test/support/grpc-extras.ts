import { type ChannelCredentials, credentials, loadPackageDefinition, Metadata } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

type UnaryFn = (req: unknown, md: Metadata, opts: object, cb: (e: Error | null, r: unknown) => void) => void;

// biome-ignore lint/suspicious/noExplicitAny: dynamic clients from proto-loader are untyped
type Dynamic = any;

/** grpc.health.v1.Health/Check for `service`; resolves with the status name. */
export function healthCheck(
  address: string,
  service: string,
  channelCredentials: ChannelCredentials = credentials.createInsecure(),
): Promise<string> {
  const pkg: Dynamic = loadPackageDefinition(loadSync(healthProtoPath, { keepCase: true, enums: String }));
  const client = new pkg.grpc.health.v1.Health(address, channelCredentials);
  return new Promise((resolve, reject) => {
    (client.Check as UnaryFn).call(
      client,
      { service },
      new Metadata(),
      { deadline: Date.now() + 5_000 },
      (error, reply) => {
        client.close();
        if (error) reject(error);
        else resolve((reply as { status: string }).status);
      },
    );
  });
}

const REFLECTION_PROTO = new URL(
  '../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto',
  import.meta.url,
);

/** Names of the services the server lists through gRPC server reflection (v1alpha). */
export function listServicesByReflection(address: string): Promise<string[]> {
  const pkg: Dynamic = loadPackageDefinition(loadSync(REFLECTION_PROTO.pathname, { keepCase: true }));
  const client = new pkg.grpc.reflection.v1alpha.ServerReflection(address, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo();
    call.on('data', (reply: Dynamic) => {
      resolve(reply.list_services_response.service.map((s: { name: string }) => s.name));
      call.end();
    });
    call.on('error', (error: Error) => reject(error));
    call.on('end', () => client.close());
    call.write({ list_services: '' });
  });
}
