import type { IncomingMessage } from 'node:http';

/**
 * The whole request body, or undefined as soon as it exceeds `maxBytes`: at
 * once when Content-Length says so, else when the bytes read pass it. What is
 * beyond is neither buffered nor waited for; the caller answers with
 * `connection: close` (the unread rest would otherwise be drained).
 */
export function readBodyBytes(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.off('end', onEnd);
      chunks.length = 0;
      resolve(undefined);
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}
