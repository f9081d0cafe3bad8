// Sessions over plain TCP (HTTP).
#include "backend/http/session_impl.h"

namespace leasefs::backend::http {

std::shared_ptr<SessionBase> make_plain_session(SessionHost& host, std::uint64_t id,
                                                boost::asio::ip::tcp::socket socket,
                                                std::string remote_address, bool draining) {
  return std::make_shared<Session<PlainStream>>(host, id, PlainStream(std::move(socket)),
                                                std::move(remote_address), draining);
}

}  // namespace leasefs::backend::http
