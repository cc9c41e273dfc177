/**
 * Typed calls of generated services over a Channel: braft's CliService and FileService, or a
 * user's own service on a RaftServer.
 */
import {
  create,
  toBinary,
  type DescMessage,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { RaftError } from "../core/errors.js";
import type { CallOptions, Channel } from "./channel.js";
import { parseMessage } from "./proto-util.js";
import type { InputOf, MethodsOf, OutputOf } from "./service-registry.js";

/** A typed response and the attachment that came with it. */
export interface TypedResult<T> {
  readonly response: T;
  readonly attachment: Uint8Array;
}

/** Calls `service.method` (proto method name, e.g. "get_leader") on `channel`. */
export async function callMethod<S extends DescService, K extends keyof MethodsOf<S> & string>(
  channel: Pick<Channel, "call">,
  service: S,
  method: K,
  request: MessageInitShape<InputOf<MethodsOf<S>[K]>>,
  options: CallOptions,
): Promise<TypedResult<MessageShape<OutputOf<MethodsOf<S>[K]>>>> {
  const desc = service.methods.find((m) => m.name === method || m.localName === method);
  if (desc === undefined) throw new RaftError("EINVAL", `${service.typeName} has no method ${method}`);
  const input = desc.input as DescMessage;
  let bytes: Uint8Array;
  try {
    bytes = toBinary(input, create(input, request as MessageInitShape<DescMessage>));
  } catch (err) {
    throw new RaftError("EINVAL", `cannot encode ${desc.name}: ${(err as Error).message}`, { cause: err });
  }
  const result = await channel.call(service.typeName, desc.name, bytes, options);
  try {
    const response = parseMessage(desc.output, result.message);
    return { response: response as MessageShape<OutputOf<MethodsOf<S>[K]>>, attachment: result.attachment };
  } catch (err) {
    throw new RaftError("EIO", `bad ${desc.name} response: ${(err as Error).message}`, { cause: err });
  }
}
