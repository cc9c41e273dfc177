/**
 * The dashboard browser test needs a Chromium. On a fresh Debian CI machine (root, network to
 * the Debian mirrors) it installs the distribution's package; everywhere it says what it did.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** apt waits this long for another apt/dpkg (e.g. a parallel job) to release its lock. */
const APT_LOCK_TIMEOUT_S = 300;

function run(command: string, args: string[]): void {
  console.log(`[ensure-chromium] running: ${command} ${args.join(" ")}`);
  const result = spawnSync(command, args, {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (result.error !== undefined) throw new Error(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${result.status}`);
}

/**
 * Returns the path of a Chromium binary, installing Debian's `chromium` package first when it is
 * missing. Throws one clear message when that is impossible (not root, no apt, no network).
 */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  console.log(`[ensure-chromium] ${CHROMIUM_PATH} is missing; installing Debian's chromium package`);
  try {
    if (process.getuid?.() !== 0) throw new Error("installing needs root (apt-get)");
    const lock = ["-o", `DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_S}`];
    run("apt-get", [...lock, "update"]);
    run("apt-get", [...lock, "install", "-y", "--no-install-recommends", "chromium"]);
  } catch (error) {
    throw new Error(
      `the dashboard browser test needs ${CHROMIUM_PATH} and could not install it ` +
        `(apt-get update && apt-get install -y --no-install-recommends chromium): ${(error as Error).message}`,
    );
  }
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`chromium was installed but ${CHROMIUM_PATH} is still missing`);
  console.log(`[ensure-chromium] installed ${CHROMIUM_PATH}`);
  return CHROMIUM_PATH;
}
