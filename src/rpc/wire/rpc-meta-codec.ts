/**
 * brpc's RpcMeta (baidu_rpc_meta.proto), by hand: every frame carries one, so it is the most
 * often encoded message of all. Fields tsraft does not use (chunk_info, authentication_data,
 * stream_settings, trace/span ids) are skipped when read and never written. user_fields (a
 * string map brpc carries for applications) is read, and written on failed responses only.
 */
import {
  ProtoReader,
  ProtoWriter,
  WireType,
  bigintSize,
  delimitedSize,
  tagSize,
  varintSize,
} from "./proto-wire.js";

const META_FIELDS = new Set([1, 2, 3, 4, 5, 9]);
const USER_FIELD_ENTRY_FIELDS = new Set([1, 2]);
const REQUEST_FIELDS = new Set([1, 2, 3, 8]);
const RESPONSE_FIELDS = new Set([1, 2]);

/** The parts of RpcMeta tsraft reads; shaped like protobuf-es's RpcMeta. */
export interface WireRpcMeta {
  readonly request: WireRequestMeta | undefined;
  readonly response: WireResponseMeta | undefined;
  readonly compressType: number;
  readonly correlationId: bigint;
  readonly attachmentSize: number;
  /** user_fields; undefined when the frame has none (the usual case: nothing allocated). */
  readonly userFields: ReadonlyMap<string, string> | undefined;
}

export interface WireRequestMeta {
  readonly serviceName: string;
  readonly methodName: string;
  readonly logId: bigint;
  readonly timeoutMs: number;
}

export interface WireResponseMeta {
  readonly errorCode: number;
  readonly errorText: string;
}

/** What a request frame's meta says. */
export interface RequestMetaFields {
  readonly service: string;
  readonly method: string;
  readonly correlationId: bigint;
  readonly attachmentSize: number;
  readonly timeoutMs?: number | undefined;
  readonly logId?: bigint | undefined;
}

const enum Field {
  REQUEST = 1,
  RESPONSE = 2,
  COMPRESS_TYPE = 3,
  CORRELATION_ID = 4,
  ATTACHMENT_SIZE = 5,
  USER_FIELDS = 9,
}

/** Encodes the meta of a request. `attachment_size` is written only when non-zero, as brpc does. */
export function encodeRequestMeta(m: RequestMetaFields): Buffer {
  const serviceBytes = Buffer.byteLength(m.service);
  const methodBytes = Buffer.byteLength(m.method);
  let requestSize = delimitedSize(1, serviceBytes) + delimitedSize(2, methodBytes);
  if (m.logId !== undefined) requestSize += tagSize(3) + bigintSize(m.logId);
  if (m.timeoutMs !== undefined) requestSize += tagSize(8) + varintSize(m.timeoutMs);
  let size = delimitedSize(Field.REQUEST, requestSize) + tagSize(4) + bigintSize(m.correlationId);
  if (m.attachmentSize > 0) size += tagSize(5) + varintSize(m.attachmentSize);
  const w = new ProtoWriter(size);
  w.messageHeader(Field.REQUEST, requestSize);
  w.stringField(1, m.service, serviceBytes);
  w.stringField(2, m.method, methodBytes);
  if (m.logId !== undefined) writeBigint(w, 3, m.logId);
  if (m.timeoutMs !== undefined) w.varintField(8, m.timeoutMs);
  writeBigint(w, Field.CORRELATION_ID, m.correlationId);
  if (m.attachmentSize > 0) w.varintField(Field.ATTACHMENT_SIZE, m.attachmentSize);
  return w.finish();
}

/**
 * Encodes the meta of a response; an empty `response` submessage marks success, as brpc sends.
 * `userFields` become RpcMeta.user_fields entries.
 */
export function encodeResponseMeta(
  correlationId: bigint,
  attachmentSize: number,
  errorCode: number,
  errorText: string,
  userFields?: ReadonlyMap<string, string>,
): Buffer {
  const textBytes = errorText === "" ? 0 : Buffer.byteLength(errorText);
  let responseSize = 0;
  if (errorCode !== 0) responseSize += tagSize(1) + varintSize(errorCode);
  if (textBytes > 0) responseSize += delimitedSize(2, textBytes);
  let size = delimitedSize(Field.RESPONSE, responseSize) + tagSize(4) + bigintSize(correlationId);
  if (attachmentSize > 0) size += tagSize(5) + varintSize(attachmentSize);
  const entries = userFieldEntries(userFields);
  for (const e of entries) size += delimitedSize(Field.USER_FIELDS, e.size);
  const w = new ProtoWriter(size);
  w.messageHeader(Field.RESPONSE, responseSize);
  if (errorCode !== 0) w.varintField(1, errorCode);
  if (textBytes > 0) w.stringField(2, errorText, textBytes);
  writeBigint(w, Field.CORRELATION_ID, correlationId);
  if (attachmentSize > 0) w.varintField(Field.ATTACHMENT_SIZE, attachmentSize);
  for (const e of entries) {
    w.messageHeader(Field.USER_FIELDS, e.size);
    w.stringField(1, e.key, e.keyBytes);
    w.stringField(2, e.value, e.valueBytes);
  }
  return w.finish();
}

