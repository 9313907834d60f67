// InputBuffer: the bytes a client sent that no command has consumed yet.
//
// One contiguous region so the parser can hand out views into it. Its bytes
// never move while a command runs (the command's argv points here); between
// commands they may: slid to the front before a read, or remapped when the
// region grows.
//
// What one client may cost the loop is bounded by the bytes it sent, never by
// a length it announced: small regions come from malloc; large ones are
// anonymous mappings that grow with mremap, so growing never copies and a
// page is touched only when data is read into it. A large bulk argument gets
// room for all of its announced length at once (Reserve) and is read in
// place, never copied. Ownership: the Connection owns its InputBuffer.
#pragma once

#include <cstddef>
#include <string_view>

namespace lockd {

class InputBuffer {
 public:
  static constexpr size_t kReadChunk = 16 * 1024;

  InputBuffer() = default;
  InputBuffer(const InputBuffer&) = delete;
  InputBuffer& operator=(const InputBuffer&) = delete;
  ~InputBuffer();

  std::string_view Pending() const { return {data_ + start_, end_ - start_}; }
  size_t size() const { return end_ - start_; }
  size_t capacity() const { return capacity_; }

  // Room for a read at the tail: at least kReadChunk bytes, or, while a
  // reservation is being filled, exactly what is left of it, so that a read
  // never runs past a large argument into room it would have to grow for.
  // Null (and *available 0) when memory could not be had.
  char* PrepareRead(size_t* available);
  void Commit(size_t n) { end_ += n; }

  // Makes room, at once, for the first `total` bytes of Pending() (a command
  // whose last bulk has an announced length). Reserves address space only:
  // nothing is copied but a few unconsumed bytes slid to the front, and
  // pages are faulted in as data arrives. False when the memory could not be
  // reserved; reads then grow the buffer as usual.
  bool Reserve(size_t total);
  // Whether reads are filling a reservation (no command can complete yet).
  bool filling() const { return reserved_end_ > end_; }

  // Drops the first n pending bytes. An idle client keeps no buffer: an
  // emptied one is freed, and a large one is given back once few bytes are
  // left in it.
  void Consume(size_t n);
  void Clear();

 private:
  // Regions of this size or more are mappings; smaller ones come from malloc.
  static constexpr size_t kMapAtLeast = 128 * 1024;
  // A region larger than this is given back when at most kReadChunk bytes
  // are left in it.
  static constexpr size_t kShrinkAbove = 256 * 1024;
  // Unconsumed bytes up to this many are always slid to the front rather
  // than grown around; more only when the consumed bytes before them are at
  // least as many (so that sliding costs no more than what was parsed).
  static constexpr size_t kAlwaysSlide = 64 * 1024;

  void Slide();
  bool SlideIsCheap() const;
  // Makes capacity_ at least `needed` (rounded, doubling when `exact` is
  // false). False on failure, with the buffer unchanged.
  bool Resize(size_t needed, bool exact);
  void Release();

  char* data_ = nullptr;
  size_t capacity_ = 0;
  bool mapped_ = false;  // data_ is a mapping (else malloc'd)
  size_t start_ = 0;
  size_t end_ = 0;
  size_t reserved_end_ = 0;  // absolute offset the last Reserve covers; 0: none
};

}  // namespace lockd
