/**
 * The pure parts of `npm run bench` beside braft: reading what braft's counter_client and /proc
 * print, the padded request both counters log whole, and the lines the benchmark prints. No braft
 * and no servers needed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { fetchAddRequest } from "../../examples/counter/counter-client.js";
import { encodeFetchAddEntry } from "../../examples/counter/fetch-add-encoding.js";
import { FetchAddRequestSchema } from "../../src/rpc/gen/example/counter_pb.js";
import {
  counterClientFigures,
  paddedFetchAddRequest,
  parseBvarDump,
  parseQpsLine,
} from "../../bench/counter-client-output.js";
import { parseMachineBusySeconds, parsePidStatCpuSeconds, parseRssMiB } from "../../bench/proc-cpu.js";
import { formatRatio, formatRun, median, type RunFigures } from "../../bench/side-by-side-lines.js";
import type { Side } from "../../bench/bench-cluster.js";

const QPS_LINE =
  "I1204 05:24:30.067101 27804     0 //////////////braft/braft/example/counter/client.cpp:136 main] " +
  "Sending Request to Counter (127.0.0.1:28100:0,127.0.0.1:28101:0,127.0.0.1:28102:0) at qps=5334 latency=1434";

const LATENCY_DUMP = [
  "counter_client_counter_client_latency : 1628",
  "counter_client_counter_client_latency_80 : 1851",
  "counter_client_counter_client_latency_90 : 2274",
  "counter_client_counter_client_latency_99 : 8242",
  "counter_client_counter_client_latency_999 : 11497",
  "counter_client_counter_client_latency_9999 : 16457",
  "counter_client_counter_client_max_latency : 16500",
  "",
].join("\n");
const QPS_DUMP = "counter_client_counter_client_qps : 4849\n";

describe("braft's counter_client output", () => {
  test("its once-a-second line gives qps and mean latency; other lines give nothing", () => {
    assert.deepEqual(parseQpsLine(QPS_LINE), { qps: 5334, latencyUs: 1434 });
    assert.equal(
      parseQpsLine("I1204 05:24:34.024779 27804 client.cpp:143 main] Counter client is going to quit"),
      undefined,
    );
  });

  test("its bvar dump files, merged, give qps, mean, p90, p99 and p999", () => {
    const values = new Map([...parseBvarDump(LATENCY_DUMP), ...parseBvarDump(QPS_DUMP)]);
    assert.deepEqual(counterClientFigures(values), {
      opsPerSecond: 4849,
      meanUs: 1628,
      p90Us: 2274,
      p99Us: 8242,
      p999Us: 11497,
    });
  });

  test("a dump without its qps file (not yet written) gives no figures", () => {
    assert.equal(counterClientFigures(parseBvarDump(LATENCY_DUMP)), undefined);
  });
});

describe("the padded fetch_add", () => {
  for (const bytes of [4096, 65536]) {
    test(`${bytes} bytes of padding: still fetch_add(1), and re-encoding keeps every byte`, () => {
      const padded = paddedFetchAddRequest(fetchAddRequest(1n), bytes);
      assert.ok(padded.length > bytes);
      const parsed = fromBinary(FetchAddRequestSchema, padded);
      assert.equal(parsed.value, 1n);
      // tsraft's counter logs toBinary(parsed request): the padding reaches the log whole.
      assert.deepEqual(toBinary(FetchAddRequestSchema, parsed), padded);
      // ...and so does its exact-size encoder, with and without unknown fields.
      const same = (a: Uint8Array, b: Uint8Array) => assert.ok(Buffer.from(a).equals(Buffer.from(b)));
      same(encodeFetchAddEntry(parsed), toBinary(FetchAddRequestSchema, parsed));
      const plain = fromBinary(FetchAddRequestSchema, fetchAddRequest(-5n));
      same(encodeFetchAddEntry(plain), toBinary(FetchAddRequestSchema, plain));
    });
  }

  test("no padding leaves the plain request", () => {
    const plain = fetchAddRequest(1n);
    assert.equal(paddedFetchAddRequest(plain, 0), plain);
  });
});

describe("/proc readings", () => {
  test("a process's CPU is utime + stime, past a command name with spaces and parentheses", () => {
    const stat = "4242 (node (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 1000 0 0";
    assert.equal(parsePidStatCpuSeconds(stat), 3);
  });

  test("the machine's busy time leaves idle and iowait out", () => {
    const stat = "cpu  100 10 50 9000 300 5 5 30 0 0\ncpu0 50 5 25 4500 150 2 2 15 0 0\n";
    assert.equal(parseMachineBusySeconds(stat), 2);
  });

  test("VmRSS in MiB", () => {
    assert.equal(parseRssMiB("Name:\tnode\nVmHWM:\t  103372 kB\nVmRSS:\t  102400 kB\n"), 100);
    assert.equal(parseRssMiB("Name:\tzombie\n"), 0);
  });
});

describe("the benchmark's lines", () => {
  const run = (side: Side, round: number, ops: number, p99: number): RunFigures => ({
    side,
    round,
    client: "counter_client",
    callers: 64,
    opsPerSecond: ops,
    meanUs: 3000,
    p90Us: 4000,
    p99Us: p99,
    p999Us: p99 * 2,
    cpuUsPerOp: side === "braft" ? 100 : 120,
    rssMiB: [40, 30, 31],
    restCores: round === 1 ? 0.1 : 0.5,
  });

  test("median of an odd and an even count", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  test("a run's line has its point, side, client figures, CPU per op, RSS and the rest's cores; a busy window says BUSY", () => {
    assert.equal(
      formatRun(run("braft", 1, 18734, 7702)),
      "callers=64 side=braft round=1 client=counter_client ops_s=18734 mean_us=3000 p90_us=4000 " +
        "p99_us=7702 p999_us=15404 cpu_us_op=100 rss_mib=40/30/31 rest_cores=0.10",
    );
    assert.match(formatRun(run("braft", 2, 18734, 7702)), /rest_cores=0\.50 BUSY$/);
  });

  test("the ratio line: medians over rounds of tsraft over braft, both p99s, the target of the point", () => {
    const runs = [
      run("braft", 1, 18000, 8000),
      run("tsraft", 1, 27000, 5000),
      run("braft", 2, 20000, 9000),
      run("tsraft", 2, 30000, 6000),
    ];
    assert.equal(
      formatRatio(runs, "counter_client"),
      "ratio callers=64 tsraft/braft=1.50 p99 tsraft=5500 braft=8500 client=counter_client target>=1.5 " +
        "cpu_us_op tsraft=120 braft=100 leader_rss_mib tsraft=40 braft=40",
    );
    assert.equal(
      formatRatio(
        runs.filter((r) => r.side === "tsraft"),
        "counter_client",
      ),
      undefined,
    );
  });

  test("the floor's lines: floor over braft with the target, tsraft over the floor without it", () => {
    const runs = [run("braft", 1, 20000, 8000), run("floor", 1, 40000, 3000), run("tsraft", 1, 30000, 6000)];
    assert.equal(
      formatRatio(runs, "counter_client", "braft", "floor"),
      "ratio callers=64 floor/braft=2.00 p99 floor=3000 braft=8000 client=counter_client target>=1.5 " +
        "cpu_us_op floor=120 braft=100 leader_rss_mib floor=40 braft=40",
    );
    assert.equal(
      formatRatio(runs, "counter_client", "floor"),
      "ratio callers=64 tsraft/floor=0.75 p99 tsraft=6000 floor=3000 client=counter_client " +
        "cpu_us_op tsraft=120 floor=120 leader_rss_mib tsraft=40 floor=40",
    );
  });

  test("the ratio line against the base tree: tsraft over base, without braft's target", () => {
    const runs = [run("base", 1, 20000, 8000), run("tsraft", 1, 25000, 6000), run("braft", 1, 10000, 9000)];
    assert.equal(
      formatRatio(runs, "counter_client", "base"),
      "ratio callers=64 tsraft/base=1.25 p99 tsraft=6000 base=8000 client=counter_client " +
        "cpu_us_op tsraft=120 base=120 leader_rss_mib tsraft=40 base=40",
    );
  });
});
