/**
 * Helpers around @bufbuild/protobuf for braft's proto2 messages: parsing that enforces
 * `required` fields (as braft's C++ parser does; protobuf-es only checks them when encoding)
 * and int64 values that must fit a JavaScript number.
 */
import {
  fromBinary,
  isFieldSet,
  type DescMessage,
  type Message,
  type MessageShape,
} from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";

/** Bytes that are not the expected message. The server answers EREQUEST, a client fails EIO. */
export class ProtoParseError extends Error {
  override readonly name = "ProtoParseError";
}

function missingRequired(schema: DescMessage, message: Message): string | undefined {
  for (const field of schema.fields) {
    if (field.presence === FeatureSet_FieldPresence.LEGACY_REQUIRED && !isFieldSet(message, field)) {
      return `${schema.typeName}.${field.name}`;
    }
    const value = (message as unknown as Record<string, unknown>)[field.localName];
    if (field.fieldKind === "message" && value !== undefined) {
      const missing = missingRequired(field.message, value as Message);
      if (missing !== undefined) return missing;
    } else if (field.fieldKind === "list" && field.listKind === "message") {
      for (const item of value as Message[]) {
        const missing = missingRequired(field.message, item);
        if (missing !== undefined) return missing;
      }
    }
  }
  return undefined;
}

/** Parses `bytes` as `schema`; throws ProtoParseError when malformed or a required field is missing. */
export function parseMessage<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): MessageShape<Desc> {
  let message: MessageShape<Desc>;
  try {
    message = fromBinary(schema, bytes);
  } catch (err) {
    throw new ProtoParseError(`cannot parse ${schema.typeName}: ${(err as Error).message}`);
  }
  const missing = missingRequired(schema, message);
  if (missing !== undefined) throw new ProtoParseError(`missing required field ${missing}`);
  return message;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;

/** An int64 as a number; throws ProtoParseError beyond 2^53, where a number loses precision. */
export function toSafeNumber(value: bigint, what: string): number {
  if (value > MAX_SAFE || value < MIN_SAFE) {
    throw new ProtoParseError(`${what}=${value} is beyond 2^53`);
  }
  return Number(value);
}
