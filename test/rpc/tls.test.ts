/** TLS for RaftServer and its channels, with and without client certificates. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { after, describe, it } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import type { TlsOptions } from "../../src/rpc/options.js";
import { FakeRaftService, peerOn, startServer, stopAll, voteRequest } from "./helpers.js";

after(stopAll);

const fixtures = new URL("../../../test/rpc/fixtures/", import.meta.url);
const pem = (name: string): Buffer => readFileSync(new URL(name, fixtures));
const ca = pem("ca-cert.pem");
const peerTls: TlsOptions = { key: pem("peer-key.pem"), cert: pem("peer-cert.pem"), ca };
const rogueTls: TlsOptions = { key: pem("rogue-key.pem"), cert: pem("rogue-cert.pem"), ca };

describe("TLS", () => {
  it("carries raft RPCs over TLS", async () => {
    const server = await startServer({ tls: peerTls });
    server.registerNode("g", peerOn(server), new FakeRaftService());
    const caller = await startServer({ tls: peerTls });
    const response = await caller.client.requestVote(peerOn(server), voteRequest("g", peerOn(server)), 2000);
    assert.equal(response.granted, true);
  });

  it("with requireClientCert, admits peers signed by the CA and refuses the others", async () => {
    const server = await startServer({ tls: { ...peerTls, requireClientCert: true } });
    server.registerNode("g", peerOn(server), new FakeRaftService());
    const trusted = await startServer({ tls: peerTls });
    assert.equal(
      (await trusted.client.requestVote(peerOn(server), voteRequest("g", peerOn(server)), 2000)).granted,
      true,
    );
    const rogue = await startServer({ tls: rogueTls });
    await assert.rejects(
      rogue.client.requestVote(peerOn(server), voteRequest("g", peerOn(server)), 2000),
      (err: unknown) => RaftError.is(err) && err.code === "EHOSTUNREACH",
    );
    const plain = await startServer();
    await assert.rejects(
      plain.client.requestVote(peerOn(server), voteRequest("g", peerOn(server)), 500),
      (err: unknown) => RaftError.is(err) && (err.code === "EHOSTUNREACH" || err.code === "ERAFTTIMEDOUT"),
    );
  });

  it("refuses a server whose certificate the channel does not trust", async () => {
    const server = await startServer({ tls: rogueTls });
    server.registerNode("g", peerOn(server), new FakeRaftService());
    const caller = await startServer({ tls: peerTls });
    await assert.rejects(
      caller.client.requestVote(peerOn(server), voteRequest("g", peerOn(server)), 2000),
      (err: unknown) => RaftError.is(err) && err.code === "EHOSTUNREACH",
    );
  });

  it("serves HTTPS /health on the TLS port", async () => {
    const server = await startServer({ tls: peerTls });
    const [host, port] = server.address.split(":");
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host, port: Number(port), path: "/health", ca }, (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(body, "OK\n");
  });
});
