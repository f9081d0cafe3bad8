// The FUSE adapter and the daemon's wiring; see mount.h.
#define FUSE_USE_VERSION 312
#include "fs/mount.h"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "backend/sdk/log.h"
#include "backend/sdk/secure_buffer.h"
#include "fs/access_audit.h"
#include "fs/caller.h"
#include "fs/errno_map.h"
#include "fs/exit_codes.h"
#include "fs/fuse_loop.h"
#include "fs/mountinfo.h"
#include "fs/passthrough.h"
#include "fs/secret_source.h"
#include "fs/vault_client.h"

namespace leasefs::fs {

using nlohmann::json;

namespace {

constexpr std::string_view kLog = "mount";
constexpr fuse_ino_t kRootIno = FUSE_ROOT_ID;
// Lease files in .leasefs/leases/ get inode numbers above every static one.
constexpr fuse_ino_t kLeaseInoBase = fuse_ino_t{1} << 40;
// A secret file served through passthrough gets a new inode number (a "generation")
// when its content changes while handles on the old content are open: the kernel allows
// one backing file per inode. Generation g > 0 of static inode b is kGenerationBit | g << 32 | b.
constexpr fuse_ino_t kGenerationBit = fuse_ino_t{1} << 62;
constexpr fuse_ino_t kStaticInoMask = 0xffffffff;

fuse_ino_t static_ino(fuse_ino_t ino) {
  return (ino & kGenerationBit) != 0 ? ino & kStaticInoMask : ino;
}

std::uint32_t generation_of(fuse_ino_t ino) {
  return (ino & kGenerationBit) != 0 ? static_cast<std::uint32_t>((ino >> 32) & 0x3fffffff) : 0;
}

bool is_lease_ino(fuse_ino_t ino) {
  return ino >= kLeaseInoBase && (ino & kGenerationBit) == 0;
}

// Names that do not exist are remembered by the kernel this long (probe storms).
constexpr double kNegativeTimeout = 1.0;
// The tree is fixed for the life of the mount, so its names and directory attributes
// can be cached; secret files' attributes (size) cannot.
constexpr double kEntryTimeout = 60.0;

enum class Kind { kDir, kSecret, kControlDir, kStatus, kLeasesDir, kLeaseFile };

// One static node. Fixed after construction, so read without locks.
struct Node {
  Kind kind = Kind::kDir;
  fuse_ino_t parent = kRootIno;
  std::string name{};
  std::map<std::string, fuse_ino_t> children{};
  std::size_t file = 0;  // kSecret: index into config.files
  std::uint32_t mode = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

// One generation of a shared secret file served through passthrough: the content its
// backing file holds and the handles open on it (OPEN replied, RELEASE not yet seen:
// never fewer than the kernel counts).
struct Generation {
  std::shared_ptr<Content> content{};
  std::unique_ptr<BackingFile> backing{};
  int opens = 0;
};

struct FilePassthrough {
  std::mutex mu;
  std::uint32_t current = 0;  // the generation lookups name
  std::map<std::uint32_t, Generation> generations{};
};

// What an open file or directory holds.
struct Handle {
  Kind kind = Kind::kSecret;
  std::size_t file = 0;
  Opened opened{};
  // Nonzero: the kernel serves reads from the backing file registered under this id,
  // generation `generation`'s.
  std::int32_t backing_id = 0;
  std::uint32_t generation = 0;
  sdk::SecureBuffer text{};  // status and lease files: a snapshot taken at open
  std::vector<std::tuple<std::string, fuse_ino_t, std::uint32_t>> entries{};  // directories
};

std::string lease_file_name(const LeaseView& v) {
  std::string name = v.lease_id;
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return name;
}

std::string header_safe(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 1024)) {
    if (c < 0x20 || c >= 0x7f || c == '%') {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

class MountState {
 public:
  MountState(const MountConfig& config, std::string mountpoint, std::string host)
      : config_(config), mountpoint_(std::move(mountpoint)), host_(std::move(host)) {
    build_tree();
  }

  // Wiring done after the mount (threads must start after fuse_daemonize's fork).
  sdk::Result<void> start(std::unique_ptr<VaultClient> client) {
    client_ = std::move(client);
    std::string spool = config_.mount.spool_file;
    if (spool.empty()) {
      std::string name = mountpoint_;
      for (char& c : name) {
        if (c == '/') c = '_';
      }
      spool = "/var/spool/leasefs/access-events" + name + ".jsonl";
    }
    auditor_ = std::make_unique<AccessAuditor>(*client_, spool, host_, mountpoint_);
    source_ = std::make_unique<SecretSource>(
        config_, *client_, sdk::SystemClock::instance(),
        SecretSource::Listener{.on_end = [this](const LeaseView& v) { on_lease_end(v); }});
    LEASEFS_TRY(client_->start());
    source_->start();
    auditor_->start();
    return {};
  }

  void stop() {
    stopping_ = true;
    if (source_) {
      source_->shutdown(config_.mount.revoke_on_exit);
      auto c = source_->counters();
      if (config_.mount.revoke_on_exit) {
        sdk::log_info(kLog, "revoke_on_exit: " + std::to_string(c.revoked) + " leases revoked");
      }
    }
    if (auditor_) auditor_->stop();
    if (client_) client_->stop();
    for (auto& p : passthrough_) {
      if (!p) continue;
      std::lock_guard lock(p->mu);
      p->generations.clear();  // wipes and unregisters the backing files
    }
  }

  // Before the loop starts: shared files may be served through passthrough once the
  // kernel agrees at INIT.
  void set_session(fuse_session* se, bool passthrough) {
    session_ = se;
    if (!passthrough) return;
    passthrough_.resize(config_.files.size());
    for (std::size_t i = 0; i < config_.files.size(); ++i) {
      if (config_.files[i].share == Share::kShared) {
        passthrough_[i] = std::make_unique<FilePassthrough>();
      }
    }
  }

  // ---- FUSE operations ----
  void lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    const Node* p = node(parent);
    if (p == nullptr) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    fuse_entry_param e{};
    if (p->kind == Kind::kLeasesDir) {
      for (const auto& v : source_->live()) {
        if (!v.lease_id.empty() && lease_file_name(v) == name) {
          e.ino = kLeaseInoBase + v.serial;
          fill_lease_attr(v, e.attr);
          fuse_reply_entry(req, &e);
          return;
        }
      }
      fuse_reply_err(req, ENOENT);  // not cached: leases come and go
      return;
    }
    auto it = p->children.find(name);
    if (it == p->children.end()) {
      e.ino = 0;
      e.entry_timeout = kNegativeTimeout;
      fuse_reply_entry(req, &e);
      return;
    }
    e.ino = it->second;
    if (nodes_[it->second].kind == Kind::kSecret) e.ino = current_ino(nodes_[it->second].file);
    fill_attr(e.ino, nullptr, e.attr);
    e.entry_timeout = kEntryTimeout;
    e.attr_timeout = attr_timeout(it->second);
    fuse_reply_entry(req, &e);
  }

  void getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    struct stat st {};
    if (is_lease_ino(ino)) {
      auto v = source_->find(ino - kLeaseInoBase);
      if (!v) {
        fuse_reply_err(req, ENOENT);
        return;
      }
      fill_lease_attr(*v, st);
      fuse_reply_attr(req, &st, 0);
      return;
    }
    if (node(ino) == nullptr) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    fill_attr(ino, fi, st);
    fuse_reply_attr(req, &st, attr_timeout(ino));
  }

  void opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const Node* n = node(ino);
    if (n == nullptr) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    auto h = std::make_unique<Handle>();
    h->kind = n->kind;
    h->entries.emplace_back(".", ino, S_IFDIR);
    h->entries.emplace_back("..", n->parent, S_IFDIR);
    if (n->kind == Kind::kLeasesDir) {
      for (const auto& v : source_->live()) {
        if (v.lease_id.empty()) continue;
        h->entries.emplace_back(lease_file_name(v), kLeaseInoBase + v.serial, S_IFREG);
      }
    } else {
      for (const auto& [name, child] : n->children) {
        h->entries.emplace_back(name, child, nodes_[child].mode & S_IFMT);
      }
    }
    fi->fh = reinterpret_cast<std::uint64_t>(h.release());
    fuse_reply_open(req, fi);
  }

