name = "legacy"
path "dev/*" = { policy = "sudo" }
path = {
  "prod/*" = { policy = "read", capabilities = ["update"] }
}
path "auth/approle/role/my-role/secret-id" {
  capabilities = ["create", "update"]
  min_wrapping_ttl = "1s"
  max_wrapping_ttl = 90
  comment = "wrapping is mandatory here"
}
/* values of every type */
path "types" {
  capabilities = ["update"]
  allowed_parameters = {
    "map" = [{"good" = "one"}]
    int = [1, -2, 0x10, 2.5e3]
    bool = [true, false]
  }
}
