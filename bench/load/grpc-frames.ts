/**
 * gRPC length-prefixed messages (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
 * a flag byte (0 = not compressed), a 4-byte big-endian length, then the protobuf bytes.
 * A bodies file is such frames concatenated, so a reader splits it by their 5-byte headers.
 */
import { writeFile } from 'node:fs/promises';

/** Bytes before the message in a gRPC frame: flag (1) + big-endian length (4). */
export const GRPC_FRAME_HEADER_BYTES = 5;

/** One gRPC frame around already-encoded protobuf bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(GRPC_FRAME_HEADER_BYTES + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, GRPC_FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Splits concatenated frames into views of `data` (no copies), each a whole frame
 * including its header. Throws on a compressed flag or a truncated last frame.
 */
export function splitFrames(data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let offset = 0;
  while (offset < data.length) {
    if (offset + GRPC_FRAME_HEADER_BYTES > data.length)
      throw new Error(`truncated frame header at ${offset}`);
    if (data[offset] !== 0) throw new Error(`frame at ${offset} has flag ${data[offset]}, expected 0`);
    const end = offset + GRPC_FRAME_HEADER_BYTES + data.readUInt32BE(offset + 1);
    if (end > data.length) throw new Error(`frame at ${offset} runs past the end (${end} > ${data.length})`);
    frames.push(data.subarray(offset, end));
    offset = end;
  }
  return frames;
}

/** Writes frames to `file` as one concatenated bodies file (the generator's `--bodies`). */
export async function writeFrames(file: string, frames: readonly Uint8Array[]): Promise<void> {
  await writeFile(file, Buffer.concat(frames));
}
