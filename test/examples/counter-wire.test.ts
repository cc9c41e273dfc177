/**
 * The counter's hand-written fetch_add codec against protobuf-es: the same entry bytes, the same
 * values, the same answer bytes, and the same parse error for a malformed request. Inputs come
 * from fast-check with a fixed seed (FC_SEED), so every run checks the same cases.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import {
  encodeCounterAnswer,
  fetchAddEntryOf,
  fetchAddValueOf,
} from "../../examples/counter/counter-wire.js";
import { encodeFetchAddEntry } from "../../examples/counter/fetch-add-encoding.js";
import { CounterResponseSchema, FetchAddRequestSchema } from "../../src/rpc/gen/example/counter_pb.js";
import { ProtoParseError, parseMessage } from "../../src/rpc/proto-util.js";
import { FC_SEED } from "../fc-seed.js";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const edges = [0n, 1n, -1n, 127n, 128n, 16_383n, 16_384n, 2n ** 49n - 1n, 2n ** 49n, 2n ** 53n - 1n];
/** Any int64, weighted towards what a counter holds (small, non-negative) and the edges. */
const int64 = fc.oneof(
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  fc.bigInt({ min: 0n, max: 2n ** 56n }),
  fc.constantFrom(...edges, 2n ** 53n, INT64_MAX, INT64_MIN),
);

const requestBytes = (value: bigint): Uint8Array =>
  toBinary(FetchAddRequestSchema, create(FetchAddRequestSchema, { value }));

/** What the typed path logs for `request`: parse, then re-serialize. */
const typedEntry = (request: Uint8Array): Uint8Array =>
  encodeFetchAddEntry(parseMessage(FetchAddRequestSchema, request));

/** Any byte string that starts like a FetchAddRequest, to reach every branch of the shape check. */
const nearRequest = fc.oneof(
  int64.map(requestBytes),
  fc
    .tuple(int64, fc.uint8Array({ minLength: 1, maxLength: 6 }))
    .map(([value, tail]) => Buffer.concat([requestBytes(value), tail])),
  fc.uint8Array({ maxLength: 12 }).map((tail) => Buffer.concat([Buffer.of(0x08), tail])),
  fc.uint8Array({ maxLength: 12 }),
);

describe("counter fetch_add codec", () => {
  it("logs a well-formed request as the bytes protobuf-es re-serializes, as a copy", () => {
    for (const value of edges) {
      // As a server reads it: a Buffer viewing a larger read buffer.
      const read = Buffer.concat([Buffer.of(1, 2, 3), requestBytes(value)]);
      const request = read.subarray(3);
      const entry = fetchAddEntryOf(request);
      assert.deepEqual(entry, typedEntry(request));
      assert.notEqual(entry.buffer, read.buffer);
    }
    fc.assert(
      fc.property(int64, (value) => {
        const request = requestBytes(value);
        assert.deepEqual(fetchAddEntryOf(request), typedEntry(request));
      }),
      { seed: FC_SEED, numRuns: 2000 },
    );
  });

  it("logs, or refuses with the same parse error, whatever bytes arrive", () => {
    fc.assert(
      fc.property(nearRequest, (request) => {
        let expected: Uint8Array | ProtoParseError;
        try {
          expected = typedEntry(request);
        } catch (err) {
          assert.ok(err instanceof ProtoParseError);
          expected = err;
        }
        if (expected instanceof ProtoParseError) {
          assert.throws(() => fetchAddEntryOf(request), { message: expected.message });
        } else {
          assert.deepEqual(fetchAddEntryOf(request), expected);
        }
      }),
      { seed: FC_SEED, numRuns: 5000 },
    );
  });

  it("reads an entry's value as protobuf-es does", () => {
    fc.assert(
      fc.property(int64, (value) => {
        const entry = requestBytes(value);
        assert.equal(fetchAddValueOf(entry), fromBinary(FetchAddRequestSchema, entry).value);
      }),
      { seed: FC_SEED, numRuns: 2000 },
    );
    // A padded varint and an unknown field take protobuf-es's path and read the same value.
    const padded = Uint8Array.of(0x08, 0x85, 0x80, 0x00);
    assert.equal(fetchAddValueOf(padded), 5n);
    const withUnknown = Uint8Array.of(0x08, 0x07, 0x18, 0x01);
    assert.equal(fetchAddValueOf(withUnknown), 7n);
  });

  it("writes every answer as protobuf-es writes it", () => {
    const answer = fc.oneof(
      int64.map((value) => ({ success: true, value })),
      fc.record(
        {
          success: fc.boolean(),
          value: int64,
          redirect: fc.constantFrom("127.0.0.1:8100:0", ""),
          refused: fc.boolean(),
        },
        { requiredKeys: ["success"] },
      ),
    );
    fc.assert(
      fc.property(answer, (a) => {
        const expected = toBinary(CounterResponseSchema, create(CounterResponseSchema, a));
        assert.deepEqual(encodeCounterAnswer(a), expected);
      }),
      { seed: FC_SEED, numRuns: 3000 },
    );
  });
});
