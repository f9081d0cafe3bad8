// The hash chain that makes an audit log tamper-evident, and its offline verifier.
// Vault's audit log can be edited without a trace; leasefs's cannot: every entry
// carries the hash of the entry before it, so `leasefs audit verify FILE` proves that
// a log is whole or names the first line that was altered, dropped or reordered.
//
// THE CANONICAL FORM (this is a file format; changing it breaks old logs)
// -----------------------------------------------------------------------
// An audit log is a sequence of lines, each terminated by '\n'. A line L is
//     L = PREFIX BODY
// where PREFIX is the device's `prefix` option (possibly empty, never containing
// '\r' or '\n') and BODY is one JSON object, written without whitespace, whose last
// two members are, in this order and in exactly this spelling,
//     ,"prev_hash":"<P>","hash":"<H>"}
// with <P> and <H> 64 lowercase hex digits each. Nothing follows the final '}'.
//
// The canonical serialization C of an entry is L with the 74 bytes
//     ,"hash":"<H>"
// removed, i.e. the line's bytes up to and including the closing quote of <P>,
// followed by "}". C is itself a JSON object (PREFIX aside) and still contains P.
//
//     H = lowercase hex of SHA-256(C)
//
// so H covers every byte of the line except H itself, including the prefix and the
// previous entry's hash P. The first entry of a chain has P = 64 '0' characters (the
// genesis hash). Every other entry has P = H of the entry written just before it by
// the same device. Verification works on bytes, not on re-serialized JSON, so any
// change — a value, a space, a duplicated key, a reordered member — breaks it.
//
// Continuity: a device's chain does not restart when its file does. After a restart the
// next entry links to the last entry already in the file (or, for an empty or missing
// file, to the chain head the broker persisted); after a reopen (SIGHUP log rotation)
// the first entry of the new file links to the last entry of the previous file. So a
// rotated series of files verifies as one chain when checked in order (verify_logs), and
// a single file whose first P is not the genesis hash says so in its report.
//
// What the chain cannot prove on its own: that entries were not cut off the END of a
// log (compare VerifyReport::last_hash with the head the server reports), and that a
// whole log was not rewritten from scratch by someone who can also recompute hashes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "backend/sdk/status.h"

namespace leasefs::backend::audit {

// P of the first entry of a chain.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";
inline constexpr std::size_t kHashHexSize = 64;

// Appends the sealed line for `body` (PREFIX + a JSON object text ending in '}', with
// at least one member and no prev_hash/hash members) to `out`, terminated by '\n', and
// stores its hash in `hash` (64 hex). `prev_hash` must be 64 hex digits. Thread-safe.
void append_sealed_line(std::string_view body, std::string_view prev_hash, std::string& out,
                        std::string& hash);

// The part of sealing that depends on the body alone: the SHA-256 state after the bytes
// of C that come before the previous hash (PREFIX, BODY without its final '}', and
// `,"prev_hash":"`). Computed before the line's turn in the chain (hash_line_head, on
// the request's thread), it leaves sealing to hash only the last block or two, so a
// device's writer holds the chain for less time. Opaque; copyable.
struct LineHead {
  unsigned char state[128];
};
LineHead hash_line_head(std::string_view body);

// As append_sealed_line, from `head` = hash_line_head(body) computed earlier: the same
// line and hash.
void append_sealed_line(std::string_view body, const LineHead& head, std::string_view prev_hash,
                        std::string& out, std::string& hash);

// True when `text` is 64 lowercase hex digits.
bool is_chain_hash(std::string_view text);

enum class FaultKind {
  kNone,
  kMalformed,    // a line that is not a sealed audit entry (or is empty)
  kTruncated,    // the last line has no '\n': cut off or torn by a crash
  kAltered,      // the line's content does not match its own hash
  kDropped,      // the line does not link to the line before it: entries are missing
  kReordered,    // the line links to another line of the file than the one before it
  kBrokenLink,   // the first line does not link to what the caller expected (previous file)
  kEndMismatch,  // the log does not end with the entry the caller expected (cut off)
};
std::string_view fault_name(FaultKind kind);

struct VerifyReport {
  std::uint64_t entries = 0;       // lines verified intact
  std::string first_prev_hash{};   // P of the first line ("" for an empty file)
  std::string last_hash{};         // H of the last line ("" for an empty file)
  bool starts_at_genesis = false;  // the first line begins a chain
  // Filled when verification fails: the file (verify_logs), the first faulty line
  // (1-based) and why.
  FaultKind fault = FaultKind::kNone;
  std::filesystem::path fault_file{};
  std::uint64_t fault_line = 0;
  std::string fault_detail{};
};

struct VerifyOptions {
  // When set, the first line must link to this hash (the last_hash of the previous
  // file of a rotated series, or the genesis hash to require a complete chain).
  std::string expected_prev_hash{};
  // When set, the last line must have this hash — the chain head the server reports
  // for the device — which proves that nothing was cut off the end.
  std::string expected_last_hash{};
};

// Verifies one log file in bounded memory (a fixed read buffer and a window of recent
// hashes, whatever the number or length of lines). Returns the report when the file is
// whole; when it is not, returns a kDataLoss error whose message names the file, the
// first faulty line and what is wrong ("audit.log: line 17: altered: ..."), and fills
// `*report` (when given) with the same facts as fields. I/O errors: kNotFound,
// kPermissionDenied or kUnavailable. Thread-safe.
sdk::Result<VerifyReport> verify_log(const std::filesystem::path& path,
                                     const VerifyOptions& options = {},
                                     VerifyReport* report = nullptr);

// Verifies a rotated series, oldest first: each file must be whole and its first line
// must link to the last line of the file before it. options.expected_prev_hash applies
// to the first file, options.expected_last_hash to the end of the series. The report
// sums entries, names the first P of the first file and the last H of the last one. On
// failure, the message and `*report` name the file at fault.
sdk::Result<VerifyReport> verify_logs(std::span<const std::filesystem::path> paths,
                                      const VerifyOptions& options = {},
                                      VerifyReport* report = nullptr);

// What the end of an existing log says, for continuing its chain (used when a device
// opens a file). Reads only the file's tail.
struct LogTail {
  bool empty = true;        // no bytes at all
  bool torn = false;        // the file does not end in '\n'
  std::string last_hash{};  // H of the last complete sealed line, "" if none
};
sdk::Result<LogTail> read_log_tail(int fd);

}  // namespace leasefs::backend::audit
