// Client connections over TLS (https://).
#include "backend/api/connection_impl.h"

namespace leasefs::backend::api {

std::unique_ptr<Connection> make_tls_connection(boost::asio::ssl::context& context,
                                                std::string host, bool verify) {
  return std::make_unique<BasicConnection<TlsStream>>(context, std::move(host), verify);
}

}  // namespace leasefs::backend::api
