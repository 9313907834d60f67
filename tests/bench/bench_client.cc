// bench_client: the load generators scripts/bench.sh needs where
// redis-benchmark cannot send the workload. Two modes, each printing
// machine-readable key=value lines on stdout (errors on stderr, exit 1):
//
//   bench-client batches --port P --conns N --requests R --pipeline D
//       --cmd "LOCK.ACQUIRE k:__rand_int__ h 30000" [--then "WAIT 1 0"]
//       [--keyspace K]
//     N connections driven by one thread (epoll). Each connection sends a
//     batch of D commands (each __rand_int__ a fresh random 12-digit number
//     below K, as redis-benchmark's -r) followed, with --then, by one more
//     command, all in one write, and sends its next batch only when every
//     reply of the last one arrived: --then "WAIT 1 0" is Redis's
//     "these writes are on a replica" after each batch, in one round trip.
//     A batch counts D requests. Error replies stop the run; with --then
//     WAIT, a reply below its numreplicas argument does too.
//     Prints requests, secs, rps, p50_ms, p99_ms (per batch), then_min.
//
//   bench-client handshakes --port P --cacert F --workers W --seconds S
//     W threads, each in a loop: TCP connect, a full TLS handshake (no
//     session cache, no tickets: nothing is resumed), PING, +PONG, close.
//     Prints handshakes, secs, rps.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench-client: %s\n", what.c_str());
  std::exit(1);
}

int ConnectTcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) Die(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Die("connect to port " + std::to_string(port) + ": " + std::strerror(errno));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::vector<std::string> SplitWords(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string Resp(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& a : argv) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

// Writes all of `data` to a non-blocking socket, waiting when it is full
// (rare: batches are a few hundred bytes on an idle socket).
void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, 1000);
    } else {
      Die(std::string("write: ") + std::strerror(errno));
    }
  }
}

struct Conn {
  int fd = -1;
  redisReader* reader = nullptr;
  int pending = 0;  // replies still due for the batch in flight
  Clock::time_point sent;
};

int RunBatches(std::map<std::string, std::string>& opt) {
  int port = std::atoi(opt["port"].c_str());
  int conns = std::atoi(opt["conns"].c_str());
  long requests = std::atol(opt["requests"].c_str());
  int depth = std::max(1, std::atoi(opt["pipeline"].c_str()));
  long keyspace = opt.count("keyspace") ? std::atol(opt["keyspace"].c_str()) : 1000000;
  std::vector<std::string> cmd = SplitWords(opt["cmd"]);
  std::vector<std::string> then = SplitWords(opt["then"]);
  if (port <= 0 || conns <= 0 || requests <= 0 || cmd.empty() || keyspace <= 0) {
    Die("batches needs --port, --conns, --requests, --cmd (positive)");
  }
  long then_want = 0;
  if (then.size() >= 2 && strcasecmp(then[0].c_str(), "WAIT") == 0)
    then_want = std::atol(then[1].c_str());
  std::string then_resp = then.empty() ? "" : Resp(then);
  int per_batch = depth + (then.empty() ? 0 : 1);

  std::mt19937_64 rng(12345);
  char digits[16];
  auto batch = [&] {
    std::string out;
    for (int i = 0; i < depth; ++i) {
      std::vector<std::string> argv = cmd;
      for (std::string& a : argv) {
        size_t at = a.find("__rand_int__");
        if (at == std::string::npos) continue;
        std::snprintf(digits, sizeof digits, "%012ld", static_cast<long>(rng() % keyspace));
        a.replace(at, 12, digits);
      }
      out += Resp(argv);
    }
    return out + then_resp;
  };

  int ep = epoll_create1(0);
  std::vector<Conn> cs(static_cast<size_t>(conns));
  for (size_t i = 0; i < cs.size(); ++i) {
    cs[i].fd = ConnectTcp(port);
    fcntl(cs[i].fd, F_SETFL, fcntl(cs[i].fd, F_GETFL) | O_NONBLOCK);
    cs[i].reader = redisReaderCreate();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  long batches_total = (requests + depth - 1) / depth;
  long batches_sent = 0, batches_done = 0;
  long then_min = -1;
  std::vector<double> lat_ms;
  lat_ms.reserve(static_cast<size_t>(batches_total));
  auto send = [&](Conn& c) {
    c.pending = per_batch;
    c.sent = Clock::now();
    ++batches_sent;
    WriteAll(c.fd, batch());
  };
  auto t0 = Clock::now();
  for (Conn& c : cs) {
    if (batches_sent < batches_total) send(c);
  }
  std::vector<epoll_event> events(cs.size());
  char buf[65536];
  while (batches_done < batches_total) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10000);
    if (n == 0) Die("no reply for 10 s (" + std::to_string(batches_done) + " batches done)");
    if (n < 0) {
      if (errno == EINTR) continue;
      Die(std::string("epoll_wait: ") + std::strerror(errno));
    }
    for (int e = 0; e < n; ++e) {
      Conn& c = cs[events[e].data.u64];
      ssize_t got = read(c.fd, buf, sizeof buf);
      if (got == 0) Die("the server closed a connection");
      if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        Die(std::string("read: ") + std::strerror(errno));
      }
      redisReaderFeed(c.reader, buf, static_cast<size_t>(got));
      void* reply = nullptr;
      while (true) {
        if (redisReaderGetReply(c.reader, &reply) != REDIS_OK) Die("protocol error in a reply");
        if (reply == nullptr) break;
        auto* r = static_cast<redisReply*>(reply);
        if (r->type == REDIS_REPLY_ERROR) Die(std::string("error reply: ") + r->str);
        bool is_then = !then.empty() && c.pending == 1;
        if (is_then && then_want > 0) {
          if (r->type != REDIS_REPLY_INTEGER) Die("WAIT replied with a non-integer");
          if (then_min < 0 || r->integer < then_min) then_min = r->integer;
          if (r->integer < then_want) Die("WAIT replied " + std::to_string(r->integer));
        }
        freeReplyObject(reply);
        if (--c.pending == 0) {
          ++batches_done;
          lat_ms.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - c.sent).count());
          if (batches_sent < batches_total) send(c);
        } else if (c.pending < 0) {
          Die("more replies than requests");
        }
      }
    }
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::sort(lat_ms.begin(), lat_ms.end());
  auto pct = [&](double p) {
    return lat_ms[std::min(lat_ms.size() - 1, static_cast<size_t>(p * lat_ms.size()))];
  };
  long done_requests = batches_done * depth;
  std::printf("requests=%ld\nsecs=%.3f\nrps=%.0f\np50_ms=%.3f\np99_ms=%.3f\nthen_min=%ld\n",
              done_requests, secs, done_requests / secs, pct(0.50), pct(0.99), then_min);
  for (Conn& c : cs) {
    redisReaderFree(c.reader);
    close(c.fd);
  }
  close(ep);
  return 0;
}

