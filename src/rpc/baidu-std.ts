/**
 * baidu_std messages: RpcMeta plus payload, encoded as the list of buffers one writev sends,
 * and decoded from a RawFrame. The message and attachment are never copied on either side.
 */
import { gunzipSync, inflateSync } from "node:zlib";
import { CompressType } from "./gen/brpc/options_pb.js";
import { FrameError, encodeHeader, type RawFrame } from "./frame.js";
import {
  decodeRpcMeta,
  encodeRequestMeta,
  encodeResponseMeta,
  type WireRpcMeta,
} from "./wire/rpc-meta-codec.js";

/** The attachment of a call: one buffer or several sent back to back (no copy). */
export type Attachment = Uint8Array | readonly Uint8Array[];

/** A request to send. */
export interface OutgoingRequest {
  readonly service: string;
  readonly method: string;
  readonly correlationId: bigint;
  readonly message: Uint8Array;
  readonly attachment?: Attachment | undefined;
  readonly timeoutMs?: number | undefined;
  readonly logId?: bigint | undefined;
}

/** A response to send; `errorCode` other than 0 makes it a failure with no message. */
export interface OutgoingResponse {
  readonly correlationId: bigint;
  readonly message?: Uint8Array | undefined;
  readonly attachment?: Attachment | undefined;
  readonly errorCode?: number | undefined;
  readonly errorText?: string | undefined;
  /** RpcMeta.user_fields of a failed response (what the error says beyond code and text). */
  readonly userFields?: ReadonlyMap<string, string> | undefined;
}

/** A received frame: its meta and its payload cut into message and attachment. */
export interface DecodedFrame {
  readonly meta: WireRpcMeta;
  readonly message: Uint8Array;
  readonly attachment: Uint8Array;
  /** attachment_size did not fit the payload: the call must fail with EREQUEST. */
  readonly badAttachmentSize: boolean;
}

function attachmentParts(attachment: Attachment | undefined): readonly Uint8Array[] {
  if (attachment === undefined) return [];
  return attachment instanceof Uint8Array ? [attachment] : attachment;
}

function sumBytes(parts: readonly Uint8Array[]): number {
  let total = 0;
  for (const part of parts) total += part.length;
  return total;
}

function frameParts(metaBytes: Uint8Array, message: Uint8Array, parts: readonly Uint8Array[]): Uint8Array[] {
  const header = encodeHeader(metaBytes.length, message.length + sumBytes(parts));
  return [header, metaBytes, message, ...parts];
}

/** The buffers of a request frame, in order. */
export function encodeRequest(request: OutgoingRequest): Uint8Array[] {
  const parts = attachmentParts(request.attachment);
  const meta = encodeRequestMeta({
    service: request.service,
    method: request.method,
    correlationId: request.correlationId,
    // brpc sets attachment_size only when there is an attachment.
    attachmentSize: sumBytes(parts),
    logId: request.logId,
    timeoutMs: request.timeoutMs === undefined ? undefined : Math.ceil(request.timeoutMs),
  });
  return frameParts(meta, request.message, parts);
}

const EMPTY = new Uint8Array(0);

/** The buffers of a response frame, in order. */
export function encodeResponse(response: OutgoingResponse): Uint8Array[] {
  const errorCode = response.errorCode ?? 0;
  const failed = errorCode !== 0;
  // As brpc: a failed call sends neither message nor attachment.
  const parts = failed ? [] : attachmentParts(response.attachment);
  const meta = encodeResponseMeta(
    response.correlationId,
    sumBytes(parts),
    errorCode,
    failed ? (response.errorText ?? "") : "",
    failed ? response.userFields : undefined,
  );
  return frameParts(meta, failed ? EMPTY : (response.message ?? EMPTY), parts);
}

/**
 * Parses a frame's meta and cuts its payload. Throws FrameError when the meta is not an
 * RpcMeta (the connection must close: even the correlation id is unknown).
 */
export function decodeFrame(raw: RawFrame): DecodedFrame {
  let meta: WireRpcMeta;
  try {
    meta = decodeRpcMeta(raw.meta);
  } catch (err) {
    throw new FrameError("bad-meta", `cannot parse RpcMeta: ${(err as Error).message}`);
  }
  const attachmentBytes = meta.attachmentSize;
  if (attachmentBytes < 0 || attachmentBytes > raw.payload.length) {
    // The correlation id is known, so this one call can fail cleanly: keep the payload whole
    // and let the caller answer EREQUEST.
    return { meta, message: raw.payload, attachment: new Uint8Array(0), badAttachmentSize: true };
  }
  const split = raw.payload.length - attachmentBytes;
  return {
    meta,
    message: raw.payload.subarray(0, split),
    attachment: raw.payload.subarray(split),
    badAttachmentSize: false,
  };
}

/**
 * The uncompressed message of a frame. brpc compresses only the message, never the
 * attachment. Throws a plain Error for a type tsraft does not support (snappy, lz4) or
 * bytes that do not inflate; the server answers EREQUEST, as brpc does.
 */
export function decompressMessage(message: Uint8Array, compressType: number, maxBytes: number): Uint8Array {
  switch (compressType) {
    case CompressType.NONE:
      return message;
    case CompressType.GZIP:
      return gunzipSync(message, { maxOutputLength: maxBytes });
    case CompressType.ZLIB:
      return inflateSync(message, { maxOutputLength: maxBytes });
    default:
      throw new Error(`unsupported compress type ${compressType}`);
  }
}
