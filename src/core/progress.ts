/**
 * What a leader knows about one follower's log (braft's Replicator state, etcd's Progress).
 *
 * probe:     the follower's match point is unknown; one append at a time, paused until the answer
 *            or the next heartbeat.
 * replicate: the match point is known; appends stream optimistically, at most
 *            `inflightMax` at once, so a slow follower cannot make the leader buffer without bound.
 * snapshot:  the entries the follower needs were compacted; one install is outstanding and
 *            nothing else is sent but heartbeats until it is answered.
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  state: ProgressState = "probe";
  /** Highest index known to be in the follower's log and matching ours. Invariant: match < next. */
  matchIndex = 0;
  /** Next index to send. */
  nextIndex: number;
  /** The follower said it is in read-only mode (braft's AppendEntriesResponse.readonly). */
  readonly = false;
  /** Appends sent and not yet answered in the current epoch. */
  inflight = 0;
  /** Requests with a sequence number below this belong to an abandoned epoch. */
  epochStartSeq = 0;
  /** In probe state, an append is outstanding; no more until it is answered or the heartbeat. */
  probeSent = false;
  /**
   * Installs this peer answered with a refusal (not a lost RPC): a configuration change stops
   * waiting for a new peer that keeps refusing the snapshot it needs.
   */
  installsRefused = 0;
  /** Installs sent to this peer (a catch-up period with one counts as progress). */
  installsSent = 0;
  /**
   * Send time of the newest request this peer answered in the leader's term; drives check-quorum
   * and the leader lease (time is measured from the send, so the peer's answer is no older).
   */
  lastAckSentAtMs: number;
  /**
   * The peer answered a request of this leadership. Until then `lastAckSentAtMs` is the grace
   * the leader granted at election, not a sign of life (quiesce.ts leaves out a dead peer that
   * never answered).
   */
  answered = false;

  constructor(nextIndex: number, nowMs: number) {
    this.nextIndex = nextIndex;
    // A new leader grants each peer a full period before counting it as unreachable.
    this.lastAckSentAtMs = nowMs;
  }

  /** The peer answered a request sent at `sentAtMs` (whatever the answer). */
  onAnswer(sentAtMs: number): void {
    this.lastAckSentAtMs = Math.max(this.lastAckSentAtMs, sentAtMs);
    this.answered = true;
  }

  /** No append goes out before this time: the follower said it was busy (braft's BLOCKING). */
  blockedUntilMs = 0;

  /** The follower answered busy: rest until `untilMs`, then probe again from the match point. */
  blockUntil(untilMs: number): void {
    this.blockedUntilMs = Math.max(this.blockedUntilMs, untilMs);
  }

  /** Whether another append may be sent now. */
  canSend(inflightMax: number): boolean {
    if (this.state === "snapshot") return false;
    return this.state === "probe" ? !this.probeSent : this.inflight < inflightMax;
  }

  /** An install was sent (request sequence `seq` opens a new epoch). */
  becomeSnapshot(seq: number): void {
    this.state = "snapshot";
    this.installsSent++;
    this.inflight = 0;
    this.epochStartSeq = seq;
  }

  /**
   * The install of sequence `seq` was answered. On success the follower holds everything through
   * `lastIncludedIndex`; either way, probing resumes — after a failure only at the next heartbeat,
   * so a follower that refuses at once is not flooded.
   */
  onSnapshotDone(seq: number, success: boolean, lastIncludedIndex: number, nextSeq: number): void {
    // An answer to an abandoned install says nothing new: the leader moved on because the
    // follower said more since (it lost its log, sim seed 773), and raising match from it
    // would count entries the follower no longer holds, with next left below match.
    if (seq < this.epochStartSeq) return;
    if (success && lastIncludedIndex > this.matchIndex) this.matchIndex = lastIncludedIndex;
    if (this.state !== "snapshot") return;
    if (!success) this.installsRefused++;
    this.becomeProbe(this.matchIndex + 1, nextSeq);
    this.probeSent = !success;
  }

  /** Records an append of entries up to `lastIndex` sent with sequence number `seq`. */
  onSent(lastIndex: number): void {
    if (this.state === "probe") {
      this.probeSent = true;
    } else {
      this.inflight++;
      this.nextIndex = lastIndex + 1;
    }
  }

  /** The follower holds our log through `index`. Returns true if the match point advanced. */
  onAccepted(index: number, seq: number): boolean {
    if (seq >= this.epochStartSeq && this.state === "replicate")
      this.inflight = Math.max(0, this.inflight - 1);
    const advanced = index > this.matchIndex;
    if (advanced) this.matchIndex = index;
    if (this.state === "probe") {
      this.state = "replicate";
      this.probeSent = false;
      this.inflight = 0;
    }
    if (this.nextIndex <= this.matchIndex) this.nextIndex = this.matchIndex + 1;
    return advanced;
  }

  /**
   * The follower rejected an append of sequence `seq`. Back to probing from `nextIndex`, and
   * every request still in flight is abandoned by starting a new epoch at `nextSeq`.
   */
  onRejected(seq: number, nextIndex: number, nextSeq: number): void {
    if (seq < this.epochStartSeq) return; // an answer to an abandoned request says nothing new
    // Refused at or below the match point: the follower lost entries it had acknowledged (a
    // wiped disk). Believe it, or probing would never go below the stale match point.
    if (nextIndex <= this.matchIndex) this.matchIndex = nextIndex - 1;
    this.becomeProbe(nextIndex, nextSeq);
  }

  /** The RPC failed (unreachable, timeout): restart from the match point on the next heartbeat. */
  onFailed(seq: number, nextSeq: number): void {
    if (seq < this.epochStartSeq) return;
    this.becomeProbe(this.matchIndex + 1, nextSeq);
  }

  /**
   * A heartbeat naming the match point was refused: the follower lost entries it had (a wiped
   * disk). Probe again from what it still holds.
   */
  onLostLog(followerLastIndex: number, nextSeq: number): void {
    this.matchIndex = Math.min(this.matchIndex, followerLastIndex);
    this.becomeProbe(followerLastIndex + 1, nextSeq);
  }

  /** Heartbeat time: a probe that got no answer may be retried. */
  onHeartbeat(): void {
    if (this.state === "probe") this.probeSent = false;
  }

  /** The install RPC failed or timed out: retry from the match point at the next heartbeat. */
  onSnapshotFailed(seq: number, nextSeq: number): void {
    if (this.state !== "snapshot" || seq < this.epochStartSeq) return;
    this.becomeProbe(this.matchIndex + 1, nextSeq);
    this.probeSent = true;
  }

  private becomeProbe(nextIndex: number, nextSeq: number): void {
    this.state = "probe";
    this.nextIndex = nextIndex;
    this.inflight = 0;
    this.probeSent = false;
    this.epochStartSeq = nextSeq;
  }
}
