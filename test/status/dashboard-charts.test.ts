/**
 * The dashboard's charts in a real browser against three in-process servers under load: the
 * commits/s, apply latency and follower lag charts fill with points, the leader timeline lists a
 * transfer, a stopped server is shown down and comes back up after its restart; a screenshot
 * (path printed) is checked for drawn chart pixels. Chromium as in dashboard.test.ts.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { RaftNode, type Iterator, type StateMachine } from "../../src/index.js";
import { RaftServer } from "../../src/server.js";
import { freePorts } from "../../src/testing/free-ports.js";
import { ensureChromium } from "./ensure-chromium.js";
import { countColoredPixels, type Box } from "./dashboard-pixels.js";

/** The little of the DOM the page functions below touch (the project compiles without lib.dom). */
interface DomElement {
  readonly dataset: Record<string, string | undefined>;
}
declare const document: {
  querySelectorAll(selector: string): Iterable<DomElement>;
  querySelector(selector: string): {
    getBoundingClientRect(): { left: number; top: number; width: number; height: number };
  } | null;
};
declare const window: { readonly scrollX: number; readonly scrollY: number };

class Counter implements StateMachine {
  value = 0;
  onApply(iter: Iterator): void {
    for (const entry of iter) this.value += entry.data[0] ?? 0;
  }
}

const GROUP = "charts";
const run = `dashboard-charts-${process.pid}-${Date.now()}`;
const WAIT_MS = 10_000;
/** Where the screenshots go (dist/ is not committed). */
const ARTIFACTS = join(process.cwd(), "dist", "test-artifacts");
/** A transfer that has not produced a new leader in this time is tried again (election timeout 1 s). */
const TRANSFER_WAIT_MS = 3000;
/** Load: this many writers, each pausing this long between applies (a few hundred commits/s). */
const WRITERS = 4;
const WRITER_PAUSE_MS = 5;

interface Member {
  address: string;
  server: RaftServer;
  node: RaftNode;
}

let executablePath = "";
let browser: Browser | undefined;
let load: { stop(): Promise<void> } | undefined;
const members: Member[] = [];

async function startMember(address: string, peers: readonly string[]): Promise<Member> {
  const server = new RaftServer();
  await server.start(address);
  const peer = `${server.address}:0`;
  const node = new RaftNode(GROUP, peer);
  await node.init({
    fsm: new Counter(),
    server,
    initialConf: peers.join(","),
    logUri: `memory://${run}/${peer}/log`,
    raftMetaUri: `memory://${run}/${peer}/meta`,
  });
  return { address: server.address, server, node };
}

async function stopMember(member: Member): Promise<void> {
  await member.node.shutdown();
  await member.server.stop();
}

/** The node that leads in the highest term (a deposed leader may not know it yet). */
function leader(): Member | undefined {
  const leading = members.filter((m) => m.node.isLeader());
  return leading.sort((a, b) => b.node.term - a.node.term)[0];
}

/** The node leading in a term above `term`, once there is one. */
async function waitForLeader(term: number, timeoutMs = WAIT_MS): Promise<Member> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = leader();
    if (found !== undefined && found.node.term > term) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for a leader in a term above ${term}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Moves leadership to another node and returns the new leader. A transfer that does not complete
 * (braft's leader then resumes in its term, e.g. when the target is slow on a busy machine) is tried again.
 */
async function transferLeadership(): Promise<Member> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const old = await waitForLeader(0);
    const term = old.node.term;
    const target = members.find((m) => m !== old) as Member;
    await old.node.transferLeadershipTo(`${target.address}:0`).catch((error: Error) => {
      console.log(`transfer to ${target.address}:0 refused: ${error.message}`);
    });
    const next = await waitForLeader(term, TRANSFER_WAIT_MS).catch(() => undefined);
    if (next !== undefined) return next;
    if (Date.now() > deadline) throw new Error(`no new leader after transfers for ${WAIT_MS} ms`);
  }
}

/** Writers applying to whichever node leads, until `stop()`; failures (no leader yet, a stopped node) retry. */
function startLoad(): { stop(): Promise<void> } {
  let running = true;
  const writer = async () => {
    while (running) {
      const target = leader();
      await target?.node.apply(Uint8Array.of(1)).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, target ? WRITER_PAUSE_MS : 50));
    }
  };
  const writers = Array.from({ length: WRITERS }, writer);
  return {
    stop: async () => {
      running = false;
      await Promise.all(writers);
    },
  };
}