int RunHandshakes(std::map<std::string, std::string>& opt) {
  int port = std::atoi(opt["port"].c_str());
  int workers = std::max(1, std::atoi(opt["workers"].c_str()));
  double seconds = std::atof(opt["seconds"].c_str());
  if (port <= 0 || seconds <= 0 || opt["cacert"].empty())
    Die("handshakes needs --port, --cacert, --seconds");
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr || SSL_CTX_load_verify_locations(ctx, opt["cacert"].c_str(), nullptr) != 1) {
    Die("cannot load " + opt["cacert"]);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // Every connection a full handshake: no client-side session cache, and
  // no tickets asked for.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  std::atomic<long> total{0};
  std::atomic<bool> stop{false};
  const std::string ping = "*1\r\n$4\r\nPING\r\n";
  auto worker = [&] {
    char buf[64];
    while (!stop.load(std::memory_order_relaxed)) {
      int fd = ConnectTcp(port);
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      if (SSL_connect(ssl) != 1) {
        ERR_print_errors_fp(stderr);
        Die("TLS handshake failed");
      }
      if (SSL_write(ssl, ping.data(), static_cast<int>(ping.size())) <= 0) Die("TLS write failed");
      std::string got;
      while (got.find("\r\n") == std::string::npos) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) Die("TLS read failed");
        got.append(buf, static_cast<size_t>(n));
      }
      if (got != "+PONG\r\n") Die("PING got: " + got);
      SSL_shutdown(ssl);
      SSL_free(ssl);
      close(fd);
      total.fetch_add(1, std::memory_order_relaxed);
    }
  };
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) threads.emplace_back(worker);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("handshakes=%ld\nsecs=%.3f\nrps=%.0f\n", total.load(), secs, total.load() / secs);
  SSL_CTX_free(ctx);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Die("usage: bench-client batches|handshakes --option value ...");
  std::map<std::string, std::string> opt;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0) Die(std::string("unexpected argument ") + argv[i]);
    opt[argv[i] + 2] = argv[i + 1];
  }
  if ((argc - 2) % 2 != 0) Die(std::string("option without a value: ") + argv[argc - 1]);
  std::string mode = argv[1];
  if (mode == "batches") return RunBatches(opt);
  if (mode == "handshakes") return RunHandshakes(opt);
  Die("unknown mode " + mode);
}
