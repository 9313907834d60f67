// TlsStream: one connection's TLS engine. OpenSSL works on two memory BIOs,
// so it never touches the socket: the Server feeds it the ciphertext libuv
// read (Receive decrypts into the connection's InputBuffer, or drives the
// handshake), and hands it plaintext from the session's output (Encrypt),
// taking the ciphertext to write from Output(). Everything above this layer
// (parsing, back-pressure, output limits, replies held for the log's sync)
// sees the same bytes as on a plain connection.
//
// Ownership: the Connection owns it; the SSL holds a reference to the
// TlsContext's SSL_CTX it was made from, so a reload does not touch it.
#pragma once

#include <uv.h>

#include <cstddef>
#include <memory>
#include <string>

#include "lockd/config.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct bio_st BIO;

namespace lockd {

class InputBuffer;

class TlsStream {
 public:
  enum class Result {
    kOk,      // all input used; wants more
    kClosed,  // the peer ended the session (close_notify)
    kError,   // handshake or record failure; see error()
  };

  // A server-side stream asking for client certificates as `auth` says.
  // Null when OpenSSL could not allocate one.
  static std::unique_ptr<TlsStream> Create(SSL_CTX* ctx, TlsAuthClients auth);
  // A client-side stream (a replica's link to its primary) that verifies
  // the peer's certificate against the context's CA, as Redis does (no
  // host name check). Its ClientHello is in Output() at once. Null when
  // OpenSSL could not allocate one.
  static std::unique_ptr<TlsStream> CreateClient(SSL_CTX* ctx);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Takes `n` bytes read from the socket. Before the handshake is done it
  // drives the handshake; after, it decrypts every complete record into
  // `input`, counting the plaintext in `*plain_bytes`. Any reply the
  // handshake needs is left in Output().
  Result Receive(const char* data, size_t n, InputBuffer* input, size_t* plain_bytes);
  // The same, decrypting onto the end of `out`.
  Result Receive(const char* data, size_t n, std::string* out);

  // Encrypts `n` bytes of plaintext onto Output(). False on failure (see
  // error()). Only once handshake_done().
  bool Encrypt(const char* data, size_t n);

  // Whether there is ciphertext to write (handshake, alerts, tickets, data).
  bool HasOutput() const;
  // The ciphertext not yet handed to the socket, with OpenSSL's newest
  // output appended.
  std::string& Output();
  // The first `n` bytes of Output() reached the socket.
  void Sent(size_t n);
  // The first `written` bytes of Output() reached the socket and the rest
  // goes to a uv_write: it moves to a buffer that stays put until
  // WriteDone(). Returns that buffer.
  uv_buf_t StartWrite(size_t written);
  void WriteDone();

  bool handshake_done() const { return handshake_done_; }
  const std::string& error() const { return error_; }
  // The negotiated protocol ("TLSv1.3"), once the handshake is done.
  const char* version() const;

 private:
  TlsStream(SSL* ssl, BIO* rbio, BIO* wbio) : ssl_(ssl), rbio_(rbio), wbio_(wbio) {}
  static std::unique_ptr<TlsStream> Make(SSL_CTX* ctx);
  Result Fail(int ssl_error);
  // Feeds `n` bytes to OpenSSL and drives the handshake while it is not
  // done. kOk with handshake_done() false: more input is needed.
  Result Feed(const char* data, size_t n);
  // Decrypts everything fed: `sink` gives room (Prepare) and keeps what
  // SSL_read put there (Commit).
  template <typename Sink>
  Result Drain(Sink&& sink);

  SSL* ssl_;
  BIO* rbio_;  // owned by ssl_
  BIO* wbio_;  // owned by ssl_
  bool handshake_done_ = false;
  std::string pending_;    // ciphertext not yet handed to the socket
  std::string in_flight_;  // ciphertext a uv_write is sending
  std::string error_;
};

}  // namespace lockd
