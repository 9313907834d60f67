// ReplicationSource: see replication_source.h, and DESIGN.md for the
// stream's format and what a replica does with it.
#include "repl/replication_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>

#include "cmd/commands.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/strings.h"

namespace lockd::repl {

namespace {

// What the stream carries besides records: Redis's keep-alive and its
// request for acks. Both count in offsets as in Redis; a replica applies
// neither to its engine or log.
constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
constexpr std::string_view kGetAck = "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";

}  // namespace

std::string NewReplicationId() {
  std::random_device random;
  std::string id;
  for (int i = 0; i < 5; ++i) id += fmt::format("{:08x}", random());
  return id;
}

ReplicationSource::ReplicationSource(const Config* config, ServerHooks* server,
                                     aof::Durability* durability)
    : config_(config),
      server_(server),
      durability_(durability),
      replid_(NewReplicationId()),
      replid2_(40, '0') {
  durability_->set_tap(this);
  LoadConfig();
}

void ReplicationSource::LoadConfig() {
  min_replicas_to_write_ = CompatInt(*config_, "min-replicas-to-write", 0);
  min_replicas_max_lag_ = CompatInt(*config_, "min-replicas-max-lag", 10);
}

size_t ReplicationSource::BacklogSize() const {
  return static_cast<size_t>(std::max<int64_t>(CompatInt(*config_, "repl-backlog-size", 1 << 20), 1));
}

void ReplicationSource::EnsureBacklog() {
  if (backlog_ == nullptr) backlog_ = std::make_unique<Backlog>(BacklogSize(), offset_);
}

// ---- The stream ----

void ReplicationSource::OnRecords(std::string_view records, const aof::CommitFacts& facts) {
  ack_quorum_ = std::max<int64_t>(min_replicas_to_write_, 0);
  reply_ack_offset_ = 0;
  // A replica's log receives its primary's records, which reach this
  // node's backlog as received (FeedFromPrimary), not from here.
  if (is_replica()) return;
  // Without a backlog no replica ever connected; offsets must still move
  // when replies wait for acks, so that a replica that connects later
  // acknowledges (with its full resync) what they revealed.
  if (backlog_ == nullptr && ack_quorum_ == 0) return;
  EnsureBacklog();
  if (!records.empty()) {
    Feed(records);
    if (facts.changed_leases) change_offset_ = offset_;
  }
  if (facts.reserved) NoteReservation(offset_, facts.reserved_tokens, facts.reserved_horizon_ms);
  if (facts.no_deadline_change) no_deadline_offset_ = offset_;
  if (ack_quorum_ == 0) {
    // Nothing waits; reservations every online replica has are known to
    // be acknowledged whatever min-replicas-to-write becomes later.
    uint64_t all = 0;
    bool any = false;
    for (const Replica& r : replicas_) {
      if (!r.online) continue;
      all = any ? std::min(all, r.ack_offset) : r.ack_offset;
      any = true;
    }
    if (any) AdvanceAckedReservation(all);
  } else {
    uint64_t acked = acked_offset();
    AdvanceAckedReservation(acked);
    // What the iteration's replies may reveal must be on the replicas that
    // count before they leave: a token or deadline past the acknowledged
    // reservation, or a lease without a deadline (no horizon covers it).
    bool wait = facts.revealed_token > acked_tokens_ ||
                facts.revealed_deadline_ms > acked_horizon_ms_ ||
                (facts.revealed_no_deadline && no_deadline_offset_ > acked);
    if (config_->lock_replica_ack == ReplicaAck::kAlways) {
      // Every change, and every lease shown while a change is not
      // acknowledged (it may be that change). A reservation alone (a
      // promotion's) is no change: a reply can only reveal it through a
      // token or deadline, which the test above covers. Were it one, the
      // reply to Sentinel's promotion transaction would wait for replicas
      // that Sentinel only reconfigures once it has that reply, and every
      // PING behind it on Sentinel's link with it.
      wait = wait || facts.changed_leases || (facts.revealed_any && change_offset_ > acked);
    }
    if (wait && offset_ > acked) {
      // Everything up to here covers it. One GETACK per iteration asks for
      // all of it (group commit, as one fsync covers an iteration); a
      // replica acks the offset before the GETACK.
      reply_ack_offset_ = offset_;
      ack_requested_ = true;
    }
  }
  if (ack_requested_) {
    ack_requested_ = false;
    Feed(kGetAck);
  }
}

void ReplicationSource::NoteReservation(uint64_t offset, uint64_t tokens, int64_t horizon_ms) {
  // Reservations only grow, so a later one acknowledged covers every one
  // before it: forgetting the oldest (when no replica acks for long) only
  // delays what counts as acknowledged, never advances it.
  if (unacked_reservations_.size() >= kMaxUnackedReservations) unacked_reservations_.pop_front();
  unacked_reservations_.push_back(Reservation{offset, tokens, horizon_ms});
}

void ReplicationSource::AdvanceAckedReservation(uint64_t acked) {
  // Every replica that acknowledged an offset has every reservation
  // streamed before it, or a snapshot whose reservation is above them all.
  while (!unacked_reservations_.empty() && unacked_reservations_.front().offset <= acked) {
    const Reservation& r = unacked_reservations_.front();
    acked_tokens_ = std::max(acked_tokens_, r.tokens);
    acked_horizon_ms_ = std::max(acked_horizon_ms_, r.horizon_ms);
    unacked_reservations_.pop_front();
  }
}

uint64_t ReplicationSource::acked_offset() const {
  if (ack_quorum_ <= 0) return UINT64_MAX;
  if (ack_quorum_ == 1) {
    uint64_t best = 0;
    bool any = false;
    for (const Replica& r : replicas_) {
      if (!r.online) continue;
      any = true;
      best = std::max(best, r.ack_offset);
    }
    return any ? best : 0;
  }
  // The quorum-th largest ack among online replicas (there are few).
  std::vector<uint64_t> acks;
  for (const Replica& r : replicas_) {
    if (r.online) acks.push_back(r.ack_offset);
  }
  if (acks.size() < static_cast<size_t>(ack_quorum_)) return 0;
  auto nth = acks.begin() + (ack_quorum_ - 1);
  std::nth_element(acks.begin(), nth, acks.end(), std::greater<uint64_t>());
  return *nth;
}

void ReplicationSource::LogFailoverContract() const {
  int64_t quorum = CompatInt(*config_, "min-replicas-to-write", 0);
  const char* mode = ReplicaAckName(config_->lock_replica_ack);
  if (quorum <= 0) {
    Log(LogLevel::kNotice,
        "Replication is asynchronous (min-replicas-to-write 0, lock-replica-ack {} has no effect): "
        "a failover to a replica can lose every change since its last ack, tokens and leases "
        "included",
        mode);
  } else if (config_->lock_replica_ack == ReplicaAck::kAlways) {
    Log(LogLevel::kNotice,
        "Replies wait for {} replica ack(s) (lock-replica-ack always): a failover to a replica "
        "that acknowledged loses nothing that was acknowledged to a client",
        quorum);
  } else {
    Log(LogLevel::kNotice,
        "Token and lease reservations wait for {} replica ack(s) (lock-replica-ack "
        "reservations): a failover to a replica that acknowledged never repeats a token nor "
        "grants a key while a revealed lease may run, but acknowledged changes can be lost (a "
        "granted lease may vanish; its token is never issued again)",
        quorum);
  }
}

void ReplicationSource::Feed(std::string_view bytes) {
  EnsureBacklog();
  backlog_->Append(bytes);
  offset_ += bytes.size();
  for (Replica& r : replicas_) {
    if (r.online) SendToReplica(r, bytes);
  }
}

void ReplicationSource::SendToReplica(Replica& r, std::string_view bytes) {
  r.session->out.Append(bytes);
  // The stream leaves with the replies of its iteration, after the commit
  // (and, under appendfsync always, its sync): a replica never holds a
  // record its primary could lose in a crash.
  r.session->awaits_commit = true;
  server_->SessionHasOutput(*r.session);
}

uint64_t ReplicationSource::PendingOffset() const {
  if (backlog_ == nullptr) return offset_;
  return offset_ + durability_->untapped_bytes();
}

// ---- The replica side's bookkeeping ----

void ReplicationSource::AdoptPrimary(const std::string& replid, uint64_t offset) {
  replid_ = replid;
  replid2_.assign(40, '0');
  second_offset_ = -1;
  offset_ = offset;
  backlog_ = std::make_unique<Backlog>(BacklogSize(), offset);
}

void ReplicationSource::ContinueWith(const std::string& replid) {
  EnsureBacklog();
  if (replid == replid_) return;
  // The primary was promoted meanwhile: our history is its old one.
  replid2_ = replid_;
  second_offset_ = static_cast<int64_t>(offset_) + 1;
  replid_ = replid;
}

void ReplicationSource::FeedFromPrimary(std::string_view bytes) {
  EnsureBacklog();
  backlog_->Append(bytes);
  offset_ += bytes.size();
}

void ReplicationSource::DisconnectReplicas() {
  std::vector<Session*> sessions;
  for (const Replica& r : replicas_) {
    if (r.online) sessions.push_back(r.session);
  }
  for (Session* s : sessions) server_->KillSession(*s);
}

void ReplicationSource::Promote() {
  // Redis's shiftReplicationId: replicas of the old primary that continue
  // from this node name the old id and an offset up to here.
  replid2_ = replid_;
  second_offset_ = static_cast<int64_t>(offset_) + 1;
  replid_ = NewReplicationId();
  EnsureBacklog();
  // Nothing this node revealed as a primary before it followed one counts:
  // its replicas acknowledge what it streams from now on (Durability streams
  // the reservation it resumed above at the next Commit).
  unacked_reservations_.clear();
  acked_tokens_ = 0;
  acked_horizon_ms_ = 0;
  no_deadline_offset_ = change_offset_ = offset_;
  Log(LogLevel::kNotice, "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
      replid2_, second_offset_, replid_);
}

// ---- PSYNC, REPLCONF, WAIT ----

ReplicationSource::Replica* ReplicationSource::FindReplica(const Session& session) {
  for (Replica& r : replicas_) {
    if (r.session == &session) return &r;
  }
  return nullptr;
}

void ReplicationSource::Psync(CommandContext& ctx) {
  Session& s = ctx.session;
  if (s.replica) return;  // a second PSYNC on a replica link is ignored, as in Redis
  // Chained replication is not served: a replica's own stream is its
  // primary's, which its replicas should follow directly.
  if (is_replica()) return ctx.Error(errors::kNoMasterLink);
  // Replies still pending (a pipelined handshake's) leave before the
  // stream, in order, so unlike Redis PSYNC does not refuse them.
  std::string_view want_id = ctx.argv[1];
  int64_t want_offset = -1;
  if (ctx.argc() >= 3 && !ParseInt64(ctx.argv[2], &want_offset)) want_offset = -1;

  Replica* r = FindReplica(s);
  if (r == nullptr) {
    replicas_.push_back(Replica{.session = &s});
    r = &replicas_.back();
  }
  if (r->ip.empty()) r->ip = s.addr.substr(0, s.addr.rfind(':'));
  std::string name = fmt::format("{}:{}", r->ip, r->listening_port);
  Log(LogLevel::kNotice, "Replica {} asks for synchronization", name);

  // +CONTINUE: the replica's history is ours (this id, or the one before a
  // promotion up to where it ended) and the backlog still holds the bytes
  // from its offset on.
  bool same_history = want_id == replid_ ||
                      (want_id == replid2_ && want_offset <= second_offset_);
  if (want_offset > 0 && same_history && backlog_ != nullptr &&
      backlog_->Covers(static_cast<uint64_t>(want_offset))) {
    std::string out = fmt::format("+CONTINUE {}\r\n", replid_);
    backlog_->CopyFrom(static_cast<uint64_t>(want_offset), &out);
    s.out.Append(out);
    r->online = true;
    r->ack_offset = static_cast<uint64_t>(want_offset - 1);
    r->last_ack = ctx.now;
    s.replica = true;
    ++sync_partial_ok_;
    Log(LogLevel::kNotice,
        "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting "
        "from offset {}.",
        name, out.size(), want_offset);
    return;
  }
  if (want_id != "?") {
    ++sync_partial_err_;
    Log(LogLevel::kNotice,
        "Partial resynchronization not accepted: replication ID or offset not in the backlog "
        "(asked {}:{}, have {}:{})",
        want_id, want_offset, replid_, offset_);
  } else {
    Log(LogLevel::kNotice, "Full resync requested by replica {}", name);
  }
  // +FULLRESYNC: the snapshot is this iteration's engine state, which
  // includes records not yet streamed; the replica gets those after it too,
  // and applying a record over the state it produced changes nothing.
  EnsureBacklog();
  uint64_t snapshot_tokens = 0;
  int64_t snapshot_horizon_ms = 0;
  std::string snapshot = durability_->Snapshot(ctx.now, &snapshot_tokens, &snapshot_horizon_ms);
  // A replica that acknowledges this offset has the snapshot's reservation.
  NoteReservation(offset_, snapshot_tokens, snapshot_horizon_ms);
  s.out.Append(fmt::format("+FULLRESYNC {} {}\r\n${}\r\n", replid_, offset_, snapshot.size()));
  s.out.Append(snapshot);
  r->online = true;
  r->ack_offset = 0;
  r->last_ack = ctx.now;
  s.replica = true;
  ++sync_full_;
  Log(LogLevel::kNotice, "Synchronization with replica {} succeeded ({} bytes of snapshot)", name,
      snapshot.size());
}

void ReplicationSource::Replconf(CommandContext& ctx) {
  if (ctx.argc() % 2 == 0) return ctx.Error(errors::kSyntax);
  Session& s = ctx.session;
  for (size_t i = 1; i + 1 < ctx.argc(); i += 2) {
    std::string_view opt = ctx.argv[i], value = ctx.argv[i + 1];
    if (EqualsIgnoreCase(opt, "ack")) {
      // From a replica only, and never answered (Redis's rule).
      Replica* r = FindReplica(s);
      if (r == nullptr || !s.replica) return;
      int64_t offset;
      if (!ParseInt64(value, &offset) || offset < 0) return;
      r->ack_offset = std::max(r->ack_offset, static_cast<uint64_t>(offset));
      r->last_ack = ctx.now;
      ServeWaiting(ctx.now);
      return;
    }
    if (EqualsIgnoreCase(opt, "getack")) return;  // a replica answers its primary's, not a client's
    if (EqualsIgnoreCase(opt, "listening-port")) {
      int64_t port;
      if (!ParseInt64(value, &port) || port < 0 || port > 65535) {
        return ctx.Error(errors::kNotInteger);
      }
      Replica* r = FindReplica(s);
      if (r == nullptr) {
        replicas_.push_back(Replica{.session = &s});
        r = &replicas_.back();
      }
      r->listening_port = static_cast<int>(port);
    } else if (EqualsIgnoreCase(opt, "ip-address")) {
      Replica* r = FindReplica(s);
      if (r == nullptr) {
        replicas_.push_back(Replica{.session = &s});
        r = &replicas_.back();
      }
      r->ip = std::string(value);
    } else if (!EqualsIgnoreCase(opt, "capa") && !EqualsIgnoreCase(opt, "rdb-only") &&
               !EqualsIgnoreCase(opt, "rdb-filter-only")) {
      return ctx.Error(fmt::format(fmt::runtime(errors::kUnrecognizedReplconfFormat), opt));
    }
  }
  ctx.reply().Simple("OK");
}

int ReplicationSource::CountAcks(uint64_t offset) const {
  int n = 0;
  for (const Replica& r : replicas_) {
    if (r.online && r.ack_offset >= offset) ++n;
  }
  return n;
}

void ReplicationSource::Wait(CommandContext& ctx) {
  if (is_replica()) return ctx.Error(errors::kWaitOnReplica);
  int64_t numreplicas, timeout;
  if (!ParseInt64(ctx.argv[1], &numreplicas)) return ctx.Error(errors::kNotInteger);
  if (!ParseInt64(ctx.argv[2], &timeout)) return ctx.Error(errors::kWaitTimeoutNotInteger);
  if (timeout < 0) return ctx.Error(errors::kTimeoutNegative);
  // The client's writes end, at the latest, where this iteration's records
  // will: a WAIT may wait for a little more than its own writes, never less.
  uint64_t target = PendingOffset();
  int acks = CountAcks(target);
  if (acks >= numreplicas || !ctx.may_block) return ctx.reply().Integer(acks);
  Waiting w{.session = &ctx.session, .offset = target, .numreplicas = numreplicas};
  if (timeout > 0) w.deadline = ctx.now.PlusMillis(timeout);
  waiting_.push_back(w);
  ctx.session.waiting_replicas = true;
  ctx.session.blocked_since = ctx.now;
  // The replicas are asked right after this iteration's records.
  ack_requested_ = true;
}

void ReplicationSource::ServeWaiting(MonoTime now) {
  size_t kept = 0;
  for (Waiting& w : waiting_) {
    int acks = CountAcks(w.offset);
    bool timed_out = w.deadline && now >= *w.deadline;
    if (acks < w.numreplicas && !timed_out) {
      waiting_[kept++] = w;
      continue;
    }
    w.session->waiting_replicas = false;
    w.session->awaits_commit = true;
    w.session->reply.Integer(acks);
    server_->SessionUnblocked(*w.session);
  }
  waiting_.resize(kept);
}

void ReplicationSource::SessionClosed(Session& session) {
  std::erase_if(waiting_, [&](const Waiting& w) { return w.session == &session; });
  auto it = std::find_if(replicas_.begin(), replicas_.end(),
                         [&](const Replica& r) { return r.session == &session; });
  if (it == replicas_.end()) return;
  if (it->online) {
    Log(LogLevel::kNotice, "Connection with replica {}:{} lost.", it->ip, it->listening_port);
  }
  replicas_.erase(it);
}

int ReplicationSource::GoodReplicas(MonoTime now) const {
  int64_t max_lag = min_replicas_max_lag_;
  int n = 0;
  for (const Replica& r : replicas_) {
    if (r.online && (now.us - r.last_ack.us) / 1'000'000 <= max_lag) ++n;
  }
  return n;
}

bool ReplicationSource::TooFewGoodReplicas(MonoTime now) const {
  if (is_replica()) return false;
  if (min_replicas_to_write_ <= 0 || min_replicas_max_lag_ <= 0) return false;
  return GoodReplicas(now) < min_replicas_to_write_;
}

void ReplicationSource::Cron(MonoTime now) {
  if (!waiting_.empty()) ServeWaiting(now);
  if (backlog_ != nullptr && backlog_->capacity() != BacklogSize()) backlog_->Resize(BacklogSize());
  if (is_replica()) return;
  bool any_online = std::any_of(replicas_.begin(), replicas_.end(),
                                [](const Replica& r) { return r.online; });
  if (!any_online) return;
  // Redis's repl-ping-replica-period: a replica that hears nothing for
  // repl-timeout seconds knows its link is dead.
  int64_t period = std::max<int64_t>(CompatInt(*config_, "repl-ping-replica-period", 10), 1);
  if (now.us - last_ping_.us >= period * 1'000'000) {
    last_ping_ = now;
    Feed(kPing);
  }
}

// ---- INFO and ROLE ----

void ReplicationSource::WriteInfo(std::string* out, MonoTime now) const {
  auto add = [out](std::string_view name, auto value) {
    fmt::format_to(std::back_inserter(*out), "{}:{}\r\n", name, value);
  };
  int online = 0;
  for (const Replica& r : replicas_) online += r.online ? 1 : 0;
  if (is_replica()) {
    LinkStatus link = link_->status();
    add("role", "slave");
    add("master_host", link.host);
    add("master_port", link.port);
    add("master_link_status", link.up ? "up" : "down");
    add("master_last_io_seconds_ago", link.last_io_seconds);
    add("master_sync_in_progress", link.sync_in_progress ? 1 : 0);
    add("slave_read_repl_offset", link.offset);
    add("slave_repl_offset", link.offset);
    if (link.sync_in_progress) {
      int64_t total = link.sync_total_bytes;
      add("master_sync_total_bytes", total);
      add("master_sync_read_bytes", link.sync_read_bytes);
      add("master_sync_left_bytes", total < 0 ? -1 : total - link.sync_read_bytes);
      add("master_sync_perc",
          fmt::format("{:.2f}", total <= 0 ? 0.0 : 100.0 * static_cast<double>(link.sync_read_bytes) /
                                                       static_cast<double>(total)));
      add("master_sync_last_io_seconds_ago", link.last_io_seconds);
    }
    if (!link.up) add("master_link_down_since_seconds", link.down_since_seconds);
    add("slave_priority", CompatInt(*config_, "replica-priority", 100));
    // Always read-only (see the dispatcher), whatever replica-read-only says.
    add("slave_read_only", 1);
    add("replica_announced", 1);
  } else {
    add("role", "master");
  }
  add("connected_slaves", online);
  int64_t to_write = CompatInt(*config_, "min-replicas-to-write", 0);
  int64_t max_lag = CompatInt(*config_, "min-replicas-max-lag", 10);
  if (!is_replica() && to_write > 0 && max_lag > 0) add("min_slaves_good_slaves", GoodReplicas(now));
  // lockd's own, once replies may wait for replicas (or `always` is asked
  // for without them): what they wait for in effect ("none" with
  // min-replicas-to-write 0, whatever the directive says). Left out by
  // default, so that the section keeps a redis-server's fields.
  if (to_write > 0 || config_->lock_replica_ack == ReplicaAck::kAlways) {
    add("lock_replica_ack", ReplicaAckName(config_->lock_replica_ack));
    add("lock_replica_ack_effective",
        to_write <= 0 ? "none" : ReplicaAckName(config_->lock_replica_ack));
  }
  if (!is_replica() && to_write > 0) {
    uint64_t acked = acked_offset();
    add("lock_replica_acked_offset", acked == UINT64_MAX ? offset_ : acked);
    add("lock_replica_acked_tokens", acked_tokens_);
    add("lock_replica_acked_horizon_ms", acked_horizon_ms_);
  }
  int i = 0;
  for (const Replica& r : replicas_) {
    if (!r.online) continue;
    fmt::format_to(std::back_inserter(*out), "slave{}:ip={},port={},state=online,offset={},lag={}\r\n",
                   i++, r.ip, r.listening_port, r.ack_offset, (now.us - r.last_ack.us) / 1'000'000);
  }
  add("master_failover_state", "no-failover");
  add("master_replid", replid_);
  add("master_replid2", replid2_);
  add("master_repl_offset", offset_);
  add("second_repl_offset", second_offset_);
  add("repl_backlog_active", backlog_ != nullptr ? 1 : 0);
  add("repl_backlog_size", BacklogSize());
  add("repl_backlog_first_byte_offset", backlog_ != nullptr ? backlog_->first_offset() : 0);
  add("repl_backlog_histlen", backlog_ != nullptr ? backlog_->histlen() : 0);
}

void ReplicationSource::WriteRole(ReplyWriter& w) const {
  if (is_replica()) {
    LinkStatus link = link_->status();
    w.Array(5);
    w.Bulk("slave");
    w.Bulk(link.host);
    w.Integer(link.port);
    w.Bulk(link.state);
    w.Integer(link.offset);
    return;
  }
  w.Array(3);
  w.Bulk("master");
  w.Integer(static_cast<int64_t>(offset_));
  size_t online = 0;
  for (const Replica& r : replicas_) online += r.online ? 1 : 0;
  w.Array(online);
  for (const Replica& r : replicas_) {
    if (!r.online) continue;
    w.Array(3);
    w.Bulk(r.ip);
    w.Bulk(std::to_string(r.listening_port));
    w.Bulk(std::to_string(r.ack_offset));
  }
}

}  // namespace lockd::repl
