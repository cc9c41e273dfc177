/**
 * braft's counter on tsraft, as real processes: three servers, the load client driving them, a
 * leader killed with SIGKILL mid-run, snapshots in braft's ProtoBufFile format loaded on restart
 * and installed on a wiped node. Figures come from the client's machine-readable final line.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { fetchAddRequest } from "../../examples/counter/counter-client.js";
import { decodeCounterResponse, type CounterReply } from "../../examples/counter/counter-response.js";
import {
  decodeProtoBufFile,
  encodeProtoBufFile,
  loadProtoBufFile,
  saveProtoBufFile,
} from "../../examples/counter/protobuf-file.js";
import { parseFlags } from "../../examples/counter/flags.js";
import { CallError, PipelinedChannel, requestMetaPrefix } from "../../examples/counter/pipelined-channel.js";
import { RaftError, RaftServer } from "../../src/index.js";
import { CounterResponseSchema, SnapshotSchema } from "../../src/rpc/gen/example/counter_pb.js";
import { freePorts } from "../../src/testing/free-ports.js";
import { CLIENT, CounterCluster, exited, waitFor } from "./counter-cluster.js";

interface Report {
  readonly final: boolean;
  readonly ops_s: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly p999_us: number;
  readonly errors: number;
  readonly redirects: number;
  readonly ops?: number;
  readonly adds_acked?: number;
  readonly adds_unknown?: number;
  readonly adds_refused?: number;
}

/** A client run in its own process; `reports` fills with its JSON lines as they come. */
class ClientRun {
  readonly reports: Report[] = [];
  readonly done: Promise<Report>;

  constructor(conf: string, args: readonly string[]) {
    const child = spawn(process.execPath, [CLIENT, `--conf=${conf}`, "--json", ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.startsWith("{")) this.reports.push(JSON.parse(line) as Report);
    });
    this.done = exited(child).then((code) => {
      assert.equal(code, 0, "the client exits 0");
      const last = this.reports.at(-1);
      assert.ok(last?.final === true, "the client ends with its final report");
      return last;
    });
  }
}

