/**
 * The entry the counter logs for a fetch_add: the request re-serialized, as braft's counter does
 * (`request->SerializeToZeroCopyStream`), unknown fields included.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { FetchAddRequestSchema, type FetchAddRequest } from "../../src/rpc/gen/example/counter_pb.js";

function varintBytes(value: number): number {
  let bytes = 1;
  for (; value >= 128; value = Math.floor(value / 128)) bytes++;
  return bytes;
}

function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  for (; value >= 128; value = Math.floor(value / 128)) buf[pos++] = (value % 128) | 128;
  buf[pos++] = value;
  return pos;
}

/**
 * `toBinary(FetchAddRequestSchema, request)`, byte for byte, written into one buffer of its
 * exact size when the request carries unknown fields. protobuf-es grows its buffer by doubling
 * and then copies the result out: for a request padded to 64 KiB that allocates 193 KiB (128 KiB
 * of it zero-filled) and copies the payload twice per call, which on a leader under load was most
 * of the garbage of a large entry (docs/benchmarks.md, "Large entries: copies and memory").
 */
export function encodeFetchAddEntry(request: FetchAddRequest): Uint8Array {
  const unknown = request.$unknown;
  if (unknown === undefined || unknown.length === 0) return toBinary(FetchAddRequestSchema, request);
  const known = toBinary(FetchAddRequestSchema, create(FetchAddRequestSchema, { value: request.value }));
  let size = known.length;
  for (const field of unknown) size += varintBytes(field.no * 8 + field.wireType) + field.data.length;
  const out = Buffer.allocUnsafeSlow(size);
  out.set(known, 0);
  let pos = known.length;
  for (const field of unknown) {
    pos = writeVarint(out, pos, field.no * 8 + field.wireType);
    out.set(field.data, pos);
    pos += field.data.length;
  }
  return out;
}
