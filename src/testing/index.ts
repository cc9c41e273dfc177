/**
 * `tsraft/testing`: the deterministic simulator and the checkers, shipped so users can test
 * their own state machines the way tsraft tests itself.
 */
export { SimCluster, type SimClusterOptions, type SimProcess } from "./sim-cluster.js";
export { SimGroup, type SimGroupHost } from "./sim-group.js";
export { LeaseChecker } from "./sim-lease-checker.js";
export { runSimulation, type SimRunOptions, type SimRunResult } from "./sim-run.js";
export { SimScheduler, type SimSchedulerOptions } from "./sim-scheduler.js";
export { SimNetwork, type SimNetworkOptions, type SimNetworkStats } from "./sim-network.js";
export { SimDisk, type SimDiskOptions } from "./sim-storage.js";
export { SimEnv } from "./sim-env.js";
export { SimClock, maxSafeClockRate } from "./sim-clock.js";
export { SimHistory, type PendingOperation } from "./sim-history.js";
export { DurabilityChecker } from "./durability-checker.js";
export { Prng } from "./prng.js";
export { SafetyChecker, logMismatch, dataKey } from "./checkers.js";
export { InProcessNetwork } from "./in-process-network.js";
export { freePorts } from "./free-ports.js";
export {
  checkLinearizability,
  checkKey,
  formatHistory,
  describe as describeOperation,
  type RegisterOperation,
  type RegisterInput,
  type RegisterOutput,
  type Outcome,
  type CheckOptions,
  type KeyResult,
  type LinearizabilityResult,
  type Verdict,
} from "./linearizability.js";
export { FaultProxy, ProxyLink, type LinkState } from "./fault-proxy.js";
