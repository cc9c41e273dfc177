/** `/`: the dashboard (see dashboard-html.ts for what it shows and how it gathers it). */
import type { IncomingMessage, ServerResponse } from "node:http";
import { DASHBOARD_HTML } from "./dashboard-html.js";
import { refuseMethod, sendHtml, sendText } from "./http-util.js";

export function dashboardHandler(req: IncomingMessage, res: ServerResponse): void {
  if (refuseMethod(req, res)) return;
  // "/" is the route of last resort: every path no other page claims lands here.
  const pathname = (req.url ?? "/").split("?")[0] ?? "/";
  if (pathname !== "/" && pathname !== "/index.html") return sendText(res, 404, `no page at ${pathname}\n`);
  sendHtml(res, 200, DASHBOARD_HTML);
}
