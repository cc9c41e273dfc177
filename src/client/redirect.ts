/**
 * How a response says "not the leader": braft's example services answer `success=false` with the
 * leader's id in `redirect`; tsraft's add `refused` (field 1000) when nothing was proposed.
 */
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";

/** A response that says the call went to the wrong node. */
export interface Redirect {
  /** The leader to go to, when the node knows it. */
  readonly leaderId?: string | undefined;
  /**
   * True when the node did nothing (it never proposed the request): sending it again is safe.
   * False when it may have proposed it (the leader stepped down meanwhile): the write may still
   * take effect.
   */
  readonly refused: boolean;
}

/** Tells a redirect from an answer; undefined means the response is the answer. */
export type RedirectOf<T> = (response: T) => Redirect | undefined;

function scalarField(schema: DescMessage, name: string, scalar: ScalarType): DescField | undefined {
  return schema.fields.find((f) => f.localName === name && f.fieldKind === "scalar" && f.scalar === scalar);
}

/**
 * The braft examples' convention, when a response schema follows it (a bool `success` and a
 * string `redirect`): `success === false` is a redirect, to `redirect` when set, refused when a
 * bool `refused` says so. Undefined for other schemas (their responses are never redirects).
 */
export function conventionalRedirect(schema: DescMessage): RedirectOf<unknown> | undefined {
  if (scalarField(schema, "success", ScalarType.BOOL) === undefined) return undefined;
  if (scalarField(schema, "redirect", ScalarType.STRING) === undefined) return undefined;
  const hasRefused = scalarField(schema, "refused", ScalarType.BOOL) !== undefined;
  return (response) => {
    const r = response as { success?: boolean; redirect?: string; refused?: boolean };
    if (r.success !== false) return undefined;
    const leaderId = r.redirect === undefined || r.redirect === "" ? undefined : r.redirect;
    return { leaderId, refused: hasRefused && r.refused === true };
  };
}
