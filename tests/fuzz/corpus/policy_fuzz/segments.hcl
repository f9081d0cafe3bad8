path "secret/+/teamb" { capabilities = ["read"] }
path "secret/+/+/teamb" { capabilities = ["read"] }
path "secret/+/teams/*" { capabilities = ["list"] }
path "+/*" { capabilities = ["read"] }
path "foo/bar/+/ba*" { capabilities = ["update"] }
path "secret/zip-*" { capabilities = ["read", "sudo"] }
path "/leading" { capabilities = ["read"] }
