/**
 * The methods a RaftServer serves, by service and method name as they appear in RpcRequestMeta
 * (brpc's baidu_std uses the full service name, e.g. `braft.RaftService`; a unique short name,
 * e.g. `RaftService`, is accepted too, as brpc does).
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
import type { Attachment } from "./baidu-std.js";
import { parseMessage } from "./proto-util.js";

/** One incoming call, as a handler sees it (the server side of brpc's Controller). */
export interface CallContext {
  readonly service: string;
  readonly method: string;
  /** `ip:port` of the caller. */
  readonly remoteAddress: string;
  readonly requestAttachment: Uint8Array;
  /** Set by the handler: sent after the response message. */
  responseAttachment: Attachment | undefined;
  readonly logId: bigint | undefined;
  /** Aborted when the caller's connection closes: its answer can no longer be delivered. */
  readonly signal: AbortSignal;
}

/** What a ServerCall needs of its connection. */
export interface CallConnection {
  readonly remoteAddress: string;
  readonly signal: AbortSignal;
}

/**
 * One call being served: its CallContext, plus the correlation id its answer carries. The
 * remote address and the signal are the connection's, read only if the handler asks.
 */
export class ServerCall implements CallContext {
  readonly service: string;
  readonly method: string;
  readonly logId: bigint | undefined;
  responseAttachment: Attachment | undefined = undefined;

  constructor(
    private readonly connection: CallConnection,
    readonly correlationId: bigint,
    request: { readonly serviceName: string; readonly methodName: string; readonly logId: bigint },
    readonly requestAttachment: Uint8Array,
  ) {
    this.service = request.serviceName;
    this.method = request.methodName;
    this.logId = request.logId === 0n ? undefined : request.logId;
  }

  get remoteAddress(): string {
    return this.connection.remoteAddress;
  }

  get signal(): AbortSignal {
    return this.connection.signal;
  }
}

/**
 * A method on raw bytes: gets the request message, returns the response message. A rejection
 * becomes the call's error: a RaftError keeps its errno, anything else is EINTERNAL.
 */
export type RawMethodHandler = (message: Uint8Array, ctx: CallContext) => Promise<Uint8Array> | Uint8Array;

/** The methods of a generated service, by proto name. */
export type MethodsOf<S extends DescService> = S extends { method: infer M } ? M : never;
/** The request schema of a method. */
export type InputOf<T> = T extends { input: infer I extends DescMessage } ? I : never;
/** The response schema of a method. */
export type OutputOf<T> = T extends { output: infer O extends DescMessage } ? O : never;

/** A typed implementation of a generated service: any subset of its methods, by proto name. */
export type ServiceImpl<S extends DescService> = {
  readonly [K in keyof MethodsOf<S>]?: (
    request: MessageShape<InputOf<MethodsOf<S>[K]>>,
    ctx: CallContext,
  ) => Promise<MessageInitShape<OutputOf<MethodsOf<S>[K]>>> | MessageInitShape<OutputOf<MethodsOf<S>[K]>>;
};

/** Result of looking a method up: the handler, or brpc's reason for refusing. */
export type Lookup = { readonly handler: RawMethodHandler } | { readonly missing: "service" | "method" };

/** Method handlers by service and method name. */
export class ServiceRegistry {
  private readonly services = new Map<string, Map<string, RawMethodHandler>>();
  /** Short name -> full names; a short name resolves only when one service has it. */
  private readonly shortNames = new Map<string, Set<string>>();

  /** Adds one raw method; EEXIST if the service already has it. */
  addMethod(service: string, method: string, handler: RawMethodHandler): void {
    let methods = this.services.get(service);
    if (methods === undefined) {
      methods = new Map();
      this.services.set(service, methods);
      const short = service.slice(service.lastIndexOf(".") + 1);
      const names = this.shortNames.get(short) ?? new Set<string>();
      names.add(service);
      this.shortNames.set(short, names);
    }
    if (methods.has(method)) throw new RaftError("EEXIST", `method ${service}.${method} already served`);
    methods.set(method, handler);
  }

  /** Adds the implemented methods of a generated service (its proto method names). */
  addService<S extends DescService>(service: S, impl: ServiceImpl<S>): void {
    const handlers = impl as Record<string, ((req: unknown, ctx: CallContext) => unknown) | undefined>;
    for (const method of service.methods) {
      const handler = handlers[method.name] ?? handlers[method.localName];
      if (handler === undefined) continue;
      if (method.methodKind !== "unary") {
        throw new RaftError("EINVAL", `${service.typeName}.${method.name}: only unary methods are served`);
      }
      this.addMethod(service.typeName, method.name, async (bytes, ctx) => {
        const request = parseMessage(method.input, bytes);
        const response = await handler(request, ctx);
        return toBinary(method.output, create(method.output, response as MessageInitShape<DescMessage>));
      });
    }
  }

  /** Removes a whole service. */
  removeService(service: string): void {
    if (!this.services.delete(service)) return;
    const short = service.slice(service.lastIndexOf(".") + 1);
    this.shortNames.get(short)?.delete(service);
  }

  /** The handler of a method, or which part of the name is unknown. */
  lookup(service: string, method: string): Lookup {
    const methods = this.services.get(service) ?? this.byShortName(service);
    if (methods === undefined) return { missing: "service" };
    const handler = methods.get(method);
    return handler === undefined ? { missing: "method" } : { handler };
  }

  private byShortName(service: string): Map<string, RawMethodHandler> | undefined {
    const names = this.shortNames.get(service);
    if (names === undefined || names.size !== 1) return undefined;
    const [full] = names;
    return full === undefined ? undefined : this.services.get(full);
  }
}
