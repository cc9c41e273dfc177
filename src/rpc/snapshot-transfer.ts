/**
 * The SnapshotTransfer a RaftServer offers its nodes (`RaftHost.snapshotTransfer`): braft's
 * FileService on the server's port for leaders, and remote copy through the server's channels
 * for followers. One per server, shared by every group it hosts, as braft's file service is one
 * per process.
 */
import type { SnapshotMeta, SnapshotReader, SnapshotWriter } from "../storage/snapshot-storage.js";
import type { FileReaderRegistration, FileReaderRegistry } from "./file-reader-registry.js";
import { addFileService, type AddFileServiceOptions } from "./file-service.js";
import type { RaftRpcServer } from "./raft-server.js";
import type { FileCopyOptions } from "./remote-file-copier.js";
import { copySnapshot } from "./remote-snapshot-copier.js";
import type { SnapshotCopyOptions, SnapshotTransfer } from "../node/ports.js";

/** Options of {@link RpcSnapshotTransfer}: the serving side and the copying side. */
export interface RpcSnapshotTransferOptions extends AddFileServiceOptions {
  /** How followers copy (chunk size = raft_max_byte_count_per_rpc, retries, timeouts). */
  readonly copy?: FileCopyOptions | undefined;
}

/** braft's file service plus remote file copier over a RaftServer. */
export class RpcSnapshotTransfer implements SnapshotTransfer {
  /** The readers served to followers. */
  readonly registry: FileReaderRegistry;

  /** Serves `braft.FileService` on `server` (EEXIST when something already serves it). */
  constructor(
    private readonly server: Pick<RaftRpcServer, "address" | "addService" | "channels">,
    private readonly options: RpcSnapshotTransferOptions = {},
  ) {
    this.registry = addFileService(server, options);
  }

  /**
   * Leader: serves `reader` until released. `address` is the `ip:port` followers dial, braft's
   * server_addr (the node's PeerId endpoint); by default the server's own address, which is
   * wrong for a server listening on 0.0.0.0.
   */
  registerReader(reader: SnapshotReader, address?: string): FileReaderRegistration {
    return this.registry.registerReader(reader, address);
  }

  /** Follower: copies the snapshot at `uri` into `writer`; see {@link copySnapshot}. */
  copySnapshot(uri: string, writer: SnapshotWriter, options: SnapshotCopyOptions): Promise<SnapshotMeta> {
    return copySnapshot(uri, writer, {
      ...this.options.copy,
      channels: this.server.channels,
      signal: options.signal,
      filterBeforeCopyRemote: options.filterBeforeCopyRemote,
      localReader: options.localReader,
      throttle: options.throttle,
      // The server's explicit chunk size wins; otherwise the node's raft_max_byte_count_per_rpc.
      maxByteCountPerRpc: this.options.copy?.maxByteCountPerRpc ?? options.maxByteCountPerRpc,
    });
  }

  /** Stops serving every reader (server shutdown); idempotent. */
  close(): void {
    this.registry.close();
  }
}
