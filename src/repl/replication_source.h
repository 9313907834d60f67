// ReplicationSource: the primary side of replication, and the replication
// identity every node has (replid, replid2, master_repl_offset, backlog).
//
// The stream a primary sends is its log: Durability hands every iteration's
// records over at Commit (RecordTap), and they go, byte for byte, to the
// backlog and to each online replica's output. A replica connects as a
// client and says PSYNC: it gets +CONTINUE and the backlog from its offset,
// or +FULLRESYNC and a snapshot (the records a log rewrite writes) followed
// by the stream. Offsets count stream bytes as Redis's master_repl_offset.
//
// A node that follows a primary (PrimaryLink, the replica side) keeps the
// same identity: it adopts its primary's replid and offset, and the bytes it
// receives go to its own backlog, so that after a promotion the other
// replicas can continue from it (replid2, as in Redis).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aof/durability.h"
#include "cmd/server_hooks.h"
#include "cmd/session.h"
#include "lockd/clock.h"
#include "lockd/config.h"
#include "repl/backlog.h"

namespace lockd {
struct CommandContext;
}

namespace lockd::repl {

// What INFO and ROLE show of a replica's link to its primary.
struct LinkStatus {
  std::string host;
  int port = 0;
  // ROLE's words: "connect", "connecting", "handshake", "sync", "connected".
  std::string state = "connect";
  bool up = false;
  int64_t last_io_seconds = -1;
  int64_t down_since_seconds = -1;  // -1: up
  bool sync_in_progress = false;
  int64_t sync_total_bytes = -1;
  int64_t sync_read_bytes = 0;
  int64_t offset = -1;  // the stream offset processed, -1 before the first sync
};

// The replica side, as the command layer sees it (net/ implements it with
// a socket: src/repl/replica_link.h).
class PrimaryLink {
 public:
  virtual ~PrimaryLink() = default;
  // REPLICAOF host port: follows that primary from now on (drops the
  // current link, if any, and syncs).
  virtual void Follow(const std::string& host, int port) = 0;
  // REPLICAOF NO ONE.
  virtual void Unfollow() = 0;
  virtual bool following() const = 0;
  virtual LinkStatus status() const = 0;
};

class ReplicationSource final : public aof::RecordTap {
 public:
  ReplicationSource(const Config* config, ServerHooks* server, aof::Durability* durability);

  void set_link(PrimaryLink* link) { link_ = link; }
  PrimaryLink* link() const { return link_; }
  // Whether this node follows a primary (REPLICAOF host port).
  bool is_replica() const { return link_ != nullptr && link_->following(); }

  const std::string& replid() const { return replid_; }
  uint64_t offset() const { return offset_; }

  // RecordTap: a primary's records, once per Commit.
  void OnRecords(std::string_view records, const aof::CommitFacts& facts) override;
  // False until a replica first connects or replies must wait for acks:
  // OnRecords would drop the records (see there).
  bool WantsRecords() const override {
    return !is_replica() && (backlog_ != nullptr || ack_quorum_ > 0);
  }

  // ---- Replies that wait for replicas (lock-replica-ack, DESIGN.md §10).
  // The replies of the iteration just committed may leave once
  // acked_offset() reaches reply_ack_offset() (0: they need no ack). Set at
  // each Commit, with min-replicas-to-write at 1 or more: to the end of the
  // stream when the iteration may reveal a token above the acknowledged
  // reservation, a deadline past its horizon, or a lease without a deadline
  // whose record is not acknowledged; under `lock-replica-ack always`, also
  // when it changed anything, or looked up a lease while a change is not
  // acknowledged.
  uint64_t reply_ack_offset() const { return reply_ack_offset_; }
  // The stream offset that min-replicas-to-write online replicas have all
  // acknowledged; UINT64_MAX when no replica is asked for (nothing waits).
  uint64_t acked_offset() const;

  // ---- The replica side's bookkeeping (called by the link).
  // After +FULLRESYNC: this node's history is its primary's from `offset`.
  void AdoptPrimary(const std::string& replid, uint64_t offset);
  // After +CONTINUE <replid>: a primary promoted since keeps our history
  // under a new id.
  void ContinueWith(const std::string& replid);
  // Stream bytes received and processed.
  void FeedFromPrimary(std::string_view bytes);
  // Starting to follow another primary: this node's own replicas resync
  // from it (Redis disconnects them too).
  void DisconnectReplicas();
  // REPLICAOF NO ONE: a new history starts here; the old id stays valid, up
  // to this offset, for replicas that continue (PSYNC with replid2).
  void Promote();

