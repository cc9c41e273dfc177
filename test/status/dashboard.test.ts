/**
 * The dashboard in a real browser against three tsraft server processes: it shows the leader,
 * shows the new one after the leader's process is killed with SIGKILL, shows the dead server as
 * unreachable, opens a node's raft_stat on a click, and renders a hostile group name as text.
 * Chromium comes from Debian (installed on first use, see ensure-chromium.ts).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { chromium, type Page } from "playwright-core";
import { ProcessCluster, freePorts, waitFor } from "../process/process-cluster.js";
import { ensureChromium } from "./ensure-chromium.js";

/** The little of the DOM the page functions below touch (the project compiles without lib.dom). */
interface DomElement {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
}
declare const document: {
  querySelectorAll(selector: string): Iterable<DomElement>;
  getElementById(id: string): DomElement | null;
};
declare const window: Record<string, unknown>;

const GROUP = "g1";
/** A user-chosen group name that must show up as text, never as markup. */
const HOSTILE_GROUP = `<img src=x onerror="window.pwned=1">&"`;
const WAIT_MS = 15_000;

async function leaderPort(cluster: ProcessCluster, group: string): Promise<number> {
  return waitFor(`a leader of ${group}`, async () => {
    for (const port of cluster.running()) {
      if ((await cluster.dump(port, group)).state === "LEADER") return port;
    }
    return undefined;
  });
}

/** The peer the dashboard shows as LEADER of `group`, "" while it shows none. */
function shownLeader(page: Page, group: string): Promise<string> {
  return page.evaluate((g) => {
    const rows = [...document.querySelectorAll("tr.node")].filter((r) => r.dataset.group === g);
    return rows.find((r) => r.dataset.state === "LEADER")?.dataset.peer ?? "";
  }, group);
}

/**
 * Waits until the dashboard shows as leader the node that is the leader by the nodes' own
 * account (and is not `previous`); tolerates an election happening meanwhile on a busy machine.
 */
async function agreedLeader(
  page: Page,
  cluster: ProcessCluster,
  group: string,
  previous = "",
): Promise<string> {
  return waitFor(
    `the dashboard to show the leader of ${group}${previous === "" ? "" : ` other than ${previous}`}`,
    async () => {
      const shown = await shownLeader(page, group);
      if (shown === "" || shown === previous) return undefined;
      const dump = await cluster.dump(Number(shown.split(":")[1]), group);
      return dump.state === "LEADER" ? shown : undefined;
    },
    WAIT_MS,
  );
}

/** Installing Chromium on a fresh machine may take minutes; it is not part of the test's own time. */
const INSTALL_TIMEOUT_MS = 15 * 60_000;
let executablePath = "";
before(
  () => {
    executablePath = ensureChromium();
  },
  { timeout: INSTALL_TIMEOUT_MS },
);

test(
  "Dashboard: shows the leader, follows a kill -9 to the new leader, and opens a node's raft_stat",
  { timeout: 90_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "tsraft-dashboard-"));
    const cluster = new ProcessCluster(await freePorts(3), [GROUP, HOSTILE_GROUP], dataDir);
    const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    try {
      await cluster.startAll();
      // Watch a follower's dashboard (should the leader move there, the page goes on showing
      // what the other servers report).
      const firstLeaderPort = await leaderPort(cluster, GROUP);
      const watched = cluster.ports.find((port) => port !== firstLeaderPort) as number;
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      await page.goto(`http://127.0.0.1:${watched}/`);

      // The leader, with all three peers reachable.
      const oldLeader = await agreedLeader(page, cluster, GROUP);
      const oldLeaderPort = Number(oldLeader.split(":")[1]);
      await page.waitForFunction(
        (g) =>
          [...document.querySelectorAll("tr.node")].filter(
            (r) => r.dataset.group === g && r.dataset.health === "ok",
          ).length === 3,
        GROUP,
        { timeout: WAIT_MS },
      );

      // The hostile group name is text: its section exists, no <img> was injected, nothing ran.
      const titles = await page.locator("section.group h2").allTextContents();
      assert.ok(
        titles.some((t) => t.startsWith(HOSTILE_GROUP)),
        titles.join(" | "),
      );
      assert.equal(await page.locator("main img").count(), 0);
      assert.equal(await page.evaluate(() => window.pwned), undefined);

      await cluster.kill(oldLeaderPort);
      const newLeader = await agreedLeader(page, cluster, GROUP, oldLeader);
      await page.waitForFunction(
        ([g, peer]) =>
          [...document.querySelectorAll("tr.node")].some(
            (r) => r.dataset.group === g && r.dataset.peer === peer && r.dataset.health === "unreachable",
          ),
        [GROUP, oldLeader] as const,
        { timeout: WAIT_MS },
      );

      // One click on a node shows its raft_stat.
      await page.locator(`tr.node[data-group="${GROUP}"][data-peer="${newLeader}"]`).click();
      await page.waitForFunction(
        (peer) => {
          const pre = document.getElementById("detail-text");
          return pre?.dataset.peer === peer && (pre.textContent ?? "").includes("peer_id: " + peer);
        },
        newLeader,
        { timeout: WAIT_MS },
      );
      const detail = (await page.locator("#detail-text").textContent()) ?? "";
      assert.match(detail, new RegExp(`peer_id: ${newLeader.replaceAll(".", "\\.")}`));
      assert.match(detail, /^state: [A-Z]+\r?$/m);
      assert.match(detail, /^last_committed_index: \d+\r?$/m);
      // The page's script never threw, through the kill and the new leader.
      assert.deepEqual(pageErrors, []);
    } finally {
      await browser.close();
      await cluster.stopAll();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
