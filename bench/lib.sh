# Helpers the benchmark scripts share; sourced after they set `tmp` (their temp dir),
# `addr` (the server's http://host:port, before the first call) and define `die`.

# api METHOD PATH TOKEN [BODY]: prints the body; fails unless the status is 2xx.
api() {
  local method=$1 path=$2 token=$3 body=${4:-} status
  local args=(-sS -o "$tmp/api.body" -w '%{http_code}' -X "$method" "$addr/v1/$path")
  [[ -n $token ]] && args+=(-H "X-Vault-Token: $token")
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  status=$(curl "${args[@]}") || die "curl $method $path failed"
  [[ $status == 2* ]] || die "$method /v1/$path: HTTP $status: $(cat "$tmp/api.body")"
  cat "$tmp/api.body"
}

# json_field NAME < JSON: the first string value of "NAME" (no escapes).
json_field() {
  sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -n1
}