  // ---- Commands (repl_commands.cc calls these).
  void Psync(CommandContext& ctx);
  void Replconf(CommandContext& ctx);
  void Wait(CommandContext& ctx);
  // min-replicas-to-write: whether writes are refused for want of replicas.
  bool TooFewGoodReplicas(MonoTime now) const;
  // Re-reads min-replicas-to-write and min-replicas-max-lag, which every
  // write consults (at start, and after each CONFIG SET).
  void LoadConfig();
  void SessionClosed(Session& session);
  // Called a few times a second: WAIT timeouts, the stream's PING, asking
  // replicas for acks.
  void Cron(MonoTime now);

  // The start-up log line: what a failover to a replica can lose, given
  // min-replicas-to-write and lock-replica-ack.
  void LogFailoverContract() const;

  // INFO replication and ROLE.
  void WriteInfo(std::string* out, MonoTime now) const;
  void WriteRole(ReplyWriter& w) const;

  // Counters for INFO stats.
  uint64_t sync_full() const { return sync_full_; }
  uint64_t sync_partial_ok() const { return sync_partial_ok_; }
  uint64_t sync_partial_err() const { return sync_partial_err_; }

  size_t replica_count() const { return replicas_.size(); }

 private:
  struct Replica {
    Session* session = nullptr;
    std::string ip;
    int listening_port = 0;
    bool online = false;
    uint64_t ack_offset = 0;
    MonoTime last_ack;
  };
  struct Waiting {
    Session* session = nullptr;
    uint64_t offset = 0;  // the stream offset its writes end at
    int64_t numreplicas = 0;
    std::optional<MonoTime> deadline;
  };

  Replica* FindReplica(const Session& session);
  // Stream bytes: backlog and online replicas.
  void Feed(std::string_view bytes);
  void EnsureBacklog();
  size_t BacklogSize() const;
  int CountAcks(uint64_t offset) const;
  int GoodReplicas(MonoTime now) const;
  // Replies to WAIT clients whose offset enough replicas acknowledged, or
  // whose timeout passed.
  void ServeWaiting(MonoTime now);
  void SendToReplica(Replica& r, std::string_view bytes);
  // The stream offset a client's writes of this iteration will end at: what
  // was sent plus what the log holds for the next Commit.
  uint64_t PendingOffset() const;

  const Config* config_;
  ServerHooks* server_;
  aof::Durability* durability_;
  PrimaryLink* link_ = nullptr;

  std::string replid_;
  std::string replid2_;
  int64_t second_offset_ = -1;  // the last offset replid2 is valid for, +1 (Redis's)
  uint64_t offset_ = 0;
  std::unique_ptr<Backlog> backlog_;

  std::vector<Replica> replicas_;
  std::vector<Waiting> waiting_;
  bool ack_requested_ = false;
  // min-replicas-to-write as of the last Commit (CONFIG SET may change it;
  // lowering it to 0 releases every reply that waits for acks).
  int64_t ack_quorum_ = 0;
  // LoadConfig's values: the directives are strings in Config::compat, too
  // slow to look up per command.
  int64_t min_replicas_to_write_ = 0;
  int64_t min_replicas_max_lag_ = 10;
  uint64_t reply_ack_offset_ = 0;
  // Reservations streamed (or sent in a snapshot) and not yet acknowledged
  // by the quorum, in offset order; and the latest acknowledged one, below
  // which replies reveal freely.
  struct Reservation {
    uint64_t offset = 0;  // the stream offset that covers it
    uint64_t tokens = 0;
    int64_t horizon_ms = 0;
  };
  static constexpr size_t kMaxUnackedReservations = 1024;
  std::deque<Reservation> unacked_reservations_;
  uint64_t acked_tokens_ = 0;
  int64_t acked_horizon_ms_ = 0;
  // The end of the latest records with a lease without a deadline, and of
  // the latest lease changes (a reservation alone is none).
  uint64_t no_deadline_offset_ = 0;
  uint64_t change_offset_ = 0;
  void NoteReservation(uint64_t offset, uint64_t tokens, int64_t horizon_ms);
  void AdvanceAckedReservation(uint64_t acked);
  MonoTime last_ping_;

  uint64_t sync_full_ = 0;
  uint64_t sync_partial_ok_ = 0;
  uint64_t sync_partial_err_ = 0;
};

// A new 40-hex-digit replication id.
std::string NewReplicationId();

}  // namespace lockd::repl
