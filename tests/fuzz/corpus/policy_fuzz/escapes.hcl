// strings with escapes
path "caf\u00e9/\x41\101/\"quoted\"/tab\there" { capabilities = ["read", ] }
path "emoji/\U0001F600" { capabilities = ["list"] },