  void readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    auto* h = reinterpret_cast<Handle*>(fi->fh);
    std::vector<char> buf(size);
    std::size_t used = 0;
    for (std::size_t i = static_cast<std::size_t>(off); i < h->entries.size(); ++i) {
      const auto& [name, ino, type] = h->entries[i];
      struct stat st {};
      st.st_ino = ino;
      st.st_mode = type;
      std::size_t n = fuse_add_direntry(req, buf.data() + used, size - used, name.c_str(), &st,
                                        static_cast<off_t>(i + 1));
      if (n > size - used) break;
      used += n;
    }
    fuse_reply_buf(req, buf.data(), used);
  }

  void releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    delete reinterpret_cast<Handle*>(fi->fh);
    fuse_reply_err(req, 0);
  }

  void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC) != 0) {
      fuse_reply_err(req, EROFS);
      return;
    }
    auto h = std::make_unique<Handle>();
    if (is_lease_ino(ino)) {
      auto v = source_->find(ino - kLeaseInoBase);
      if (!v) {
        fuse_reply_err(req, ENOENT);
        return;
      }
      h->kind = Kind::kLeaseFile;
      h->text = sdk::SecureBuffer::copy_of(std::string_view(lease_text(*v)));
    } else {
      const Node* n = node(ino);
      if (n == nullptr) {
        fuse_reply_err(req, ENOENT);
        return;
      }
      h->kind = n->kind;
      if (n->kind == Kind::kStatus) {
        h->text = sdk::SecureBuffer::copy_of(std::string_view(status_text()));
      } else if (n->kind == Kind::kSecret) {
        h->file = n->file;
        if (stale_generation(n->file, generation_of(ino))) {
          // The caller's path names an inode whose backing file holds other content:
          // ESTALE makes the kernel look the name up again (LOOKUP_REVAL) and retry the
          // open on the current inode. Nothing was read, so nothing is audited.
          ++stale_retries_;
          fuse_reply_err(req, ESTALE);
          return;
        }
        int err = open_secret(req, n->file, *h);
        if (err == 0) err = attach_backing(generation_of(ino), *h);
        if (err != 0) {
          std::vector<fuse_ino_t> resized = resized_files(h->opened);
          if (h->opened.record) source_->release(h->opened);
          fuse_reply_err(req, err);
          invalidate_attributes(resized);
          return;
        }
      } else {
        fuse_reply_err(req, EISDIR);
        return;
      }
    }
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fi->noflush = 1;
    fi->fh = reinterpret_cast<std::uint64_t>(h.release());
    auto* handle = reinterpret_cast<Handle*>(fi->fh);
    std::vector<fuse_ino_t> resized = resized_files(handle->opened);
    const int replied = handle->backing_id != 0
                            ? reply_open_passthrough(req, fi->fh, handle->backing_id)
                            : fuse_reply_open(req, fi);
    if (replied != 0) {
      // The opener went away (interrupted); give the handle back.
      release_handle(handle);
    }
    invalidate_attributes(resized);
  }

  void read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    auto* h = reinterpret_cast<Handle*>(fi->fh);
    if (h->kind == Kind::kSecret) {
      ++reads_;
      // Replies straight from the content (no copy to wipe); EIO once the lease ended
      // and took the bytes with it.
      bool live = h->opened.content->with_bytes([&](std::string_view bytes) {
        std::size_t start = std::min(static_cast<std::size_t>(off), bytes.size());
        fuse_reply_buf(req, bytes.data() + start, std::min(size, bytes.size() - start));
      });
      if (!live) fuse_reply_err(req, EIO);
      return;
    }
    auto view = h->text.view();
    std::size_t start = std::min(static_cast<std::size_t>(off), view.size());
    std::size_t n = std::min(size, view.size() - start);
    fuse_reply_buf(req, view.data() + start, n);
  }

  void release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    release_handle(reinterpret_cast<Handle*>(fi->fh));
    fuse_reply_err(req, 0);
  }

  void getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
    auto attrs = xattrs(ino);
    auto it = attrs.find(name);
    if (it == attrs.end()) {
      fuse_reply_err(req, ENODATA);
      return;
    }
    reply_xattr(req, it->second, size);
  }

  void listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
    std::string names;
    for (const auto& [name, value] : xattrs(ino)) {
      names += name;
      names += '\0';
    }
    reply_xattr(req, names, size);
  }

  void statfs(fuse_req_t req) {
    struct statvfs st {};
    st.f_bsize = 4096;
    st.f_frsize = 4096;
    st.f_namemax = 255;
    st.f_files = nodes_.size();
    fuse_reply_statfs(req, &st);
  }

 private:
  const Node* node(fuse_ino_t ino) const {
    ino = static_ino(ino);
    if (ino == 0 || ino >= nodes_.size()) return nullptr;
    return &nodes_[ino];
  }

  fuse_ino_t add_node(Node n) {
    nodes_.push_back(std::move(n));
    return nodes_.size() - 1;
  }

  void build_tree() {
    nodes_.resize(1);  // ino 0 is unused
    std::uint32_t uid = config_.mount.uid, gid = config_.mount.gid;
    add_node(Node{.kind = Kind::kDir,
                  .parent = kRootIno,
                  .name = "",
                  .children = {},
                  .file = 0,
                  .mode = S_IFDIR | 0755,
                  .uid = uid,
                  .gid = gid});
    for (std::size_t i = 0; i < config_.files.size(); ++i) {
      const FileSpec& f = config_.files[i];
      fuse_ino_t dir = kRootIno;
      std::size_t start = 0;
      while (true) {
        std::size_t slash = f.path.find('/', start);
        std::string part =
            f.path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        if (slash == std::string::npos) {
          fuse_ino_t ino = add_node(Node{.kind = Kind::kSecret,
                                         .parent = dir,
                                         .name = part,
                                         .children = {},
                                         .file = i,
                                         .mode = S_IFREG | f.mode,
                                         .uid = f.uid,
                                         .gid = f.gid});
          nodes_[dir].children.emplace(part, ino);
          file_inos_.push_back(ino);
          break;
        }
        auto it = nodes_[dir].children.find(part);
        if (it == nodes_[dir].children.end()) {
          fuse_ino_t ino = add_node(Node{.kind = Kind::kDir,
                                         .parent = dir,
                                         .name = part,
                                         .children = {},
                                         .file = 0,
                                         .mode = S_IFDIR | 0755,
                                         .uid = uid,
                                         .gid = gid});
          nodes_[dir].children.emplace(part, ino);
          dir = ino;
        } else {
          dir = it->second;
        }
        start = slash + 1;
      }
    }
    control_ = add_node(Node{.kind = Kind::kControlDir,
                             .parent = kRootIno,
                             .name = ".leasefs",
                             .children = {},
                             .file = 0,
                             .mode = S_IFDIR | 0755,
                             .uid = uid,
                             .gid = gid});
    nodes_[kRootIno].children.emplace(".leasefs", control_);
    fuse_ino_t status = add_node(Node{.kind = Kind::kStatus,
                                      .parent = control_,
                                      .name = "status",
                                      .children = {},
                                      .file = 0,
                                      .mode = S_IFREG | 0444,
                                      .uid = uid,
                                      .gid = gid});
    nodes_[control_].children.emplace("status", status);
    leases_dir_ = add_node(Node{.kind = Kind::kLeasesDir,
                                .parent = control_,
                                .name = "leases",
                                .children = {},
                                .file = 0,
                                .mode = S_IFDIR | 0755,
                                .uid = uid,
                                .gid = gid});
    nodes_[control_].children.emplace("leases", leases_dir_);
  }

  double attr_timeout(fuse_ino_t ino) const {
    const Node* n = node(ino);
    // Secret files' attributes are cached too (the kernel's permission checks need
    // them on every open); a new response or a lease's end invalidates them.
    return n != nullptr && (n->kind == Kind::kDir || n->kind == Kind::kControlDir ||
                            n->kind == Kind::kSecret)
               ? kEntryTimeout
               : 0.0;
  }

  void fill_attr(fuse_ino_t ino, fuse_file_info* fi, struct stat& st) const {
    const Node& n = nodes_[static_ino(ino)];
    st.st_ino = ino;
    st.st_mode = n.mode;
    st.st_uid = n.uid;
    st.st_gid = n.gid;
    st.st_nlink = (n.mode & S_IFMT) == S_IFDIR ? 2 : 1;
    st.st_blksize = 4096;
    st.st_atim = st.st_mtim = st.st_ctim = start_time_;
    if (n.kind == Kind::kSecret) {
      // The size of what a read will return: the open handle's bytes (fstat), else the
      // cached lease's, else 0 (nothing is fetched to answer a stat).
      if (fi != nullptr && fi->fh != 0) {
        st.st_size = static_cast<off_t>(reinterpret_cast<Handle*>(fi->fh)->opened.content->size());
      } else {
        st.st_size = static_cast<off_t>(source_->cached_size(n.file));
      }
    } else if (n.kind == Kind::kStatus) {
      if (fi != nullptr && fi->fh != 0) {
        st.st_size = static_cast<off_t>(reinterpret_cast<Handle*>(fi->fh)->text.size());
      }
    }
    st.st_blocks = (st.st_size + 511) / 512;
  }

  void fill_lease_attr(const LeaseView& v, struct stat& st) const {
    st.st_ino = kLeaseInoBase + v.serial;
    st.st_mode = S_IFREG | 0444;
    st.st_nlink = 1;
    st.st_uid = config_.mount.uid;
    st.st_gid = config_.mount.gid;
    st.st_size = static_cast<off_t>(lease_text(v).size());
    st.st_atim = st.st_mtim = st.st_ctim = start_time_;
  }

  std::string lease_text(const LeaseView& v) const {
    json files = json::array();
    for (auto i : v.files) files.push_back(config_.files[i].path);
    json j = {{"lease_id", v.lease_id},
              {"source", v.source},
              {"share", v.per_open ? "per-open" : "shared"},
              {"files", files},
              {"ttl", v.ttl_left},
              {"expires", sdk::rfc3339(v.expires)},
              {"renewable", v.renewable}};
    return j.dump(2) + "\n";
  }

  std::string status_text() const {
    auto h = client_->health();
    auto c = source_->counters();
    auto a = auditor_->counters();
    std::size_t live = 0, per_open = 0;
    for (const auto& v : source_->live()) {
      if (v.lease_id.empty()) continue;
      ++live;
      if (v.per_open) ++per_open;
    }
    json j = {
        {"mount", mountpoint_},
        {"server",
         {{"address", config_.server.address},
          {"reachable", h.reachable},
          {"last_error", h.last_error}}},
        {"token", {{"ttl", h.token_ttl}, {"renewable", h.token_renewable}}},
        {"files", config_.files.size()},
        {"leases", {{"live", live}, {"shared", live - per_open}, {"per_open", per_open}}},
        {"process_events", process_events_state()},
        {"passthrough",
         {{"enabled", passthrough_enabled()},
          {"opens", passthrough_opens_.load()},
          {"stale_retries", stale_retries_.load()}}},
        {"reads", reads_.load()},
        {"opens",
         {{"allowed", opens_allowed_.load()},
          {"denied", opens_denied_.load()},
          {"failed", opens_failed_.load()}}},
        {"backend",
         {{"fetches", c.fetches},
          {"fetch_errors", c.fetch_errors},
          {"renewals", c.renewals},
          {"renewal_errors", c.renewal_errors},
          {"expired", c.expired},
          {"revoked", c.revoked},
          {"revoked_on_server", c.revoked_on_server}}},
        {"access_events",
         {{"recorded", a.recorded},
          {"sent", a.sent},
          {"spooled", a.spooled},
          {"rejected", a.rejected},
          {"pending", a.pending},
          {"endpoint_missing", a.endpoint_missing}}},
    };
    return j.dump(2) + "\n";
  }

  std::map<std::string, std::string> xattrs(fuse_ino_t ino) const {
    std::map<std::string, std::string> out;
    const Node* n = node(ino);
    if (n == nullptr || n->kind != Kind::kSecret) return out;
    const FileSpec& f = config_.files[n->file];
    out["user.leasefs.source"] = f.secret;
    out["user.leasefs.share"] = f.share == Share::kShared ? "shared" : "per-open";
    if (auto v = source_->shared_view(n->file); v && f.share == Share::kShared) {
      out["user.leasefs.lease_id"] = v->lease_id;
      out["user.leasefs.expires"] = sdk::rfc3339(v->expires);
      out["user.leasefs.ttl"] = std::to_string(v->ttl_left);
      out["user.leasefs.renewable"] = v->renewable ? "true" : "false";
    }
    return out;
  }

  static void reply_xattr(fuse_req_t req, const std::string& value, size_t size) {
    if (size == 0) {
      fuse_reply_xattr(req, value.size());
    } else if (size < value.size()) {
      fuse_reply_err(req, ERANGE);
    } else {
      fuse_reply_buf(req, value.data(), value.size());
    }
  }

  // Returns 0 and fills `h`, or an errno. Records the access event either way.
  int open_secret(fuse_req_t req, std::size_t index, Handle& h) {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    const FileSpec& f = config_.files[index];
    Caller caller = describe_caller(ctx->uid, ctx->gid, ctx->pid, !f.allow.gids.empty(),
                                    !f.allow.cgroups.empty(), !f.allow.exe.empty());
    AccessEvent ev{.time = std::chrono::system_clock::now(),
                   .file = f.path,
                   .path = f.secret,
                   .lease_id = {},
                   .pid = caller.pid,
                   .exe = caller.exe,
                   .uid = caller.uid,
                   .gid = caller.gid,
                   .cgroup = caller.cgroup,
                   .result = "allowed",
                   .error = {}};
    if (std::string why = check_allow(f.allow, caller); !why.empty()) {
      ev.result = "denied";
      ev.error = why;
      auditor_->record(std::move(ev));
      ++opens_denied_;
      return EACCES;
    }
    auto identity = [&] {
      return Headers{
          {"X-Leasefs-Host", header_safe(host_)},
          {"X-Leasefs-Mount", header_safe(mountpoint_)},
          {"X-Leasefs-File", header_safe(f.path)},
          {"X-Leasefs-Caller-Pid", std::to_string(caller.pid)},
          {"X-Leasefs-Caller-Exe", header_safe(caller.exe)},
          {"X-Leasefs-Caller-Uid", std::to_string(caller.uid)},
          {"X-Leasefs-Caller-Gid", std::to_string(caller.gid)},
          {"X-Leasefs-Caller-Cgroup", header_safe(caller.cgroup)},
      };
    };
    auto opened = source_->open(index, std::function<Headers()>(identity));
    if (!opened) {
      ev.result = "error";
      ev.error = opened.error().message();
      auditor_->record(std::move(ev));
      ++opens_failed_;
      sdk::log_warn(kLog, f.path + ": " + opened.error().message());
      return errno_for(opened.error().code());
    }
    ev.lease_id = opened->record->display_id();
    auditor_->record(std::move(ev));
    ++opens_allowed_;
    h.opened = std::move(*opened);
    return 0;
  }

  // The files of a newly fetched response: they have new sizes.
  std::vector<fuse_ino_t> resized_files(const Opened& opened) const {
    std::vector<fuse_ino_t> out;
    if (!opened.fresh) return out;
    for (const auto& [index, content] : opened.record->contents) out.push_back(current_ino(index));
    return out;
  }

  // After the reply to the open: attributes only (offset -1), which takes no lock the
  // kernel could be holding for that request.
  void invalidate_attributes(const std::vector<fuse_ino_t>& inos) {
    if (session_ == nullptr) return;
    for (auto ino : inos) fuse_lowlevel_notify_inval_inode(session_, ino, -1, 0);
  }

  bool passthrough_enabled() const {
    return !passthrough_.empty() && passthrough_negotiated() && !passthrough_refused_.load();
  }

  FilePassthrough* file_passthrough(std::size_t index) const {
    if (!passthrough_enabled() || index >= passthrough_.size()) return nullptr;
    return passthrough_[index].get();
  }

  // The inode lookups give file `index`: its current generation's.
  fuse_ino_t current_ino(std::size_t index) const {
    const fuse_ino_t base = file_inos_[index];
    if (index >= passthrough_.size() || !passthrough_[index]) return base;
    FilePassthrough& p = *passthrough_[index];
    std::lock_guard lock(p.mu);
    return p.current == 0 ? base : kGenerationBit | (fuse_ino_t{p.current} << 32) | base;
  }

  // Whether an open of generation `generation` of file `index` must be retried on
  // another inode: it is not the current one, or its backing file holds content whose
  // lease ended while handles on it are still open (then the file moves to a new one).
  bool stale_generation(std::size_t index, std::uint32_t generation) {
    FilePassthrough* p = file_passthrough(index);
    if (p == nullptr) return false;
    std::lock_guard lock(p->mu);
    if (generation != p->current) return true;
    auto it = p->generations.find(generation);
    if (it == p->generations.end() || it->second.opens == 0 || !it->second.content ||
        !it->second.content->gone()) {
      return false;
    }
    new_generation(*p);
    return true;
  }

  // Makes a new current generation (the kernel may still hold inodes of older ones).
  static void new_generation(FilePassthrough& p) {
    std::uint32_t next = p.current + 1;
    if (!p.generations.empty()) next = std::max(next, p.generations.rbegin()->first + 1);
    p.current = next & 0x3fffffff;
  }

  // After a successful open_secret: serves `h` through generation `generation`'s
  // backing file when passthrough is on for its file (h.backing_id). Returns 0, or
  // ESTALE when the generation's backing holds other content that open handles still
  // read (the file moves to a new generation and the kernel retries the open there).
  // When no backing file can be made, the handle is served by the daemon's reads.
  int attach_backing(std::uint32_t generation, Handle& h) {
    FilePassthrough* p = file_passthrough(h.file);
    if (p == nullptr) return 0;
    std::lock_guard lock(p->mu);
    if (generation != p->current) {  // moved meanwhile
      ++stale_retries_;
      return ESTALE;
    }
    Generation& g = p->generations[generation];
    if (g.backing == nullptr || g.content != h.opened.content) {
      if (g.opens > 0) {
        new_generation(*p);
        ++stale_retries_;
        return ESTALE;
      }
      // No handle reads the old backing file: replace it.
      g.backing.reset();
      g.content = h.opened.content;
      std::optional<sdk::Result<std::unique_ptr<BackingFile>>> made;
      h.opened.content->with_bytes([&](std::string_view bytes) {
        made = BackingFile::create(fuse_session_fd(session_), bytes);
      });
      if (!made || !*made) {
        // This inode has no passthrough handle (opens is 0), so its reads can be the
        // daemon's. No backing file made: the content ended meanwhile (reads get EIO).
        if (made) backing_failed(made->error());
        p->generations.erase(generation);
        return 0;
      }
      g.backing = std::move(**made);
      backing_made_ = true;
    }
    ++g.opens;
    ++passthrough_opens_;
    h.generation = generation;
    h.backing_id = g.backing->id();
    return 0;
  }

  // The kernel refused a backing file, or one could not be made. Before any was made
  // (no CAP_SYS_ADMIN, say) passthrough is off from then on; after, other inodes have
  // passthrough handles that a later open of theirs must match, so only this open does
  // without.
  void backing_failed(const sdk::Status& why) {
    if (!backing_made_.load() && why.code() == sdk::Code::kUnavailable) {
      if (!passthrough_refused_.exchange(true)) {
        sdk::log_warn(kLog, why.message() + "; reads go through the daemon");
      }
      return;
    }
    sdk::log_warn(kLog, why.message() + "; this open's reads go through the daemon");
  }

  // The handle closed (or its open reply failed): give its lease and generation back.
  void release_handle(Handle* h) {
    if (h->backing_id != 0) {
      FilePassthrough& p = *passthrough_[h->file];
      std::lock_guard lock(p.mu);
      auto it = p.generations.find(h->generation);
      if (it != p.generations.end() && --it->second.opens == 0 &&
          (h->generation != p.current || it->second.content->gone())) {
        p.generations.erase(it);  // wipes and unregisters its backing file
      }
    }
    if (h->opened.record) source_->release(h->opened);
    delete h;
  }

  // Keeper thread, at a lease's end: backing files holding its (wiped) content are
  // wiped too; those no handle reads go.
  void wipe_ended_backings(std::size_t index) {
    if (index >= passthrough_.size() || !passthrough_[index]) return;
    FilePassthrough& p = *passthrough_[index];
    std::lock_guard lock(p.mu);
    for (auto it = p.generations.begin(); it != p.generations.end();) {
      Generation& g = it->second;
      if (g.content && g.content->gone()) {
        if (g.opens == 0) {
          it = p.generations.erase(it);
          continue;
        }
        if (g.backing) g.backing->wipe();
      }
      ++it;
    }
  }

  // Keeper thread: drop the kernel's view of the files and of the lease file.
  void on_lease_end(const LeaseView& v) {
    if (session_ == nullptr || stopping_) return;
    for (auto index : v.files) {
      wipe_ended_backings(index);
      fuse_lowlevel_notify_inval_inode(session_, current_ino(index), 0, 0);
    }
    if (!v.lease_id.empty()) {
      std::string name = lease_file_name(v);
      fuse_lowlevel_notify_delete(session_, leases_dir_, kLeaseInoBase + v.serial, name.c_str(),
                                  name.size());
    }
  }

  const MountConfig& config_;
  std::string mountpoint_;
  std::string host_;
  std::vector<Node> nodes_{};
  std::vector<fuse_ino_t> file_inos_{};  // config file index -> inode
  fuse_ino_t control_ = 0;
  fuse_ino_t leases_dir_ = 0;
  timespec start_time_{::time(nullptr), 0};
  fuse_session* session_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<VaultClient> client_{};
  std::unique_ptr<AccessAuditor> auditor_{};
  std::unique_ptr<SecretSource> source_{};
  std::atomic<std::uint64_t> opens_allowed_{0}, opens_denied_{0}, opens_failed_{0};
  // Per config file index; set for shared files when passthrough is configured.
  std::vector<std::unique_ptr<FilePassthrough>> passthrough_{};
  std::atomic<bool> passthrough_refused_{false};  // the kernel refused the first backing file
  std::atomic<bool> backing_made_{false};
  std::atomic<std::uint64_t> passthrough_opens_{0}, stale_retries_{0}, reads_{0};
};

