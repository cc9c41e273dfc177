/**
 * The protobuf wire format, by hand, for the few messages on the replication hot path (RpcMeta,
 * AppendEntries). protobuf-es encodes through reflection and allocates per field; these write
 * into one exactly-sized buffer and read fields in place. Everything else keeps protobuf-es.
 * test/rpc/wire-codec.test.ts checks both directions against protobuf-es on random messages.
 */
import { ProtoParseError } from "../proto-util.js";

export const enum WireType {
  VARINT = 0,
  FIXED64 = 1,
  LENGTH_DELIMITED = 2,
  FIXED32 = 5,
}

const TWO_POW_32 = 2 ** 32;

/** Bytes of the varint of a non-negative safe integer; a negative int64 always takes 10. */
export function varintSize(value: number): number {
  if (value < 0) return 10;
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Bytes of the varint of any 64-bit value (negative ones as two's complement, ten bytes). */
export function bigintSize(value: bigint): number {
  if (value >= 0n && value <= MAX_SAFE) return varintSize(Number(value));
  let bits = BigInt.asUintN(64, value);
  let size = 1;
  while (bits >= 128n) {
    bits >>= 7n;
    size++;
  }
  return size;
}

/** Bytes of a tag (field number and wire type). */
export function tagSize(field: number): number {
  return varintSize(field * 8);
}

/** Bytes of a length-delimited field holding `length` bytes. */
export function delimitedSize(field: number, length: number): number {
  return tagSize(field) + varintSize(length) + length;
}

/** Writes fields into a buffer allocated for the exact size the caller computed. */
export class ProtoWriter {
  readonly buf: Buffer;
  private pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** The encoded bytes; asserts that the size computed up front was exact. */
  finish(): Buffer {
    if (this.pos !== this.buf.length) {
      throw new Error(`protobuf size mismatch: wrote ${this.pos} of ${this.buf.length} bytes`);
    }
    return this.buf;
  }

  varint(value: number): void {
    if (value < 0) {
      this.negativeVarint(value);
      return;
    }
    const buf = this.buf;
    while (value >= 128) {
      buf[this.pos++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    buf[this.pos++] = value;
  }

  tag(field: number, wireType: WireType): void {
    this.varint(field * 8 + wireType);
  }

  /** An int64/int32/bool/enum field. */
  varintField(field: number, value: number): void {
    this.tag(field, WireType.VARINT);
    this.varint(value);
  }

  /** A string field whose UTF-8 length is `byteLength`. */
  stringField(field: number, value: string, byteLength: number): void {
    this.tag(field, WireType.LENGTH_DELIMITED);
    this.varint(byteLength);
    this.pos += this.buf.write(value, this.pos, byteLength, "utf8");
  }

  /** The header of an embedded message of `length` bytes; its fields follow. */
  messageHeader(field: number, length: number): void {
    this.tag(field, WireType.LENGTH_DELIMITED);
    this.varint(length);
  }

  /**
   * Any 64-bit value (negative ones as two's complement, ten bytes). A safe non-negative one (a
   * correlation id, a counter) is written with number arithmetic: BigInt shifts allocate.
   */
  bigintVarint(value: bigint): void {
    if (value >= 0n && value <= MAX_SAFE) {
      this.varint(Number(value));
      return;
    }
    let bits = BigInt.asUintN(64, value);
    while (bits >= 128n) {
      this.buf[this.pos++] = Number(bits & 0x7fn) | 128;
      bits >>= 7n;
    }
    this.buf[this.pos++] = Number(bits);
  }

  /** A negative int64 (or int32, sign-extended) takes all ten bytes of two's complement. */
  private negativeVarint(value: number): void {
    this.bigintVarint(BigInt(value));
  }
}

/** Reads fields in order; every malformation is a ProtoParseError naming `what`. */
export class ProtoReader {
  private pos: number;
  private readonly view: Buffer;

  constructor(
    bytes: Uint8Array,
    private readonly what: string,
    start = 0,
    private readonly end = bytes.length,
  ) {
    this.view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next tag as field * 8 + wire type. */
  tag(): number {
    const tag = this.uint32();
    if (tag >>> 3 === 0) this.fail("field number 0");
    return tag;
  }

  /** A varint as a signed 64-bit integer that must fit a JS number exactly. */
  int64(): number {
    const { lo, hi } = this.varint64();
    const value = (hi | 0) * TWO_POW_32 + lo;
    if (!Number.isSafeInteger(value)) this.fail(`int64 ${value} beyond 2^53`);
    return value;
  }

  /** A varint as an exact signed 64-bit bigint (correlation ids may use all 64 bits). */
  bigint64(): bigint {
    const { lo, hi } = this.varint64();
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  /** An int32 (or enum): the low 32 bits of the varint, signed. */
  int32(): number {
    return this.varint64().lo | 0;
  }

  bool(): boolean {
    const { lo, hi } = this.varint64();
    return lo !== 0 || hi !== 0;
  }

  string(): string {
    const length = this.length();
    const value = this.view.toString("utf8", this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  /** An embedded message: returns its end; the caller reads its fields up to there. */
  messageEnd(): number {
    const length = this.length();
    return this.pos + length;
  }

  /** A reader over [position, end) of the same bytes, for an embedded message. */
  sub(end: number, what: string): ProtoReader {
    const reader = new ProtoReader(this.view, what, this.pos, end);
    this.pos = end;
    return reader;
  }

  /**
   * Skips a field the decoder did not match: an unknown field, as protobuf parsers do, but a
   * field of `known` numbers arriving with another wire type is malformed.
   */
  skipOther(tag: number, known: ReadonlySet<number>): void {
    if (known.has(tag >>> 3)) this.fail(`field ${tag >>> 3} has the wrong wire type ${tag & 7}`);
    this.skip(tag);
  }

  /** Skips a field this codec does not know, as protobuf parsers do. */
  skip(tag: number): void {
    switch (tag & 7) {
      case WireType.VARINT:
        this.varint64();
        return;
      case WireType.FIXED64:
        this.advance(8);
        return;
      case WireType.LENGTH_DELIMITED:
        this.advance(this.length());
        return;
      case WireType.FIXED32:
        this.advance(4);
        return;
      default:
        this.fail(`unsupported wire type ${tag & 7}`);
    }
  }

  fail(reason: string): never {
    throw new ProtoParseError(`cannot parse ${this.what}: ${reason}`);
  }

  private length(): number {
    const length = this.uint32();
    if (length > this.end - this.pos) this.fail("length overruns the message");
    return length;
  }

  private advance(bytes: number): void {
    if (bytes > this.end - this.pos) this.fail("field overruns the message");
    this.pos += bytes;
  }

  private uint32(): number {
    const { lo, hi } = this.varint64();
    if (hi !== 0) this.fail("value beyond 32 bits");
    return lo;
  }

  /** The 64 bits of a varint as two unsigned 32-bit halves. */
  private varint64(): { lo: number; hi: number } {
    const buf = this.view;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const byte = buf[this.pos++] as number;
      const bits = byte & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= bits << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if (byte < 128) return { lo: lo >>> 0, hi: hi >>> 0 };
    }
    return this.fail("varint longer than 10 bytes");
  }
}
