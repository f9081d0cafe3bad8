// The process connector subscription; see proc_events.h.
#include "fs/proc_events.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace leasefs::fs {
namespace {

namespace sdk = backend::sdk;
using Clock = std::chrono::steady_clock;

sdk::Status failure(const char* what, int err) {
  return sdk::Status(sdk::Code::kUnavailable, std::string(what) + ": " + std::strerror(err));
}

// Sends the multicast control message (listen or ignore) to the connector.
bool send_control(int fd, proc_cn_mcast_op op) {
  // nlmsghdr, then cn_msg, then the op: the kernel reads them packed one after another.
  alignas(nlmsghdr) char message[NLMSG_SPACE(sizeof(cn_msg) + sizeof op)] = {};
  auto* header = reinterpret_cast<nlmsghdr*>(message);
  header->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof op);
  header->nlmsg_type = NLMSG_DONE;
  header->nlmsg_pid = 0;
  cn_msg connector{};
  connector.id.idx = CN_IDX_PROC;
  connector.id.val = CN_VAL_PROC;
  connector.len = sizeof op;
  std::memcpy(NLMSG_DATA(header), &connector, sizeof connector);
  std::memcpy(static_cast<char*>(NLMSG_DATA(header)) + sizeof connector, &op, sizeof op);
  return ::send(fd, message, header->nlmsg_len, MSG_NOSIGNAL) ==
         static_cast<ssize_t>(header->nlmsg_len);
}

// Reads one datagram without blocking and appends its fork, exec and exit events.
// Returns false when there is nothing more to read now.
bool read_one(int fd, std::vector<ProcEvent>& out) {
  alignas(nlmsghdr) char buf[8192];
  sockaddr_nl from{};
  socklen_t from_len = sizeof from;
  const ssize_t n =
      ::recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &from_len);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;  // nothing queued
    if (errno == EINTR) return true;
    // ENOBUFS: the kernel dropped events for want of space (reported once, then the
    // queue goes on). Anything else is not expected from this socket; it counts as a
    // loss too, so nothing cached is trusted while it lasts.
    out.push_back(ProcEvent{.kind = ProcEvent::kLost, .pid = 0, .tgid = 0});
    return errno == ENOBUFS;
  }
  if (from.nl_pid != 0) return true;  // not from the kernel: ignored
  std::size_t left = static_cast<std::size_t>(n);
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
    if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_NOOP) continue;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(cn_msg))) continue;
    cn_msg connector;
    std::memcpy(&connector, NLMSG_DATA(h), sizeof connector);
    if (connector.id.idx != CN_IDX_PROC || connector.id.val != CN_VAL_PROC) continue;
    // The event's fixed part up to the largest member used here (exit).
    constexpr std::size_t kNeeded =
        offsetof(proc_event, event_data) + sizeof(proc_event{}.event_data.exit);
    if (connector.len < kNeeded || h->nlmsg_len < NLMSG_LENGTH(sizeof(cn_msg) + kNeeded)) continue;
    proc_event event;
    std::memset(&event, 0, sizeof event);
    std::memcpy(&event, static_cast<const char*>(NLMSG_DATA(h)) + sizeof(cn_msg),
                std::min<std::size_t>(connector.len, sizeof event));
    if (event.what == proc_event::PROC_EVENT_FORK) {
      out.push_back(ProcEvent{.kind = ProcEvent::kFork,
                              .pid = event.event_data.fork.child_pid,
                              .tgid = event.event_data.fork.child_tgid});
    } else if (event.what == proc_event::PROC_EVENT_EXEC) {
      out.push_back(ProcEvent{.kind = ProcEvent::kExec,
                              .pid = event.event_data.exec.process_pid,
                              .tgid = event.event_data.exec.process_tgid});
    } else if (event.what == proc_event::PROC_EVENT_EXIT) {
      out.push_back(ProcEvent{.kind = ProcEvent::kExit,
                              .pid = event.event_data.exit.process_pid,
                              .tgid = event.event_data.exit.process_tgid});
    }
  }
  return true;
}

}  // namespace

sdk::Result<std::unique_ptr<ProcEvents>> ProcEvents::open(std::chrono::milliseconds proof_timeout) {
  const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (fd < 0) return std::unexpected(failure("socket", errno));
  std::unique_ptr<ProcEvents> events(new ProcEvents(fd));
  sockaddr_nl self{};
  self.nl_family = AF_NETLINK;
  self.nl_groups = CN_IDX_PROC;
  self.nl_pid = 0;  // the kernel picks a unique port id
  if (::bind(fd, reinterpret_cast<sockaddr*>(&self), sizeof self) != 0) {
    return std::unexpected(failure("bind", errno));
  }
  if (!send_control(fd, PROC_CN_MCAST_LISTEN)) return std::unexpected(failure("subscribe", errno));

  // The proof: a thread's exit, under the id this process knows it by.
  std::atomic<pid_t> probe{0};
  std::thread([&] { probe.store(::gettid()); }).join();
  const pid_t tid = probe.load();
  std::vector<ProcEvent> seen;
  const auto deadline = Clock::now() + proof_timeout;
  while (true) {
    bool more = true;
    while (more && Clock::now() < deadline) {
      seen.clear();
      more = read_one(fd, seen);
      for (const auto& e : seen) {
        if (e.kind == ProcEvent::kExit && e.pid == tid) return events;
      }
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    ::poll(&p, 1, static_cast<int>(left.count()) + 1);
  }
  return sdk::error(sdk::Code::kUnavailable,
                    "no exit event arrived for a thread of this process within " +
                        std::to_string(proof_timeout.count()) +
                        " ms (not in the initial pid and network namespaces, or no CAP_NET_ADMIN)");
}

ProcEvents::~ProcEvents() {
  send_control(fd_, PROC_CN_MCAST_IGNORE);
  ::close(fd_);
}

void ProcEvents::read_queued(std::vector<ProcEvent>& out) {
  while (read_one(fd_, out)) {
  }
}

}  // namespace leasefs::fs
