/**
 * A decoder of CounterResponse for the load client's hot path: reads the four fields into a
 * reusable object instead of building a message per reply (the generated schema decodes the same
 * bytes; the test checks both agree). Unknown fields are skipped, as protobuf requires.
 */

/** A decoded CounterResponse; `value` as a number (exact up to 2^53). */
export interface CounterReply {
  success: boolean;
  value: number;
  redirect: string | undefined;
  /** tsraft's extension: the server proposed nothing, so sending the call again is safe. */
  refused: boolean;
}

const decoder = new TextDecoder();

/** Decodes `bytes` into `out` (reset first); throws on malformed input. */
export function decodeCounterResponse(bytes: Uint8Array, out: CounterReply): CounterReply {
  out.success = false;
  out.value = 0;
  out.redirect = undefined;
  out.refused = false;
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = bytes[pos++];
      if (byte === undefined) throw new Error("truncated varint");
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new Error("varint longer than 10 bytes");
  };
  while (pos < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    switch (tag % 8) {
      case 0: {
        const start = pos;
        const raw = varint();
        if (field === 1) out.success = raw !== 0;
        else if (field === 1000) out.refused = raw !== 0;
        // A negative int64 takes 10 bytes (two's complement); decode those exactly.
        else if (field === 2) out.value = pos - start === 10 ? toInt64(bytes, start) : raw;
        break;
      }
      case 1:
        pos += 8;
        break;
      case 2: {
        const length = varint();
        if (pos + length > bytes.length) throw new Error("truncated length-delimited field");
        if (field === 3) out.redirect = decoder.decode(bytes.subarray(pos, pos + length));
        pos += length;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new Error(`unsupported wire type in tag ${tag}`);
    }
  }
  if (pos > bytes.length) throw new Error("truncated fixed-width field");
  return out;
}

function toInt64(bytes: Uint8Array, start: number): number {
  let value = 0n;
  for (let i = 9; i >= 0; i--) value = (value << 7n) | BigInt((bytes[start + i] ?? 0) & 0x7f);
  return Number(BigInt.asIntN(64, value));
}