MountState* state(fuse_req_t req) {
  return static_cast<MountState*>(fuse_req_userdata(req));
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops{};
  ops.lookup = [](fuse_req_t r, fuse_ino_t p, const char* n) { state(r)->lookup(r, p, n); };
  ops.getattr = [](fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { state(r)->getattr(r, i, fi); };
  ops.opendir = [](fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { state(r)->opendir(r, i, fi); };
  ops.readdir = [](fuse_req_t r, fuse_ino_t i, size_t s, off_t o, fuse_file_info* fi) {
    state(r)->readdir(r, i, s, o, fi);
  };
  ops.releasedir = [](fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) {
    state(r)->releasedir(r, i, fi);
  };
  ops.open = [](fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { state(r)->open(r, i, fi); };
  ops.read = [](fuse_req_t r, fuse_ino_t i, size_t s, off_t o, fuse_file_info* fi) {
    state(r)->read(r, i, s, o, fi);
  };
  ops.release = [](fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { state(r)->release(r, i, fi); };
  ops.getxattr = [](fuse_req_t r, fuse_ino_t i, const char* n, size_t s) {
    state(r)->getxattr(r, i, n, s);
  };
  ops.listxattr = [](fuse_req_t r, fuse_ino_t i, size_t s) { state(r)->listxattr(r, i, s); };
  ops.statfs = [](fuse_req_t r, fuse_ino_t) { state(r)->statfs(r); };
  return ops;
}

// No core dumps, no ptrace by others, memory never swapped (secrets live in it).
void harden() {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
  if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0) {
    sdk::log_warn(kLog, std::string("mlockall failed (") + std::strerror(errno) +
                            "); secrets may be swapped out");
  }
}

// A leasefs daemon that died without unmounting leaves a dead mount: every request to
// it gives ENOTCONN ("Transport endpoint is not connected"). A restarted daemon
// (systemd's Restart=, the volume plugin) detaches it and mounts afresh. statfs always
// reaches the daemon (stat may be answered from the kernel's attribute cache), so it
// tells a dead mount from a live one; a live leasefs mount is not mounted over.
// Returns false, having logged why, when the mountpoint cannot be used.
bool clear_mountpoint(const std::string& mountpoint) {
  std::string path = mountpoint;
  if (path.empty() || path.front() != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr) return true;
    path = std::string(cwd) + "/" + path;
  }
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (!is_leasefs_mount(path)) return true;
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) == 0 || errno != ENOTCONN) {
    sdk::log_error(kLog, path + ": a running leasefs daemon is already mounted here");
    return false;
  }
  if (::umount2(path.c_str(), MNT_DETACH) != 0) {
    sdk::log_error(kLog, path + ": a dead leasefs mount is in the way and cannot be detached (" +
                             std::strerror(errno) + "); run: fusermount3 -u " + path);
    return false;
  }
  sdk::log_warn(kLog, path + ": detached a dead leasefs mount left by a daemon that did not exit "
                             "cleanly");
  return true;
}

}  // namespace