/** The number of values each line of the charts of `kind` draws. */
function chartPoints(page: Page, kind: string): Promise<number[]> {
  return page.evaluate(
    (chart) =>
      [...document.querySelectorAll(`section.group svg[data-chart="${chart}"] path.series`)].map((p) =>
        Number(p.dataset.points),
      ),
    kind,
  );
}

async function waitForPoints(page: Page, kind: string, min: number): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const points = await chartPoints(page, kind);
    if (Math.max(0, ...points) >= min) return;
    if (Date.now() > deadline)
      throw new Error(`chart ${kind} drew ${points.join(",")} points, wanted ${min}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(
  async () => {
    executablePath = ensureChromium();
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  // Stopped here too: writers left running after a failure would keep the process alive.
  await load?.stop();
  await browser?.close();
  await Promise.all(members.map((m) => stopMember(m).catch(() => undefined)));
});

test(
  "DashboardCharts: charts fill under load, the timeline shows a transfer, a stopped server goes down and comes back",
  { timeout: 60_000 },
  async () => {
    const addresses = (await freePorts(3)).map((port) => `127.0.0.1:${port}`);
    const peers = addresses.map((a) => `${a}:0`);
    // Chromium starts while the cluster elects (each takes seconds on a busy machine).
    const launched = chromium.launch({ executablePath, args: ["--no-sandbox"] });
    members.push(...(await Promise.all(addresses.map((a) => startMember(a, peers)))));
    await waitForLeader(0);
    load = startLoad();
    browser = await launched;
    mkdirSync(ARTIFACTS, { recursive: true });
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    // The page is served by the third server, which stays up throughout.
    const watched = members[2] as Member;
    await page.goto(`http://${watched.address}/`);

    await waitForPoints(page, "commits", 5);
    await waitForPoints(page, "latency", 3);
    await waitForPoints(page, "lag", 3);

    // After a transfer the timeline lists the new leader in its term.
    const next = await transferLeadership();
    await page.waitForFunction(
      ([peer, term]) =>
        [...document.querySelectorAll("section.group ol.events li")].some(
          (li) => li.dataset.leader === peer && Number(li.dataset.term) === term,
        ),
      [`${next.address}:0`, next.node.term] as const,
      { timeout: WAIT_MS },
    );

    // A stopped server is down (card and row), then up again after it restarts on its address.
    const victimIndex = members.findIndex((m) => m !== watched && !m.node.isLeader());
    const victim = members[victimIndex] as Member;
    await stopMember(victim);
    await waitForServer(page, victim.address, "0", "unreachable");
    const downShot = join(ARTIFACTS, "dashboard-down.png");
    await page.screenshot({ path: downShot, fullPage: true });
    console.log(`dashboard screenshot with ${victim.address} down: ${downShot}`);
    members[victimIndex] = await startMember(victim.address, peers);
    await waitForServer(page, victim.address, "1", "ok");
    await load.stop();

    const screenshot = join(ARTIFACTS, "dashboard.png");
    const png = await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`dashboard screenshot: ${screenshot}`);
    const kinds = ["commits", "latency", "lag"];
    const boxes = await Promise.all(kinds.map((kind) => chartBox(page, kind)));
    const colored = await countColoredPixels(page, png, boxes);
    kinds.forEach((kind, i) => {
      console.log(`chart ${kind}: ${colored[i]} colored pixels in the screenshot`);
      assert.ok((colored[i] ?? 0) > 100, `chart ${kind} shows drawn lines (${colored[i]} colored pixels)`);
    });
    assert.deepEqual(pageErrors, []);
  },
);

/** Where the first chart of `kind` is in a full-page screenshot (document coordinates). */
function chartBox(page: Page, kind: string): Promise<Box> {
  return page.evaluate((chart) => {
    const svg = document.querySelector(`section.group svg[data-chart="${chart}"]`);
    if (svg === null) throw new Error(`no chart ${chart} on the page`);
    const rect = svg.getBoundingClientRect();
    return {
      x: rect.left + window.scrollX,
      y: rect.top + window.scrollY,
      width: rect.width,
      height: rect.height,
    };
  }, kind);
}

async function waitForServer(page: Page, endpoint: string, up: "0" | "1", health: string): Promise<void> {
  await page.waitForFunction(
    ([e, u, h]) =>
      [...document.querySelectorAll("div.server")].some(
        (s) => s.dataset.endpoint === e && s.dataset.up === u,
      ) &&
      [...document.querySelectorAll("tr.node")].some(
        (r) => r.dataset.peer === `${e}:0` && r.dataset.health === h,
      ),
    [endpoint, up, health] as const,
    { timeout: WAIT_MS },
  );
}
