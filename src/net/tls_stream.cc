// The memory-BIO engine. OpenSSL's record layer bounds what one connection
// can make it hold: a record longer than TLS allows (16 KB plus overhead)
// fails at its header, so a peer announcing a 100 MB record costs a closed
// connection, not 100 MB; input is fed one socket read at a time and
// drained (or refused) before the next.
#include "net/tls_stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <climits>

#include "net/input_buffer.h"

namespace lockd {

std::unique_ptr<TlsStream> TlsStream::Make(SSL_CTX* ctx) {
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  // An empty input BIO means "more to come", not end of stream.
  BIO_set_mem_eof_return(rbio, -1);
  SSL_set_bio(ssl, rbio, wbio);
  return std::unique_ptr<TlsStream>(new TlsStream(ssl, rbio, wbio));
}

std::unique_ptr<TlsStream> TlsStream::CreateClient(SSL_CTX* ctx) {
  std::unique_ptr<TlsStream> stream = Make(ctx);
  if (!stream) return nullptr;
  SSL_set_connect_state(stream->ssl_);
  // The primary must show a certificate the CA signed.
  SSL_set_verify(stream->ssl_, SSL_VERIFY_PEER, nullptr);
  // The ClientHello, left in the write BIO.
  ERR_clear_error();
  int r = SSL_do_handshake(stream->ssl_);
  int e = SSL_get_error(stream->ssl_, r);
  if (r != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return nullptr;
  }
  return stream;
}

std::unique_ptr<TlsStream> TlsStream::Create(SSL_CTX* ctx, TlsAuthClients auth) {
  std::unique_ptr<TlsStream> stream = Make(ctx);
  if (!stream) return nullptr;
  SSL* ssl = stream->ssl_;
  SSL_set_accept_state(ssl);
  // Per connection, as Redis does: tls-auth-clients applies to connections
  // accepted after it changes.
  switch (auth) {
    case TlsAuthClients::kNo:
      SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
      break;
    case TlsAuthClients::kOptional:
      SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
      break;
    case TlsAuthClients::kYes:
      SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  return stream;
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

TlsStream::Result TlsStream::Fail(int ssl_error) {
  unsigned long e = ERR_get_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    error_ = buf;
  } else if (ssl_error == SSL_ERROR_SYSCALL) {
    error_ = "unexpected end of stream";
  } else {
    error_ = "TLS error " + std::to_string(ssl_error);
  }
  ERR_clear_error();
  return Result::kError;
}

TlsStream::Result TlsStream::Feed(const char* data, size_t n) {
  ERR_clear_error();
  if (n > 0 && BIO_write(rbio_, data, static_cast<int>(n)) != static_cast<int>(n)) {
    error_ = "no memory for input";
    return Result::kError;
  }
  if (!handshake_done_) {
    int r = SSL_do_handshake(ssl_);
    if (r != 1) {
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Result::kOk;
      return Fail(e);
    }
    handshake_done_ = true;
  }
  return Result::kOk;
}

template <typename Sink>
TlsStream::Result TlsStream::Drain(Sink&& sink) {
  // Everything fed is decrypted now: nothing stays in OpenSSL between
  // reads, so pausing the socket pauses the client.
  for (;;) {
    char* p = nullptr;
    size_t available = 0;
    if (!sink.Prepare(&p, &available)) {
      error_ = "no memory for input";
      return Result::kError;
    }
    int r = SSL_read(ssl_, p, static_cast<int>(std::min<size_t>(available, INT_MAX)));
    if (r > 0) {
      sink.Commit(static_cast<size_t>(r));
      continue;
    }
    sink.Commit(0);
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Result::kOk;
    if (e == SSL_ERROR_ZERO_RETURN) return Result::kClosed;
    return Fail(e);
  }
}

TlsStream::Result TlsStream::Receive(const char* data, size_t n, InputBuffer* input,
                                     size_t* plain_bytes) {
  *plain_bytes = 0;
  Result fed = Feed(data, n);
  if (fed != Result::kOk || !handshake_done_) return fed;
  struct Sink {
    InputBuffer* input;
    size_t* plain_bytes;
    bool Prepare(char** p, size_t* available) {
      *p = input->PrepareRead(available);
      return *p != nullptr;
    }
    void Commit(size_t got) {
      if (got == 0) return;
      input->Commit(got);
      *plain_bytes += got;
    }
  };
  return Drain(Sink{input, plain_bytes});
}

TlsStream::Result TlsStream::Receive(const char* data, size_t n, std::string* out) {
  Result fed = Feed(data, n);
  if (fed != Result::kOk || !handshake_done_) return fed;
  // Records are at most 16 KB of plaintext: room for one at a time.
  struct Sink {
    std::string* out;
    size_t before = 0;
    bool Prepare(char** p, size_t* available) {
      before = out->size();
      out->resize(before + 16 * 1024);
      *p = out->data() + before;
      *available = 16 * 1024;
      return true;
    }
    void Commit(size_t got) { out->resize(before + got); }
  };
  return Drain(Sink{out});
}

bool TlsStream::Encrypt(const char* data, size_t n) {
  ERR_clear_error();
  while (n > 0) {
    int r = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(n, INT_MAX)));
    if (r <= 0) {
      Fail(SSL_get_error(ssl_, r));
      return false;
    }
    data += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool TlsStream::HasOutput() const { return !pending_.empty() || BIO_ctrl_pending(wbio_) > 0; }

std::string& TlsStream::Output() {
  size_t n = BIO_ctrl_pending(wbio_);
  if (n > 0) {
    size_t old = pending_.size();
    pending_.resize(old + n);
    int got = BIO_read(wbio_, pending_.data() + old, static_cast<int>(n));
    pending_.resize(old + static_cast<size_t>(std::max(got, 0)));
  }
  return pending_;
}

void TlsStream::Sent(size_t n) { pending_.erase(0, n); }

uv_buf_t TlsStream::StartWrite(size_t written) {
  pending_.erase(0, written);
  in_flight_.swap(pending_);
  pending_.clear();
  return uv_buf_init(in_flight_.data(), static_cast<unsigned>(in_flight_.size()));
}

void TlsStream::WriteDone() {
  in_flight_.clear();
  // A large burst's buffer is not kept for an idle connection.
  if (in_flight_.capacity() > 64 * 1024) std::string().swap(in_flight_);
}

const char* TlsStream::version() const { return SSL_get_version(ssl_); }

}  // namespace lockd
