// Sessions over TLS (HTTPS).
#include "backend/http/session_impl.h"

namespace leasefs::backend::http {

std::shared_ptr<SessionBase> make_tls_session(SessionHost& host, std::uint64_t id,
                                              boost::asio::ip::tcp::socket socket,
                                              boost::asio::ssl::context& tls,
                                              std::string remote_address, bool draining) {
  return std::make_shared<Session<TlsStream>>(host, id, TlsStream(std::move(socket), tls),
                                              std::move(remote_address), draining);
}

}  // namespace leasefs::backend::http
