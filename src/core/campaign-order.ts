/**
 * Which voter of a group campaigns first when several would otherwise campaign together: a
 * stable hash of the group and each peer picks one per group, so across thousands of groups the
 * first campaigns, and the leaderships they win, spread evenly over the processes.
 *
 * Used twice. After a quiet leader's process dies, its followers wake in the same liveness tick
 * (quiesce.ts `wake`): the first one campaigns after the random delay only, the others wait a
 * whole election timeout more and vote for it meanwhile. Woken together they would otherwise
 * campaign within one random delay of each other, and on a loaded process (thousands of groups
 * waking at once, the many-groups bench) their requests cross: each votes for itself and the
 * group waits another timeout, a quarter of the rounds there.
 *
 * And at a group's first election (term 0, RaftMachine.resetElectionDeadline): the others wait
 * one election timeout more. Without it the process that started its groups first led most of
 * them (4,025-8,633 of 10,000 on three processes in the many-groups bench), and a kill of that
 * process left its survivors thousands of elections to hold at once.
 *
 * If the first one cannot win (it is down, or behind), the others campaign an election timeout
 * later.
 */
import type { CoreState } from "./core-state.js";
import type { PeerKey } from "./types.js";
import { peerMayCampaign } from "./witness.js";

/** Whether this node is its group's first to campaign among the voters other than its leader. */
export function firstToCampaign(core: CoreState): boolean {
  const { groupId, self } = core.config;
  let first: { peer: PeerKey; rank: number } | undefined;
  for (const peer of core.voters().current) {
    if (peer === core.leaderId || !peerMayCampaign(core.config, peer)) continue;
    const rank = fnv1a(`${groupId}\u0000${peer}`);
    if (first === undefined || rank < first.rank || (rank === first.rank && peer < first.peer))
      first = { peer, rank };
  }
  return first === undefined || first.peer === self;
}

/** 32-bit FNV-1a of the UTF-16 code units: cheap, stable across processes and runs. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}
