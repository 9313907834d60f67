// The key hash: a seeded multiply-fold hash that reads 8 bytes at a time.
//
// Keys are short (a seat id, a serial number), so the cost that matters is a
// few multiplications per key, not throughput on long strings. The seed is
// secret and random per engine, which makes it hard for a client to choose
// keys that collide (hash flooding); it is not a cryptographic PRF.
//
// Every output bit depends on every input bit: the table uses the low 32 bits
// for the home slot, bits 32-47 for the partition and bits 48-63 as a tag.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace lockd {

namespace hash_internal {

// 64x64 -> 128-bit product, folded: both halves of the product depend on all
// bits of both inputs, so one multiplication mixes well.
inline uint64_t FoldMul(uint64_t a, uint64_t b) {
  unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(p) ^ static_cast<uint64_t>(p >> 64);
}

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline uint64_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Odd constants with well-spread bits (from the golden ratio and SplitMix64).
inline constexpr uint64_t kK0 = 0x9e3779b97f4a7c15ULL;
inline constexpr uint64_t kK1 = 0xbf58476d1ce4e5b9ULL;
inline constexpr uint64_t kK2 = 0x94d049bb133111ebULL;

// SplitMix64's finaliser: spreads one seed word into independent secrets.
inline uint64_t SplitMix(uint64_t x) {
  x += kK0;
  x = (x ^ (x >> 30)) * kK1;
  x = (x ^ (x >> 27)) * kK2;
  return x ^ (x >> 31);
}

}  // namespace hash_internal

class StringHasher {
 public:
  explicit StringHasher(uint64_t seed)
      : s0_(hash_internal::SplitMix(seed)), s1_(hash_internal::SplitMix(s0_) | 1) {}

  uint64_t operator()(std::string_view key) const { return Hash(key.data(), key.size()); }

  uint64_t Hash(const char* p, size_t len) const {
    using hash_internal::FoldMul;
    using hash_internal::Load32;
    using hash_internal::Load64;
    uint64_t h = s0_ ^ (len * hash_internal::kK0);
    uint64_t a;
    uint64_t b;
    if (len <= 16) {
      // Short keys: two (possibly overlapping) loads cover every byte once
      // or twice; the length is already in h, so overlaps cannot collide.
      if (len >= 8) {
        a = Load64(p);
        b = Load64(p + len - 8);
      } else if (len >= 4) {
        a = Load32(p);
        b = Load32(p + len - 4);
      } else if (len > 0) {
        a = (uint64_t{static_cast<uint8_t>(p[0])} << 16) |
            (uint64_t{static_cast<uint8_t>(p[len / 2])} << 8) | static_cast<uint8_t>(p[len - 1]);
        b = 0;
      } else {
        a = 0;
        b = 0;
      }
    } else {
      size_t left = len;
      while (left > 16) {
        h = FoldMul(Load64(p) ^ s1_, Load64(p + 8) ^ h);
        p += 16;
        left -= 16;
      }
      // The last 16 bytes, overlapping what the loop read when len % 16 != 0.
      a = Load64(p + left - 16);
      b = Load64(p + left - 8);
    }
    // Two rounds: the first mixes the data into h, the second spreads the
    // product's bits over the whole word.
    h = FoldMul(a ^ s1_, b ^ h);
    return FoldMul(h ^ hash_internal::kK2, hash_internal::kK1);
  }

 private:
  uint64_t s0_;
  uint64_t s1_;  // odd, so FoldMul by it never collapses to zero
};

// A seed from the kernel's random source, for StringHasher.
uint64_t RandomHashSeed();

}  // namespace lockd
