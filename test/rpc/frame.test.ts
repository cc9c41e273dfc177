/** baidu_std framing: header layout, streaming parser, limits. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FrameError, FrameParser, HEADER_BYTES, encodeHeader } from "../../src/rpc/frame.js";

function frame(meta: string, payload: string): Buffer {
  const m = Buffer.from(meta);
  const p = Buffer.from(payload);
  return Buffer.concat([encodeHeader(m.length, p.length), m, p]);
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();

describe("baidu_std framing", () => {
  it("writes PRPC, body size and meta size big-endian", () => {
    const header = encodeHeader(5, 300);
    assert.equal(header.length, HEADER_BYTES);
    assert.equal(header.subarray(0, 4).toString("latin1"), "PRPC");
    assert.deepEqual([...header.subarray(4)], [0, 0, 1, 49, 0, 0, 0, 5]);
  });

  it("returns a frame that arrives whole without copying it", () => {
    const bytes = frame("meta", "payload");
    const [only] = new FrameParser().push(bytes);
    assert.ok(only);
    assert.equal(text(only.meta), "meta");
    assert.equal(text(only.payload), "payload");
    assert.equal(only.meta.buffer, bytes.buffer);
  });

  it("parses frames split at every byte", () => {
    const stream = Buffer.concat([frame("m1", "first"), frame("", ""), frame("meta-2", "x".repeat(40))]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new FrameParser();
      const frames = [...parser.push(stream.subarray(0, cut)), ...parser.push(stream.subarray(cut))];
      assert.deepEqual(
        frames.map((f) => [text(f.meta), text(f.payload)]),
        [
          ["m1", "first"],
          ["", ""],
          ["meta-2", "x".repeat(40)],
        ],
        `cut at ${cut}`,
      );
      assert.equal(parser.bufferedBytes, 0);
    }
  });

  it("parses a stream fed one byte at a time", () => {
    const stream = Buffer.concat([frame("a", "bc"), frame("def", "g")]);
    const parser = new FrameParser();
    const frames = [];
    for (const byte of stream) frames.push(...parser.push(Buffer.from([byte])));
    assert.deepEqual(
      frames.map((f) => text(f.meta) + "|" + text(f.payload)),
      ["a|bc", "def|g"],
    );
  });

  it("rejects a body over the maximum before buffering it", () => {
    const parser = new FrameParser(1024);
    const header = encodeHeader(10, 2000);
    assert.throws(
      () => parser.push(header),
      (err: unknown) =>
        err instanceof FrameError && err.reason === "too-large" && /2010 bytes/.test(err.message),
    );
    assert.throws(() => parser.push(Buffer.from("more")), FrameError, "a failed parser stays failed");
  });

  it("accepts a body of exactly the maximum", () => {
    const parser = new FrameParser(16);
    assert.equal(parser.push(frame("1234", "567890abcdef")).length, 1);
  });

  it("rejects bytes that are not PRPC and a meta larger than the body", () => {
    assert.throws(
      () => new FrameParser().push(Buffer.from("GET / HTTP/1.1\r\n\r\n")),
      (err: unknown) => err instanceof FrameError && err.reason === "bad-magic",
    );
    const bad = encodeHeader(8, 0);
    bad.writeUInt32BE(4, 4); // body 4 < meta 8
    assert.throws(
      () => new FrameParser().push(bad),
      (err: unknown) => err instanceof FrameError && err.reason === "bad-sizes",
    );
  });

  it("waits for more bytes when a frame is truncated", () => {
    const parser = new FrameParser();
    const bytes = frame("meta", "payload");
    assert.deepEqual(parser.push(bytes.subarray(0, bytes.length - 1)), []);
    assert.equal(parser.bufferedBytes, bytes.length - 1);
  });
});
