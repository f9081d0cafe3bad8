path "a" {
  capabilities = ["read" "list"]
  capabilites = ["reed"]
  x = <<EOF