describe("ProtoBufFile", () => {
  test("the snapshot file is braft's: big-endian length, then the Snapshot message", async () => {
    const message = toBinary(SnapshotSchema, create(SnapshotSchema, { value: 300n }));
    const expected = Uint8Array.of(0, 0, 0, 3, 0x08, 0xac, 0x02); // field 1 varint, 300
    assert.deepEqual(encodeProtoBufFile(message), expected);
    const dir = mkdtempSync(join(tmpdir(), "tsraft-pbfile-"));
    try {
      const path = join(dir, "data");
      await saveProtoBufFile(path, message, true);
      assert.deepEqual(new Uint8Array(readFileSync(path)), expected);
      assert.deepEqual(readdirSync(dir), ["data"], "no temporary file is left");
      assert.equal(fromBinary(SnapshotSchema, await loadProtoBufFile(path)).value, 300n);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("negative values and truncated files", () => {
    const minusOne = encodeProtoBufFile(toBinary(SnapshotSchema, create(SnapshotSchema, { value: -1n })));
    const tenBytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert.deepEqual(minusOne, Uint8Array.of(0, 0, 0, 11, 0x08, ...tenBytes));
    assert.equal(fromBinary(SnapshotSchema, decodeProtoBufFile(minusOne)).value, -1n);
    assert.throws(() => decodeProtoBufFile(minusOne.subarray(0, 10)), /length prefix 11/);
    assert.throws(() => decodeProtoBufFile(Uint8Array.of(0, 0)), /shorter than the length prefix/);
  });

  test("requests and replies: the client's precomputed bytes and decoder match the schema", () => {
    assert.deepEqual(fetchAddRequest(1n), Uint8Array.of(0x08, 0x01));
    const reply: CounterReply = { success: false, value: 0, redirect: undefined, refused: false };
    for (const init of [
      { success: true, value: 41n },
      { success: true, value: -5n },
      { success: false, redirect: "127.0.0.1:8101:0" },
      { success: false, redirect: "127.0.0.1:8101:0", refused: true },
      { success: false },
    ]) {
      const bytes = toBinary(CounterResponseSchema, create(CounterResponseSchema, init));
      const parsed = fromBinary(CounterResponseSchema, bytes);
      decodeCounterResponse(bytes, reply);
      assert.equal(reply.success, parsed.success);
      assert.equal(reply.value, Number(parsed.value));
      assert.equal(reply.redirect, init.redirect);
      assert.equal(reply.refused, parsed.refused);
    }
  });
});

describe("PipelinedChannel", () => {
  test("many calls in flight on one connection; errors and timeouts are told apart", async () => {
    const server = new RaftServer();
    const [port] = await freePorts(1);
    await server.start(`127.0.0.1:${port}`);
    server.addMethod("t.Echo", "echo", async (message) => {
      await new Promise((resolve) => setTimeout(resolve, (message[0] ?? 0) % 5));
      return message;
    });
    server.addMethod("t.Echo", "fail", () => Promise.reject(new RaftError("EPERM", "not leader")));
    server.addMethod("t.Echo", "hang", () => new Promise<Uint8Array>(() => undefined));
    const channel = new PipelinedChannel(`127.0.0.1:${port}`, 5000);
    const impatient = new PipelinedChannel(`127.0.0.1:${port}`, 500);
    try {
      const echo = requestMetaPrefix("t.Echo", "echo");
      const sent = Array.from({ length: 500 }, (_, i) => Uint8Array.of(i % 256, i >> 8, 7));
      const replies = await Promise.all(sent.map((message) => channel.call(echo, message)));
      assert.deepEqual(
        replies.map((r) => [...r]),
        sent.map((m) => [...m]),
      );
      await assert.rejects(channel.call(requestMetaPrefix("t.Echo", "fail"), new Uint8Array(0)), (e) => {
        return e instanceof CallError && e.kind === "rpc" && /\[1\] not leader/.test(e.message);
      });
      await assert.rejects(channel.call(requestMetaPrefix("t.Nope", "x"), new Uint8Array(0)), /\[1001\]/);
      await assert.rejects(
        impatient.call(requestMetaPrefix("t.Echo", "hang"), new Uint8Array(0)),
        (e) => e instanceof CallError && e.kind === "timeout",
      );
      assert.deepEqual([...(await impatient.call(echo, Uint8Array.of(1)))], [1], "usable after a timeout");
    } finally {
      channel.close();
      impatient.close();
      await server.stop();
    }
    await assert.rejects(channel.call(requestMetaPrefix("t.Echo", "echo"), Uint8Array.of(1)), /closed/);
  });
});

describe("Counter cluster", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-counter-"));
  let cluster: CounterCluster;

  before(async () => {
    cluster = await CounterCluster.create(dataDir, ["--snapshot_interval=1"]);
    await cluster.startAll();
    await cluster.leader();
  });

  after(async () => {
    await cluster.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("Workload: 8 callers for 2 s, and every acknowledged fetch_add is in the value", async () => {
    const before = await cluster.value();
    const run = new ClientRun(cluster.conf, ["--thread_num=8", "--duration_s=2"]);
    const final = await run.done;
    assert.ok(final.ops_s > 0, `ops_s=${final.ops_s}`);
    assert.ok(final.p50_us > 0 && final.p50_us <= final.p99_us && final.p99_us <= final.p999_us);
    assert.equal(final.errors, 0, "no call failed with the cluster healthy");
    // A follower's redirect is refused (nothing proposed), so the client resent those adds.
    assert.equal(final.adds_unknown, 0, "a healthy cluster leaves no add unknown");
    const added = (await cluster.value()) - before;
    assert.equal(added, final.adds_acked, "the value grew by exactly the acknowledged adds");
  });

  test("FollowerRefuses: a fetch_add on a follower is refused before proposing and does not happen", async () => {
    const leader = await cluster.leader();
    const follower = cluster.ports.find((port) => port !== leader) as number;
    const before = await cluster.value();
    const reply: CounterReply = { success: false, value: 0, redirect: undefined, refused: false };
    await cluster.client.call(`127.0.0.1:${follower}`, "fetch_add", fetchAddRequest(5n), reply);
    assert.equal(reply.success, false);
    assert.equal(reply.redirect, `127.0.0.1:${leader}:0`);
    assert.equal(reply.refused, true, "refused: safe to send to the leader");
    assert.equal(await cluster.value(), before, "the refused add did not happen");
  });

  test("LeaderFail: kill -9 of the leader mid-run; the client follows the redirect and goes on", async () => {
    const before = await cluster.value();
    const leader = await cluster.leader();
    const run = new ClientRun(cluster.conf, ["--thread_num=8", "--duration_s=8", "--timeout_ms=500"]);
    await waitFor("the client to report ops", () =>
      run.reports.some((r) => r.ops_s > 0) ? true : undefined,
    );
    await cluster.kill(leader);
    const reportsAtKill = run.reports.length;
    const final = await run.done;
    const afterKill = run.reports.slice(reportsAtKill + 1, -1);
    assert.ok(
      afterKill.some((r) => r.ops_s > 0),
      `ops go on after the kill: ${JSON.stringify(afterKill)}`,
    );
    const added = (await cluster.value()) - before;
    const acked = final.adds_acked ?? 0;
    assert.ok(acked > 0);
    assert.ok(
      added >= acked && added <= acked + (final.adds_unknown ?? 0),
      `value grew by ${added}: every one of ${acked} acknowledged adds, at most ${final.adds_unknown} more`,
    );
    await cluster.start(leader);
  });

  test("Snapshot: a restarted node loads its own snapshot; a wiped node gets the leader's", async () => {
    const leader = await cluster.leader();
    const [restarted, wiped] = cluster.ports.filter((port) => port !== leader) as [number, number];
    // The followers' periodic snapshots (--snapshot_interval=1) cover everything applied so far.
    const value = await cluster.value();
    const snapshotValue = (port: number): bigint | undefined => {
      const dir = join(cluster.dataPath(port), "snapshot");
      const name = readdirSync(dir).find((n) => n.startsWith("snapshot_"));
      if (name === undefined || !existsSync(join(dir, name, "data"))) return undefined;
      return fromBinary(SnapshotSchema, decodeProtoBufFile(readFileSync(join(dir, name, "data")))).value;
    };
    await waitFor("a snapshot holding the value", () =>
      snapshotValue(restarted) === BigInt(value) ? true : undefined,
    );

    assert.equal(await cluster.stop(restarted), 0, "SIGTERM: a clean exit");
    const from = cluster.lines.get(restarted)?.length ?? 0;
    await cluster.start(restarted);
    await cluster.line(restarted, new RegExp(`Loaded snapshot from .*value=${value}$`), from);

    await cluster.kill(wiped);
    rmSync(cluster.dataPath(wiped), { recursive: true, force: true });
    const wipedFrom = cluster.lines.get(wiped)?.length ?? 0;
    await cluster.start(wiped);
    await cluster.line(wiped, /Loaded snapshot from .*value=\d+$/, wipedFrom);
    assert.equal(await cluster.value(), value);
  });
});

describe("Flags", () => {
  test("braft's gflags forms: --name=value, --name value, bare and --no booleans", () => {
    const spec = {
      port: { default: 8100, help: "" },
      conf: { default: "", help: "" },
      check_term: { default: true, help: "" },
      json: { default: false, help: "" },
    };
    assert.deepEqual(parseFlags("t", spec, []), { port: 8100, conf: "", check_term: true, json: false });
    assert.deepEqual(
      parseFlags("t", spec, ["--port=9", "--conf", "a:1:0,b:2:0", "--nocheck_term", "--json"]),
      {
        port: 9,
        conf: "a:1:0,b:2:0",
        check_term: false,
        json: true,
      },
    );
    assert.deepEqual(parseFlags("t", spec, ["--check_term=false", "--json", "true", "--conf="]), {
      port: 8100,
      conf: "",
      check_term: false,
      json: true,
    });
  });
});
