/**
 * The counter's hot path on raw bytes: the FetchAddRequest every write carries (and every node
 * applies as its log entry) and the success answer it gets, read and written without building a
 * protobuf-es message. Its reflection-driven codec was the largest share of what a leader
 * allocated per write under load; braft's counter uses generated C++. Every other shape (unknown
 * fields, a padded varint, a failure answer) goes through protobuf-es, so the bytes are exactly
 * what it reads and writes; test/examples/counter-wire.test.ts compares both.
 */
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { CounterResponseSchema, FetchAddRequestSchema } from "../../src/rpc/gen/example/counter_pb.js";
import { parseMessage } from "../../src/rpc/proto-util.js";
import { ProtoWriter, WireType, bigintSize, tagSize } from "../../src/rpc/wire/proto-wire.js";
import { encodeFetchAddEntry } from "./fetch-add-encoding.js";

/** Field 1 (value) as a varint: the tag byte of FetchAddRequest's only field. */
const VALUE_TAG = 0x08;

export type CounterAnswer = MessageInitShape<typeof CounterResponseSchema>;

/**
 * The log entry of a fetch_add: the request as protobuf-es re-serializes it. A request holding
 * field 1 alone, as a minimal varint, is that serialization already, and is copied as it is (a
 * copy, so the entry does not keep the socket's read buffer alive). Anything else is parsed
 * (a malformed request throws the parse error a typed method answers with) and written again.
 */
export function fetchAddEntryOf(request: Uint8Array): Uint8Array {
  // new Uint8Array copies; a Buffer's slice() would be a view of the read buffer.
  if (isLoneMinimalValue(request)) return new Uint8Array(request);
  return encodeFetchAddEntry(parseMessage(FetchAddRequestSchema, request));
}

/** The `value` of a FetchAddRequest (a log entry), read by hand when it is field 1 alone. */
export function fetchAddValueOf(entry: Uint8Array): bigint {
  if (!isLoneMinimalValue(entry)) return fromBinary(FetchAddRequestSchema, entry).value;
  let bits = 0n;
  for (let i = entry.length - 1; i >= 1; i--) bits = (bits << 7n) | BigInt(entry[i]! & 0x7f);
  return BigInt.asIntN(64, bits);
}

/** The bytes of `answer`: by hand for a success with a value, else through protobuf-es. */
export function encodeCounterAnswer(answer: CounterAnswer): Uint8Array {
  const value = answer.value;
  const plainSuccess =
    answer.success === true &&
    typeof value === "bigint" &&
    answer.redirect === undefined &&
    answer.refused === undefined;
  if (!plainSuccess) return toBinary(CounterResponseSchema, create(CounterResponseSchema, answer));
  const w = new ProtoWriter(tagSize(1) + 1 + tagSize(2) + bigintSize(value));
  w.varintField(1, 1); // success: true
  w.tag(2, WireType.VARINT);
  w.bigintVarint(value);
  const out = w.finish();
  // A plain Uint8Array over the writer's bytes, as protobuf-es returns (no copy).
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Whether `bytes` is field 1 once, as the shortest varint of its value, and nothing else. */
function isLoneMinimalValue(bytes: Uint8Array): boolean {
  const last = bytes.length - 1;
  if (bytes.length < 2 || bytes.length > 11 || bytes[0] !== VALUE_TAG) return false;
  for (let i = 1; i < last; i++) if (bytes[i]! < 0x80) return false; // ends before the last byte
  const lastByte = bytes[last]!;
  // The last byte ends the varint; a zero there (after another byte) would be a padded varint.
  // Ten bytes are the most a 64-bit value takes, and the tenth holds one bit.
  return lastByte < 0x80 && (last === 1 || lastByte !== 0) && (last < 10 || lastByte === 1);
}
