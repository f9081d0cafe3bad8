# Broad access to secret/, one path denied, one path with parameter rules.
path "secret/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}

path "secret/super-secret" {
  capabilities = ["deny"]
}

path "secret/restricted" {
  capabilities = ["create"]
  allowed_parameters = {
    "foo" = []
    "bar" = ["zip", "zap"]
  }
  denied_parameters = {
    "baz" = ["bad*", "*worse"]
  }
  required_parameters = ["foo"]
}
