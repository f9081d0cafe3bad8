// Client connections over plain TCP (http://).
#include "backend/api/connection_impl.h"

namespace leasefs::backend::api {

std::unique_ptr<Connection> make_plain_connection() {
  return std::make_unique<BasicConnection<PlainStream>>();
}

}  // namespace leasefs::backend::api