interface UserFieldEntry {
  readonly key: string;
  readonly value: string;
  readonly keyBytes: number;
  readonly valueBytes: number;
  readonly size: number;
}

/** The map entries of user_fields (each a message {key = 1, value = 2}) with their sizes. */
function userFieldEntries(fields: ReadonlyMap<string, string> | undefined): UserFieldEntry[] {
  if (fields === undefined) return [];
  return [...fields].map(([key, value]) => {
    const keyBytes = Buffer.byteLength(key);
    const valueBytes = Buffer.byteLength(value);
    return {
      key,
      value,
      keyBytes,
      valueBytes,
      size: delimitedSize(1, keyBytes) + delimitedSize(2, valueBytes),
    };
  });
}

function writeBigint(w: ProtoWriter, field: number, value: bigint): void {
  w.tag(field, WireType.VARINT);
  w.bigintVarint(value);
}

/** Decodes an RpcMeta; ProtoParseError when malformed or a required request field is missing. */
export function decodeRpcMeta(bytes: Uint8Array): WireRpcMeta {
  const r = new ProtoReader(bytes, "brpc.policy.RpcMeta");
  let request: WireRequestMeta | undefined;
  let response: WireResponseMeta | undefined;
  let compressType = 0;
  let correlationId = 0n;
  let attachmentSize = 0;
  let userFields: Map<string, string> | undefined;
  while (!r.done) {
    const tag = r.tag();
    switch (tag) {
      case (Field.USER_FIELDS << 3) | WireType.LENGTH_DELIMITED:
        userFields ??= new Map();
        decodeUserField(r.sub(r.messageEnd(), "brpc.policy.RpcMeta.UserFieldsEntry"), userFields);
        break;
      case (Field.REQUEST << 3) | WireType.LENGTH_DELIMITED:
        request = decodeRequestMeta(r.sub(r.messageEnd(), "brpc.policy.RpcRequestMeta"));
        break;
      case (Field.RESPONSE << 3) | WireType.LENGTH_DELIMITED:
        response = decodeResponseMeta(r.sub(r.messageEnd(), "brpc.policy.RpcResponseMeta"));
        break;
      case (Field.COMPRESS_TYPE << 3) | WireType.VARINT:
        compressType = r.int32();
        break;
      case (Field.CORRELATION_ID << 3) | WireType.VARINT:
        correlationId = r.bigint64();
        break;
      case (Field.ATTACHMENT_SIZE << 3) | WireType.VARINT:
        attachmentSize = r.int32();
        break;
      default:
        r.skipOther(tag, META_FIELDS);
    }
  }
  return { request, response, compressType, correlationId, attachmentSize, userFields };
}

function decodeUserField(r: ProtoReader, into: Map<string, string>): void {
  let key = "";
  let value = "";
  while (!r.done) {
    const tag = r.tag();
    if (tag === ((1 << 3) | WireType.LENGTH_DELIMITED)) key = r.string();
    else if (tag === ((2 << 3) | WireType.LENGTH_DELIMITED)) value = r.string();
    else r.skipOther(tag, USER_FIELD_ENTRY_FIELDS);
  }
  into.set(key, value);
}

function decodeRequestMeta(r: ProtoReader): WireRequestMeta {
  let serviceName: string | undefined;
  let methodName: string | undefined;
  let logId = 0n;
  let timeoutMs = 0;
  while (!r.done) {
    const tag = r.tag();
    switch (tag) {
      case (1 << 3) | WireType.LENGTH_DELIMITED:
        serviceName = r.string();
        break;
      case (2 << 3) | WireType.LENGTH_DELIMITED:
        methodName = r.string();
        break;
      case (3 << 3) | WireType.VARINT:
        logId = r.bigint64();
        break;
      case (8 << 3) | WireType.VARINT:
        timeoutMs = r.int32();
        break;
      default:
        r.skipOther(tag, REQUEST_FIELDS);
    }
  }
  if (serviceName === undefined) return r.fail("missing required field service_name");
  if (methodName === undefined) return r.fail("missing required field method_name");
  return { serviceName, methodName, logId, timeoutMs };
}

function decodeResponseMeta(r: ProtoReader): WireResponseMeta {
  let errorCode = 0;
  let errorText = "";
  while (!r.done) {
    const tag = r.tag();
    if (tag === ((1 << 3) | WireType.VARINT)) errorCode = r.int32();
    else if (tag === ((2 << 3) | WireType.LENGTH_DELIMITED)) errorText = r.string();
    else r.skipOther(tag, RESPONSE_FIELDS);
  }
  return { errorCode, errorText };
}
