// Device options as Vault names them, leasefs's additions, and device path rules.
#include <gtest/gtest.h>

#include "backend/audit/device_config.h"

namespace leasefs::backend::audit {
namespace {

TEST(DeviceConfigTest, FileDefaults) {
  auto c = parse_device_config("file", {{"file_path", "/var/log/leasefs/audit.log"}});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->sink, SinkKind::kFile);
  EXPECT_EQ(c->mode, 0600u);
  EXPECT_TRUE(c->set_mode);
  EXPECT_TRUE(c->hmac_accessor);
  EXPECT_FALSE(c->log_raw);
  EXPECT_FALSE(c->elide_list_responses);
  EXPECT_EQ(c->prefix, "");
  EXPECT_EQ(c->write_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c->fsync, FsyncPolicy::kInterval);
}

TEST(DeviceConfigTest, FileOptions) {
  auto c = parse_device_config("file", {{"path", "/tmp/a.log"},
                                        {"mode", "0640"},
                                        {"hmac_accessor", "false"},
                                        {"log_raw", "1"},
                                        {"elide_list_responses", "T"},
                                        {"prefix", "leasefs: "},
                                        {"format", "json"},
                                        {"fsync", "always"},
                                        {"write_timeout", "250ms"}});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->file_path, "/tmp/a.log");
  EXPECT_EQ(c->mode, 0640u);
  EXPECT_FALSE(c->hmac_accessor);
  EXPECT_TRUE(c->log_raw);
  EXPECT_TRUE(c->elide_list_responses);
  EXPECT_EQ(c->prefix, "leasefs: ");
  EXPECT_EQ(c->fsync, FsyncPolicy::kAlways);
  EXPECT_EQ(c->write_timeout, std::chrono::milliseconds(250));
  auto keep = parse_device_config("file", {{"file_path", "/tmp/a.log"}, {"mode", "0000"}});
  ASSERT_TRUE(keep.has_value());
  EXPECT_FALSE(keep->set_mode);
}

TEST(DeviceConfigTest, FilePathSpecialValues) {
  auto out = parse_device_config("file", {{"file_path", "stdout"}});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->sink, SinkKind::kStdout);
  auto discard = parse_device_config("file", {{"file_path", "discard"}});
  ASSERT_TRUE(discard.has_value());
  EXPECT_EQ(discard->sink, SinkKind::kDiscard);
  auto std_type = parse_device_config("stdout", {});
  ASSERT_TRUE(std_type.has_value());
  EXPECT_EQ(std_type->sink, SinkKind::kStdout);
}

TEST(DeviceConfigTest, Socket) {
  auto c = parse_device_config("socket", {{"address", "127.0.0.1:9090"}});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->sink, SinkKind::kSocket);
  EXPECT_EQ(c->socket_type, "tcp");
  EXPECT_EQ(c->write_timeout, std::chrono::seconds(2));
  EXPECT_TRUE(parse_device_config("socket", {{"address", "[::1]:9090"}}).has_value());
  EXPECT_TRUE(parse_device_config("socket", {{"address", "logs.example:514"}}).has_value());
  auto unix_socket = parse_device_config(
      "socket", {{"address", "/run/audit.sock"}, {"socket_type", "unix"}, {"write_timeout", "5s"}});
  ASSERT_TRUE(unix_socket.has_value());
  EXPECT_EQ(unix_socket->write_timeout, std::chrono::seconds(5));
}

TEST(DeviceConfigTest, Rejections) {
  auto rejected = [](std::string_view type, std::map<std::string, std::string> options,
                     sdk::Code code = sdk::Code::kInvalidArgument) {
    auto c = parse_device_config(type, options);
    EXPECT_FALSE(c.has_value()) << type;
    if (!c) {
      EXPECT_EQ(c.error().code(), code) << c.error().message();
    }
  };
  rejected("file", {});
  rejected("file", {{"file_path", "relative.log"}});
  rejected("file", {{"file_path", "/a"}, {"mode", "0999"}});
  rejected("file", {{"file_path", "/a"}, {"mode", "rw"}});
  rejected("file", {{"file_path", "/a"}, {"hmac_accessor", "yes"}});
  rejected("file", {{"file_path", "/a"}, {"prefix", "a\nb"}});
  rejected("file", {{"file_path", "/a"}, {"fsync", "sometimes"}});
  rejected("file", {{"file_path", "/a"}, {"write_timeout", "0s"}});
  rejected("file", {{"file_path", "/a"}, {"write_timeout", "2h"}});
  rejected("file", {{"file_path", "/a"}, {"unknown_option", "x"}});
  rejected("file", {{"file_path", "/a"}, {"format", "jsonx"}}, sdk::Code::kUnimplemented);
  rejected("socket", {});
  rejected("socket", {{"address", "no-port"}});
  rejected("socket", {{"address", "h:99999"}});
  rejected("socket", {{"address", "h:1"}, {"socket_type", "udp"}});
  rejected("socket", {{"address", "h:1"}, {"file_path", "/a"}});
  rejected("syslog", {}, sdk::Code::kUnimplemented);
  rejected("carrier-pigeon", {});
}

TEST(DeviceConfigTest, OptionsFromJson) {
  auto o = options_from_json({{"file_path", "/a"}, {"log_raw", true}, {"n", 3}});
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ((*o)["log_raw"], "true");
  EXPECT_EQ((*o)["n"], "3");
  EXPECT_TRUE(options_from_json(nullptr)->empty());
  EXPECT_FALSE(options_from_json({{"x", {1, 2}}}).has_value());
  EXPECT_FALSE(options_from_json("x").has_value());
}

TEST(DeviceConfigTest, NormalizePath) {
  EXPECT_EQ(*normalize_device_path("file"), "file/");
  EXPECT_EQ(*normalize_device_path("/file/"), "file/");
  EXPECT_EQ(*normalize_device_path("team/a"), "team/a/");
  EXPECT_FALSE(normalize_device_path("").has_value());
  EXPECT_FALSE(normalize_device_path("/").has_value());
  EXPECT_FALSE(normalize_device_path("a/../b").has_value());
  EXPECT_FALSE(normalize_device_path("a//b").has_value());
  EXPECT_FALSE(normalize_device_path("a\nb").has_value());
}

}  // namespace
}  // namespace leasefs::backend::audit