int run_mount(const MountConfig& config, const RunOptions& options) {
  // Opened before anything else (a bad path is reported on the terminal) and before the
  // daemon changes to "/" (a relative path means the working directory at start).
  int log_fd = -1;
  if (!options.log_file.empty()) {
    log_fd = ::open(options.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log_fd < 0) {
      sdk::log_error(kLog, "--log-file: cannot open " + options.log_file + ": " +
                               std::strerror(errno));
      return kMountUsage;
    }
  }
  struct LogFd {
    int& fd;
    ~LogFd() {
      if (fd >= 0) ::close(fd);
    }
  } log_fd_guard{log_fd};
  if (!clear_mountpoint(options.mountpoint)) return kMountFailed;
  struct stat st {};
  const int stat_rc = ::stat(options.mountpoint.c_str(), &st);
  if (stat_rc != 0 || !S_ISDIR(st.st_mode)) {
    const std::string why = stat_rc != 0 ? std::strerror(errno) : "not a directory";
    sdk::log_error(kLog, options.mountpoint + ": cannot mount here: " + why);
    return kMountFailed;
  }
  char real[PATH_MAX];
  std::string mountpoint =
      ::realpath(options.mountpoint.c_str(), real) != nullptr ? real : options.mountpoint;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);

  auto client = VaultClient::create(config.server);
  if (!client) {
    sdk::log_error(kLog, client.error().message());
    return kMountConfig;
  }

  harden();
  MountState mount_state(config, mountpoint, host);
  fuse_lowlevel_ops ops = make_ops();
  std::string opts = "fsname=leasefs,subtype=leasefs,default_permissions,ro";
  if (config.mount.allow_other) opts += ",allow_other";
  std::vector<std::string> argv_s = {"leasefs", "-o", opts};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, &mount_state);
  fuse_opt_free_args(&args);  // what option parsing left there (LeakSanitizer saw it)
  if (se == nullptr) {
    sdk::log_error(kLog, "cannot create the FUSE session");
    return kMountFailed;
  }
  if (fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, mountpoint.c_str()) != 0) {
    sdk::log_error(kLog, mountpoint + ": mount failed (is /dev/fuse usable, and are you root?)");
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    return kMountFailed;
  }
  // libfuse ends the session on SIGHUP as on SIGTERM; a HUP sent to every leasefs
  // process (a careless logrotate script) must not unmount a host's secrets.
  ::signal(SIGHUP, SIG_IGN);
  if (config.mount.passthrough) {
    if (auto hooked = negotiate_passthrough(se); !hooked) {
      sdk::log_warn(kLog, hooked.error().message() + "; reads go through the daemon");
    }
  }
  mount_state.set_session(se, config.mount.passthrough);
  fuse_daemonize(options.foreground ? 1 : 0);
  if (log_fd >= 0) {
    // From here on every log line (written to fd 2) goes to the file.
    ::dup2(log_fd, STDERR_FILENO);
  }

  // Helper threads must not take SIGTERM/SIGINT: the FUSE loop's threads handle them.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  // After fuse_daemonize: the events name processes by pid, and the proof that they
  // arrive is made from the process that will use them.
  if (std::string why = watch_process_events(); !why.empty()) {
    sdk::log_info(kLog, "process events unavailable (" + why +
                            "); the caller's executable is read from /proc on every open");
  }
  auto started = mount_state.start(std::move(*client));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!started) {
    sdk::log_error(kLog, started.error().message());
    mount_state.stop();
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    return kMountAuth;
  }
  sdk::log_info(kLog, "mounted " + std::to_string(config.files.size()) + " files at " + mountpoint +
                          " from " + config.server.address);
  sd_notify(0, "READY=1\nSTATUS=mounted");

  const int rc = run_fuse_loop(se);

  sd_notify(0, "STOPPING=1");
  sdk::log_info(kLog, "unmounting " + mountpoint);
  mount_state.stop();
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  if (rc != 0) {
    // run_fuse_loop has logged the cause (reading /dev/fuse, or setting up its threads).
    sdk::log_error(kLog, std::string("the FUSE session failed: ") + std::strerror(-rc));
    return kMountError;
  }
  return kMountOk;
}

}  // namespace leasefs::fs
